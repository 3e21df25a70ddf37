/* cli.h — the nabla tool's private header: its subcommands in other files
 * and the MPI transport of sweeps (compiled only when configure found MPI;
 * libnabla and libnabla-app never link MPI).  Never installed. */
#ifndef NABLA_CLI_PRIVATE_H
#define NABLA_CLI_PRIVATE_H

#include <nabla/nabla.h>
#include <nabla/sweep.h>

/* `nabla sweep ...` (argv after "sweep"); returns the exit status: 0 every
 * cell finished, 10 + N (N <= 100) when N cells failed or diverged, 2 when
 * the sweep could not run, or NBC_EXIT_USAGE after printing what is wrong
 * with the command line (the caller adds the usage, exit status 2). */
#define NBC_EXIT_USAGE (-1)
#define NBC_EXIT_FAILED_BASE 10
int nbc_sweep_main(int argc, char **argv);

#ifdef NB_HAVE_MPI
/* 1 when this process was started by an MPI launcher (mpirun, srun). */
int nbc_mpi_launched(void);
/* MPI_Init; the world's rank and size. */
int nbc_mpi_init(int *argc, char ***argv, int *rank, int *size);
void nbc_mpi_finalize(void);
/* Rank 0 tells every rank whether the sweep could start (status), and
 * where (dir, len bytes, NUL-terminated) and how many cells it has. */
void nbc_mpi_share(int *status, char *dir, size_t len, unsigned long long *cells);
/* Rank 0: runs the sweep with ranks 1..size-1 as workers, then stops them. */
int nbc_mpi_coordinate(nb_sweep *sw, nb_sweep_run_opts *o, size_t *failed, nb_error *err);
/* Ranks > 0: run the cells rank 0 hands out until it says stop. */
int nbc_mpi_work(nb_sweep *sw);
#endif

#endif
