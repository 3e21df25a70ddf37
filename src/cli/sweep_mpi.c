/* cli/sweep_mpi.c — sweeps over MPI ranks (built only with configure's
 * MPI; libnabla and libnabla-app never link MPI).
 *
 * Rank 0 is the coordinator: it keeps the sweep's files and hands out cells
 * one at a time, a new one to a rank as soon as that rank reports (dynamic
 * dispatch: long and short cells even out).  Ranks 1..K-1 are workers: each
 * runs its cell through nb_sweep_run_cell (a child process, as locally) and
 * sends back the outcome.  Messages are tiny: a cell index out, one
 * nb_sweep_outcome back.  Run directories are written by the workers
 * straight to DIR on a file system every node shares.
 *
 * Nobody spins: Open MPI's blocking receive polls at full speed, which on a
 * node whose cores all run cells would steal a core from them, so waits are
 * MPI_Test with short sleeps (1 ms rising to 5 ms: a few hundred wake-ups a
 * second, each a few microseconds). */
#include <config.h>

#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include <mpi.h>

#include "cli/cli.h"

enum { TAG_CELL = 1, TAG_STOP = 2, TAG_DONE = 3 };

int nbc_mpi_launched(void)
{
    static const char *const vars[] = { "OMPI_COMM_WORLD_SIZE", "PMIX_RANK", "PMI_RANK", "PMI_SIZE", "MPI_LOCALNRANKS", NULL };
    for (size_t i = 0; vars[i]; i++)
        if (getenv(vars[i])) return 1;
    return 0;
}

int nbc_mpi_init(int *argc, char ***argv, int *rank, int *size)
{
    if (MPI_Init(argc, argv) != MPI_SUCCESS) return -1;
    MPI_Comm_rank(MPI_COMM_WORLD, rank);
    MPI_Comm_size(MPI_COMM_WORLD, size);
    return 0;
}

void nbc_mpi_finalize(void) { MPI_Finalize(); }

void nbc_mpi_share(int *status, char *dir, size_t len, unsigned long long *cells)
{
    MPI_Bcast(status, 1, MPI_INT, 0, MPI_COMM_WORLD);
    MPI_Bcast(dir, (int)len, MPI_CHAR, 0, MPI_COMM_WORLD);
    dir[len - 1] = '\0';
    MPI_Bcast(cells, 1, MPI_UNSIGNED_LONG_LONG, 0, MPI_COMM_WORLD);
}

static void nap(int *us)
{
    struct timespec ts = { 0, (long)*us * 1000L };
    nanosleep(&ts, NULL);
    if (*us < 5000) *us *= 2;
}

/* ---- rank 0 ------------------------------------------------------------- */

typedef struct mpi_exec {
    MPI_Request req;
    nb_sweep_outcome in;
    int posted;
} mpi_exec;

static int mpi_start(void *ud, size_t slot, size_t cell, nb_error *err)
{
    (void)ud;
    unsigned long long c = cell;
    if (MPI_Send(&c, 1, MPI_UNSIGNED_LONG_LONG, (int)slot + 1, TAG_CELL, MPI_COMM_WORLD) != MPI_SUCCESS)
        return nb_error_set(err, NB_EIO, "MPI_Send to rank %zu failed", slot + 1);
    return NB_OK;
}

static int mpi_wait(void *ud, int timeout_ms, size_t *slot, nb_sweep_outcome *out, nb_error *err)
{
    mpi_exec *me = ud;
    if (!me->posted) {
        if (MPI_Irecv(&me->in, (int)sizeof me->in, MPI_BYTE, MPI_ANY_SOURCE, TAG_DONE, MPI_COMM_WORLD, &me->req) !=
            MPI_SUCCESS)
            return nb_error_set(err, NB_EIO, "MPI_Irecv failed"), -1;
        me->posted = 1;
    }
    struct timespec t0, t;
    clock_gettime(CLOCK_MONOTONIC, &t0);
    int us = 1000;
    for (;;) {
        int done = 0;
        MPI_Status s;
        if (MPI_Test(&me->req, &done, &s) != MPI_SUCCESS) return nb_error_set(err, NB_EIO, "MPI_Test failed"), -1;
        if (done) {
            me->posted = 0;
            *slot = (size_t)s.MPI_SOURCE - 1;
            *out = me->in;
            out->msg[sizeof out->msg - 1] = '\0';
            return 1;
        }
        clock_gettime(CLOCK_MONOTONIC, &t);
        if ((t.tv_sec - t0.tv_sec) * 1000 + (t.tv_nsec - t0.tv_nsec) / 1000000 >= timeout_ms) return 0;
        nap(&us);
    }
}

int nbc_mpi_coordinate(nb_sweep *sw, nb_sweep_run_opts *o, size_t *failed, nb_error *err)
{
    int size;
    MPI_Comm_size(MPI_COMM_WORLD, &size);
    mpi_exec me;
    memset(&me, 0, sizeof me);
    nb_sweep_executor ex = { (size_t)size - 1, &me, mpi_start, mpi_wait };
    o->executor = &ex;
    int st = nb_sweep_execute(sw, o, failed, err);
    if (me.posted) {   /* an error left a receive open */
        MPI_Cancel(&me.req);
        MPI_Request_free(&me.req);
    }
    unsigned long long none = 0;
    for (int r = 1; r < size; r++) MPI_Send(&none, 1, MPI_UNSIGNED_LONG_LONG, r, TAG_STOP, MPI_COMM_WORLD);
    return st;
}

/* ---- ranks 1..K-1 ----------------------------------------------------------- */

int nbc_mpi_work(nb_sweep *sw)
{
    for (;;) {
        unsigned long long c;
        MPI_Request req;
        MPI_Status s;
        int done = 0, us = 1000;
        MPI_Irecv(&c, 1, MPI_UNSIGNED_LONG_LONG, 0, MPI_ANY_TAG, MPI_COMM_WORLD, &req);
        while (MPI_Test(&req, &done, &s) == MPI_SUCCESS && !done) nap(&us);
        if (!done || s.MPI_TAG == TAG_STOP) return done ? 0 : -1;
        nb_sweep_outcome out;
        memset(&out, 0, sizeof out);
        if (!sw || c >= nb_sweep_cell_count(sw)) {
            out.state = NB_SWEEP_FAILED;
            out.status = NB_EINVAL;
            snprintf(out.msg, sizeof out.msg, "this rank could not read the sweep");
        } else {
            nb_sweep_run_cell(sw, (size_t)c, &out);
        }
        MPI_Send(&out, (int)sizeof out, MPI_BYTE, 0, TAG_DONE, MPI_COMM_WORLD);
    }
}
