/* nabla/sweep.h — sweeps: many `nabla run` cells from one sweep file.
 *
 * A sweep file is a config (or `base = PATH` to one, plus optional keys
 * that override it) and a [sweep] section whose keys with a dot are axes:
 *
 *     base = moons.conf
 *     [sweep]
 *     method = grid                      ; or random (with samples = K)
 *     optimizer.lr = 0.001, 0.003, 0.01
 *     model.activation = relu, tanh
 *     experiment.seed = 0..4
 *
 * Every cell is a complete run directory DIR/runs/<cell>/ made by
 * nb_experiment_run() from DIR/base.conf and the cell's "key=value"
 * overrides, so it is byte-identical to `nabla run DIR/base.conf --set ...`
 * (docs/sweeps.md).  The sweep directory also holds sweep.conf (the resolved
 * sweep), cells.csv, summary.csv and plots/.
 *
 * The application layer runs cells in child processes (fork, then the
 * library call); other transports (MPI, in the nabla tool) plug in through
 * nb_sweep_executor.  Nothing here links MPI. */
#ifndef NABLA_SWEEP_H
#define NABLA_SWEEP_H

#include <stddef.h>
#include <stdio.h>

#include <nabla/error.h>

#ifdef __cplusplus
extern "C" {
#endif

typedef struct nb_sweep nb_sweep;

/* What became of a cell. */
typedef enum nb_sweep_state {
    NB_SWEEP_PENDING = 0,
    NB_SWEEP_RUNNING,
    NB_SWEEP_FINISHED,
    NB_SWEEP_FAILED,       /* the run stopped with an error (message kept) */
    NB_SWEEP_DIVERGED,     /* a non-finite value appeared while training */
    NB_SWEEP_INTERRUPTED   /* its process was killed: run it again, resuming */
} nb_sweep_state;

/* The word of a state ("finished"); never NULL. */
const char *nb_sweep_state_name(int state);

/* One cell's outcome, as a worker reports it.  Plain bytes, so a transport
 * may send it as they are (homogeneous machines). */
typedef struct nb_sweep_outcome {
    int state;                   /* nb_sweep_state */
    int status;                  /* nb_experiment_run's status */
    char msg[NB_ERROR_MSG_MAX];  /* why it failed; "" when finished */
} nb_sweep_outcome;

/* Reads and checks a sweep file: the base config, every axis and every
 * value (unknown keys, values out of a key's range, empty products are
 * NB_ECONFIG naming file:line and key, like nb_config_load), then makes the
 * cells.  Nothing is written.  *out is the caller's (nb_sweep_free). */
int nb_sweep_open(const char *path, nb_sweep **out, nb_error *err);
void nb_sweep_free(nb_sweep *sw);

size_t nb_sweep_cell_count(const nb_sweep *sw);
/* The cell's directory name under DIR/runs/ (borrowed). */
const char *nb_sweep_cell_name(const nb_sweep *sw, size_t cell);
/* The cell's overrides "key=value", one per axis (borrowed). */
const char *const *nb_sweep_cell_sets(const nb_sweep *sw, size_t cell, size_t *n);

/* Writes the cells, one line each: name and --set options (--dry-run). */
int nb_sweep_list(const nb_sweep *sw, FILE *out);

/* Binds the sweep to its directory.
 *   NB_SWEEP_NEW     DIR must not exist or be empty: creates it, takes the
 *                    lock, writes sweep.conf, base.conf and cells.csv;
 *   NB_SWEEP_RESUME  DIR holds this sweep: takes the lock, reads cells.csv
 *                    (failed and diverged cells stay so) and the cells' run
 *                    directories (finished ones are skipped);
 *   NB_SWEEP_WORKER  only remembers DIR (a worker rank: no lock, no write).
 * The lock (flock on DIR/sweep.lock) is held until nb_sweep_free and by the
 * cells' processes; a second sweep on DIR gets NB_ESTATE with a message. */
enum { NB_SWEEP_NEW = 0, NB_SWEEP_RESUME = 1, NB_SWEEP_WORKER = 2 };
int nb_sweep_attach(nb_sweep *sw, const char *dir, int mode, nb_error *err);

/* Runs one cell in a child process and waits for it: a fresh run, or a
 * resumed one when DIR/runs/<cell> holds an unfinished run; a finished run
 * is reported without running.  The child runs BLAS on blas_threads threads
 * (sweep key, default 1) and dies with its parent. */
int nb_sweep_run_cell(const nb_sweep *sw, size_t cell, nb_sweep_outcome *out);

/* A transport: `slots` workers, each running one cell at a time.  start
 * hands cell to slot; wait blocks at most timeout_ms for one outcome and
 * returns 1 (with *slot and *out filled), 0 on timeout, or a negative value
 * when the transport broke (message in err). */
typedef struct nb_sweep_executor {
    size_t slots;
    void *ud;
    int (*start)(void *ud, size_t slot, size_t cell, nb_error *err);
    int (*wait)(void *ud, int timeout_ms, size_t *slot, nb_sweep_outcome *out, nb_error *err);
} nb_sweep_executor;

typedef struct nb_sweep_run_opts {
    size_t jobs;            /* local worker processes (0: the number of cores) */
    const nb_sweep_executor *executor;   /* NULL: local worker processes */
    FILE *log;              /* one line per finished cell (NULL: silent) */
    int progress;           /* -1: a bar when log is a terminal; 0: no bar; 1: bar */
} nb_sweep_run_opts;

void nb_sweep_run_opts_init(nb_sweep_run_opts *o);

/* Runs every cell that is not finished, failed or diverged, keeping
 * cells.csv up to date after each cell; then writes summary.csv and the
 * plots.  A cell whose process was killed is run again, resuming from its
 * checkpoint (at most 3 times).  NB_OK when the sweep went through (*failed
 * = cells failed or diverged), an error when it could not go on. */
int nb_sweep_execute(nb_sweep *sw, const nb_sweep_run_opts *o, size_t *failed, nb_error *err);

/* Writes summary.csv and plots/ from the cells' run directories (done by
 * nb_sweep_execute; exposed to redo the plots). */
int nb_sweep_report(nb_sweep *sw, nb_error *err);

#ifdef __cplusplus
}
#endif
#endif /* NABLA_SWEEP_H */
