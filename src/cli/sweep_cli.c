/* cli/sweep_cli.c — `nabla sweep`: the command line of sweeps.
 *
 *   nabla sweep SWEEP [--out DIR] [--jobs N] [--dry-run] [--quiet]
 *   nabla sweep --resume DIR [--jobs N] [--quiet]
 *   mpirun -n K nabla sweep ...    rank 0 hands out cells, ranks 1..K-1 run them
 *
 * Exit status: 0 every cell finished; 10 + N when N cells failed or
 * diverged (N capped at 100); 2 when the sweep could not run (a bad command
 * line, a bad sweep file, a directory in use).  docs/sweeps.md. */
#include <config.h>

#include <errno.h>
#include <limits.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "cli/cli.h"

#define EXIT_CANNOT 2
#define ESC(s) nb_error_escape((char[128]){ 0 }, 128, (s), (size_t)-1, 80)

typedef struct args {
    const char *sweep, *out, *resume;
    size_t jobs;
    int dry, quiet;
} args;

static int parse_args(int argc, char **argv, args *a, char *msg, size_t len)
{
    memset(a, 0, sizeof *a);
    for (int i = 0; i < argc; i++) {
        const char *s = argv[i];
        int has = i + 1 < argc;
        if (strcmp(s, "--dry-run") == 0) {
            a->dry = 1;
        } else if (strcmp(s, "--quiet") == 0) {
            a->quiet = 1;
        } else if (strcmp(s, "--out") == 0 && has) {
            a->out = argv[++i];
        } else if (strcmp(s, "--resume") == 0 && has) {
            a->resume = argv[++i];
        } else if (strcmp(s, "--jobs") == 0 && has) {
            char *end;
            errno = 0;
            const char *v = argv[++i];
            unsigned long n = strtoul(v, &end, 10);
            if (!*v || *end || errno || v[0] == '-' || n == 0 || n > 1024) {
                snprintf(msg, len, "--jobs: '%s' is not a count from 1 to 1024", ESC(v));
                return -1;
            }
            a->jobs = n;
        } else if (s[0] == '-') {
            snprintf(msg, len, "unknown option '%s'%s", ESC(s), has ? "" : " (or missing value)");
            return -1;
        } else if (!a->sweep) {
            a->sweep = s;
        } else {
            snprintf(msg, len, "more than one sweep file ('%s' and '%s')", ESC(a->sweep), ESC(s));
            return -1;
        }
    }
    if (a->resume && (a->sweep || a->out)) {
        snprintf(msg, len, "--resume DIR takes no sweep file and no --out (DIR holds both)");
        return -1;
    }
    if (!a->resume && !a->sweep) {
        snprintf(msg, len, "no sweep file (usage: nabla sweep SWEEP [options])");
        return -1;
    }
    return 0;
}

/* The sweep to run and its directory: SWEEP and --out (or the default
 * sweeps/<name>), or --resume DIR and DIR/sweep.conf. */
static int open_sweep(const args *a, nb_sweep **sw, char *dir, size_t len, nb_error *err)
{
    char path[PATH_MAX];
    if (a->resume) {
        snprintf(dir, len, "%s", a->resume);
        if (snprintf(path, sizeof path, "%s/sweep.conf", a->resume) >= (int)sizeof path)
            return nb_error_set(err, NB_EIO, "%s: path too long", a->resume);
        if (access(path, F_OK) != 0)
            return nb_error_set(err, NB_ESTATE, "resume: '%s' holds no sweep (no sweep.conf)", a->resume);
    } else {
        snprintf(path, sizeof path, "%s", a->sweep);
        if (a->out) {
            snprintf(dir, len, "%s", a->out);
        } else {
            const char *b = strrchr(a->sweep, '/');
            b = b ? b + 1 : a->sweep;
            size_t n = strcspn(b, ".");
            snprintf(dir, len, "sweeps/%.*s", (int)(n ? n : strlen(b)), b);
        }
    }
    return nb_sweep_open(path, sw, err);
}

static int exit_for(size_t failed)
{
    return failed == 0 ? 0 : NBC_EXIT_FAILED_BASE + (failed > 100 ? 100 : (int)failed);
}

static int run_local(const args *a, int said_mpi)
{
    nb_error err;
    nb_error_clear(&err);
    nb_sweep *sw = NULL;
    char dir[PATH_MAX];
    if (open_sweep(a, &sw, dir, sizeof dir, &err) != NB_OK) {
        fprintf(stderr, "nabla sweep: %s\n", nb_error_message(&err));
        return EXIT_CANNOT;
    }
    if (a->dry) {
        nb_sweep_list(sw, stdout);
        nb_sweep_free(sw);
        return 0;
    }
    if (nb_sweep_attach(sw, dir, a->resume ? NB_SWEEP_RESUME : NB_SWEEP_NEW, &err) != NB_OK) {
        fprintf(stderr, "nabla sweep: %s\n", nb_error_message(&err));
        nb_sweep_free(sw);
        return EXIT_CANNOT;
    }
    nb_sweep_run_opts o;
    nb_sweep_run_opts_init(&o);
    o.jobs = a->jobs;
    o.log = a->quiet ? NULL : stderr;
    if (o.log) {
        long cores = sysconf(_SC_NPROCESSORS_ONLN);
        fprintf(o.log, "nabla sweep: %zu cells -> %s, %zu local worker process%s%s\n", nb_sweep_cell_count(sw), dir,
                a->jobs ? a->jobs : (size_t)(cores > 0 ? cores : 1), (a->jobs ? a->jobs : (size_t)cores) == 1 ? "" : "es",
                said_mpi ? "" : "");
    }
    size_t failed = 0;
    int st = nb_sweep_execute(sw, &o, &failed, &err);
    nb_sweep_free(sw);
    if (st != NB_OK) {
        fprintf(stderr, "nabla sweep: %s (resume with: nabla sweep --resume %s)\n", nb_error_message(&err), dir);
        return EXIT_CANNOT;
    }
    return exit_for(failed);
}

#ifdef NB_HAVE_MPI
static int run_mpi(const args *a, int *argc, char ***argv)
{
    int rank = 0, size = 1;
    if (nbc_mpi_init(argc, argv, &rank, &size) != 0) {
        fprintf(stderr, "nabla sweep: MPI_Init failed\n");
        return EXIT_CANNOT;
    }
    if (size < 2) {   /* one rank: no one to hand cells to */
        if (!a->quiet) fprintf(stderr, "nabla sweep: MPI world of one rank: running locally\n");
        int rc = run_local(a, 1);
        nbc_mpi_finalize();
        return rc;
    }
    nb_error err;
    nb_error_clear(&err);
    nb_sweep *sw = NULL;
    char dir[PATH_MAX] = "";
    int status = NB_OK, rc = EXIT_CANNOT;
    unsigned long long cells = 0;
    if (rank == 0) {
        status = open_sweep(a, &sw, dir, sizeof dir, &err);
        if (status == NB_OK && a->dry) status = NB_ESTATE;   /* listed below; nothing to run */
        if (status == NB_OK)
            status = nb_sweep_attach(sw, dir, a->resume ? NB_SWEEP_RESUME : NB_SWEEP_NEW, &err);
        if (status == NB_OK) cells = nb_sweep_cell_count(sw);
    }
    nbc_mpi_share(&status, dir, sizeof dir, &cells);
    if (rank == 0) {
        if (a->dry && sw) {
            nb_sweep_list(sw, stdout);
            rc = 0;
        } else if (status != NB_OK) {
            fprintf(stderr, "nabla sweep: %s\n", nb_error_message(&err));
        } else {
            nb_sweep_run_opts o;
            nb_sweep_run_opts_init(&o);
            o.log = a->quiet ? NULL : stderr;
            if (o.log)
                fprintf(o.log, "nabla sweep: %llu cells -> %s, MPI: rank 0 hands out cells to %d worker rank%s\n",
                        cells, dir, size - 1, size == 2 ? "" : "s");
            size_t failed = 0;
            if (nbc_mpi_coordinate(sw, &o, &failed, &err) != NB_OK)
                fprintf(stderr, "nabla sweep: %s (resume with: nabla sweep --resume %s)\n", nb_error_message(&err), dir);
            else
                rc = exit_for(failed);
        }
    } else if (status == NB_OK) {
        /* every rank reads the sweep rank 0 wrote (a shared file system) */
        char path[PATH_MAX + 16];
        snprintf(path, sizeof path, "%s/sweep.conf", dir);
        int ok = nb_sweep_open(path, &sw, &err) == NB_OK && nb_sweep_cell_count(sw) == cells &&
                 nb_sweep_attach(sw, dir, NB_SWEEP_WORKER, &err) == NB_OK;
        if (!ok)
            fprintf(stderr, "nabla sweep (rank %d): cannot read %s: %s (is the directory on a file system every "
                            "node shares?)\n", rank, path, err.status ? nb_error_message(&err) : "other cells");
        rc = nbc_mpi_work(ok ? sw : NULL) == 0 && ok ? 0 : EXIT_CANNOT;
    } else {
        rc = a->dry ? 0 : EXIT_CANNOT;
    }
    nb_sweep_free(sw);
    nbc_mpi_finalize();
    return rc;
}
#endif

int nbc_sweep_main(int argc, char **argv)
{
    args a;
    char msg[256];
    if (parse_args(argc, argv, &a, msg, sizeof msg) != 0) {
        fprintf(stderr, "nabla sweep: %s\n", msg);
        return NBC_EXIT_USAGE;
    }
#ifdef NB_HAVE_MPI
    if (nbc_mpi_launched()) return run_mpi(&a, &argc, &argv);
    /* srun without an MPI plugin starts plain tasks: one sweep, not one each */
    const char *task = getenv("SLURM_PROCID");
    if (task && strcmp(task, "0") != 0) return 0;
    if (task && getenv("SLURM_NTASKS") && strcmp(getenv("SLURM_NTASKS"), "1") != 0 && !a.quiet)
        fprintf(stderr, "nabla sweep: Slurm tasks without MPI (use srun --mpi=pmix): task 0 runs the sweep locally\n");
#else
    if (getenv("OMPI_COMM_WORLD_SIZE") || getenv("PMI_SIZE") || getenv("PMIX_RANK") || getenv("SLURM_PROCID")) {
        const char *r = getenv("OMPI_COMM_WORLD_RANK");
        if (!r) r = getenv("PMIX_RANK");
        if (!r) r = getenv("PMI_RANK");
        if (!r) r = getenv("SLURM_PROCID");
        if (r && strcmp(r, "0") != 0) return 0;   /* one local sweep, not one per rank */
        if (!a.quiet) fprintf(stderr, "nabla sweep: this nabla was built without MPI: running locally\n");
    }
#endif
    return run_local(&a, 0);
}
