/* nabla/experiment.h — reproducible learning experiments.
 *
 * A run is a config file (docs/experiments.md) plus a seed.  It writes a
 * run directory:
 *   config.conf   the config as resolved (every key, with its origin)
 *   meta.json     versions, BLAS bound, threads, seed, start/end times, final metrics
 *   costs.csv     step,epoch,cost[,...] flushed row by row; no wall-clock values,
 *                 so the same config and seed give a byte-identical file
 *   results.txt   headline quantities and final parameters (%.17g)
 *   model.nbm     final parameters (nb_model_load reads it)
 *   checkpoint.nbk  written atomically; `--resume DIR` continues from it
 *   cost.gp, cost.png (gnuplot, when installed; plot.txt says so otherwise)
 *   timing.log    wall-clock per epoch (kept out of costs.csv)
 *   gradcheck.log directional checks every log.gradcheck_every steps
 */
#ifndef NABLA_EXPERIMENT_H
#define NABLA_EXPERIMENT_H

#include <stddef.h>
#include <stdio.h>

#include <nabla/config.h>

#ifdef __cplusplus
extern "C" {
#endif

/* How a run reports its progress on opts.log. */
typedef enum nb_run_progress {
    NB_PROGRESS_AUTO = -1,   /* a bar when log is a terminal, plain lines otherwise */
    NB_PROGRESS_LINES = 0,   /* plain lines */
    NB_PROGRESS_BAR = 1      /* a bar redrawn in place */
} nb_run_progress;

typedef struct nb_run_opts {
    const char *config_path;   /* ignored when resume is set (DIR/config.conf is used) */
    const char *const *sets;   /* "key=value" overrides */
    size_t n_sets;
    const char *out_dir;       /* NULL: runs/<experiment.name>-seed<seed> */
    int has_seed;              /* override experiment.seed with seed */
    unsigned long seed;
    int resume;                /* continue the run in out_dir */
    nb_run_progress progress;  /* NB_PROGRESS_AUTO (the default) */
    FILE *log;                 /* progress and log lines (NULL: silent) */
    size_t stop_after;         /* > 0: stop (as if killed) once this many steps are done */
} nb_run_opts;

void nb_run_opts_init(nb_run_opts *o);

/* Runs (or resumes) an experiment.  NB_OK when it finished (or stopped at
 * stop_after); otherwise a status, with the reason in *err (optional, NULL
 * allowed; see nabla/error.h). */
int nb_experiment_run(const nb_run_opts *o, nb_error *err);

/* Checks a config loaded and validated over the experiment schema the way
 * nb_experiment_run does before it reads any data: every rule between keys
 * (a csv or idx source needs its files, inline targets the output width per
 * row, softmax_ce two outputs, train.patience a validation set, bfgs the
 * full batch, model.weights the model's parameter count).  NB_OK, or
 * NB_ECONFIG with a message naming the origin and the key ("moons.conf:12:
 * key 'loss.kind': ..."); NB_EINVAL for NULL cfg; NB_ENOMEM.  err may be
 * NULL.  Nothing is read but cfg. */
int nb_experiment_check_config(const nb_config *cfg, nb_error *err);

/* The experiment schema, for tools and tests (nb_config_alloc(schema, n)). */
const nb_config_key *nb_experiment_schema(size_t *n);

#ifdef __cplusplus
}
#endif
#endif /* NABLA_EXPERIMENT_H */
