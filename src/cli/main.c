/* nabla — the command-line tool.
 *
 *   nabla info                    version, BLAS bound at run time, threads
 *   nabla ops                     the op registry: name, arity, hyper-parameters, domain
 *   nabla check [--op NAME] [--seed N] [--seeds K] [--directional] [--json]
 *                                 gradient-check every registered op (or one)
 *   nabla demo [--seed N]         train a 2-4-1 tanh network on XOR and show it learn
 *   nabla run CONFIG [--seed N] [--out DIR] [--set key=value ...] [--quiet]
 *   nabla run --resume DIR        continue a killed run (a finished one is left alone)
 *   nabla keys                    every config key with its default and meaning
 *
 * Exit status: 0 success; 1 a check failed (check, demo) or a run failed
 * (run); 2 usage or runtime error, and for run a bad command line, config
 * or data set (refused before anything was written). */
#include <config.h>

#include <errno.h>
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <gsl/gsl_rng.h>
#include <gsl/gsl_randist.h>

#include <nabla/nabla.h>

static void usage(FILE *out)
{
    fprintf(out,
            "usage: nabla <command> [options]\n"
            "\n"
            "commands:\n"
            "  info                         version and the BLAS bound at run time\n"
            "  ops                          list the registered ops\n"
            "  check [options]              gradient-check the registered ops\n"
            "      --op NAME                only this op (repeatable)\n"
            "      --seed N                 first seed of the checker's stream (default 2385)\n"
            "      --seeds K                seeds per op (default 3)\n"
            "      --directional            directional mode instead of per-coordinate\n"
            "      --json                   one JSON object per op and seed\n"
            "  demo [--seed N]              train a small network on XOR and watch it learn\n"
            "  run CONFIG [options]         run an experiment into a run directory\n"
            "      --seed N                 override experiment.seed\n"
            "      --out DIR                run directory (default runs/<name>-seed<seed>)\n"
            "      --set key=value          override any config key (repeatable)\n"
            "      --resume DIR             continue the run in DIR after a crash\n"
            "      --quiet                  no progress output\n"
            "  keys                         list every config key (docs/experiments.md)\n"
            "  help                         this text\n");
}

static int parse_ulong(const char *s, unsigned long *out)
{
    char *end;
    errno = 0;
    if (!s || !*s || *s == '-') return -1;
    unsigned long v = strtoul(s, &end, 10);
    if (errno || *end) return -1;
    *out = v;
    return 0;
}

static int cmd_info(void)
{
    char path[512];
    const char *bound = nb_blas_name(path, sizeof path);
    printf("nabla %s\n", nb_version());
    printf("blas (configured): %s\n", nb_blas_configured());
    printf("blas (bound):      %s%s%s%s\n", bound, path[0] ? " (" : "", path, path[0] ? ")" : "");
    printf("blas threads:      %d\n", nb_blas_threads());
    const char *cfg = nb_blas_config();
    if (cfg && *cfg) printf("blas config:       %s\n", cfg);
    printf("ops registered:    %zu\n", nb_op_count());
    return 0;
}

static int cmd_ops(void)
{
    printf("%-12s %-5s %-16s %-22s %s\n", "op", "arity", "hyper", "test domain", "maths");
    for (size_t k = 0; k < nb_op_count(); k++) {
        const nb_op *op = nb_op_at(k);
        char hyper[64] = "-", dom[64] = "";
        size_t used = 0;
        for (size_t i = 0; i < op->n_hyper; i++) {
            int w = snprintf(hyper + used, sizeof hyper - used, "%s%s=%g", i ? "," : "",
                             op->hyper_names[i], op->hyper_default[i]);
            if (w > 0) used += (size_t)w;
        }
        used = 0;
        for (size_t i = 0; i < op->arity; i++) {
            nb_interval d = nb_op_domain(op, i);
            int w = snprintf(dom + used, sizeof dom - used, "%s[%g,%g]", i ? "x" : "", d.lo, d.hi);
            if (w > 0) used += (size_t)w;
        }
        printf("%-12s %-5zu %-16s %-22s %s\n", op->name, op->arity, hyper, dom, op->maths);
    }
    return 0;
}

static int cmd_check(int argc, char **argv)
{
    nb_gradcheck_opts o;
    nb_gradcheck_opts_init(&o);
    unsigned long seeds = 3;
    int json = 0;
    const nb_op **ops = calloc((size_t)argc + 1, sizeof *ops);
    size_t n_ops = 0;
    if (!ops) {
        fprintf(stderr, "nabla check: out of memory\n");
        return 2;
    }
    int rc = 2;
    for (int i = 0; i < argc; i++) {
        const char *a = argv[i];
        unsigned long v;
        if (strcmp(a, "--json") == 0) {
            json = 1;
        } else if (strcmp(a, "--directional") == 0) {
            o.mode = NB_GC_DIRECTIONAL;
        } else if (strcmp(a, "--op") == 0 || strcmp(a, "--seed") == 0 || strcmp(a, "--seeds") == 0) {
            if (i + 1 >= argc) {
                fprintf(stderr, "nabla check: %s needs a value\n", a);
                goto out;
            }
            const char *val = argv[++i];
            if (strcmp(a, "--op") == 0) {
                const nb_op *op = nb_op_find(val);
                if (!op) {
                    fprintf(stderr, "nabla check: unknown op '%s' (`nabla ops` lists them)\n", val);
                    goto out;
                }
                ops[n_ops++] = op;
            } else if (parse_ulong(val, &v) != 0 || (strcmp(a, "--seeds") == 0 && (v == 0 || v > 1000))) {
                fprintf(stderr, "nabla check: %s: '%s' is not a valid %s\n", a, val,
                        strcmp(a, "--seed") == 0 ? "seed (0..ULONG_MAX)" : "count (1..1000)");
                goto out;
            } else if (strcmp(a, "--seed") == 0) {
                o.seed = v;
            } else {
                seeds = v;
            }
        } else {
            fprintf(stderr, "nabla check: unknown option '%s'\n", a);
            usage(stderr);
            goto out;
        }
    }
    size_t n_failed = 0;
    if (!json)
        printf("nabla check: %s mode, %zu shapes per seed\n",
               o.mode == NB_GC_DIRECTIONAL ? "directional" : "per-coordinate", o.n_shapes);
    int st = nb_gradcheck_ops(n_ops ? ops : NULL, n_ops, &o, seeds, stdout, json, &n_failed);
    rc = st == NB_OK ? 0 : st == NB_EDOMAIN ? 1 : 2;
out:
    free(ops);
    return rc;
}

/* A first taste: XOR with a 2-4-1 network (tanh hidden layer, logistic
 * output through the stable bce_logits loss), full-batch gradient descent.
 * The graph is rebuilt on the tape every step; parameters live outside it. */
static int cmd_demo(int argc, char **argv)
{
    unsigned long seed = 2385;
    for (int i = 0; i < argc; i++) {
        if (strcmp(argv[i], "--seed") == 0 && i + 1 < argc && parse_ulong(argv[i + 1], &seed) == 0) {
            i++;
        } else {
            fprintf(stderr, "nabla demo: unknown or malformed option '%s'\n", argv[i]);
            return 2;
        }
    }
    const double X[8] = { 0, 0, 0, 1, 1, 0, 1, 1 }, T[4] = { 0, 1, 1, 0 };
    double w1[8], w2[4];
    gsl_rng *rng = gsl_rng_alloc(gsl_rng_mt19937);
    nb_graph *g = nb_graph_alloc();
    if (!rng || !g) {
        fprintf(stderr, "nabla demo: out of memory\n");
        gsl_rng_free(rng);
        nb_graph_free(g);
        return 2;
    }
    gsl_rng_set(rng, seed);
    for (int k = 0; k < 8; k++) w1[k] = gsl_ran_gaussian(rng, 1.0);
    for (int k = 0; k < 4; k++) w2[k] = gsl_ran_gaussian(rng, 1.0);
    nb_node *W1 = nb_param(g, "W1", 2, 4, w1), *b1 = nb_param(g, "b1", 1, 4, NULL);
    nb_node *W2 = nb_param(g, "W2", 4, 1, w2), *b2 = nb_param(g, "b2", 1, 1, NULL);
    const double lr = 0.5;
    const int steps = 3000;
    nb_node *z = NULL;
    int rc = 0;
    printf("nabla demo: XOR with a 2-4-1 tanh network, gradient descent (lr %.2f, seed %lu)\n", lr, seed);
    for (int step = 0; step <= steps; step++) {
        nb_graph_reset(g);
        nb_node *x = nb_input(g, 4, 2, X), *t = nb_input(g, 4, 1, T);
        nb_node *h = nb_tanh(g, nb_add(g, nb_matmul(g, x, W1), b1));
        z = nb_add(g, nb_matmul(g, h, W2), b2);
        nb_node *loss = nb_bce_logits(g, z, t);
        nb_graph_zero_grad(g);
        if (!loss || nb_backward(g, loss) != NB_OK) {
            fprintf(stderr, "nabla demo: %s\n", nb_graph_errmsg(g));
            rc = 2;
            break;
        }
        if (step % 500 == 0) printf("  step %4d  cost %.6f\n", step, nb_node_scalar(loss));
        if (step == steps) break;
        for (size_t k = 0; k < nb_graph_param_count(g); k++) {
            nb_node *p = nb_graph_param_at(g, k);
            for (size_t i = 0; i < nb_node_size(p); i++) nb_node_value(p)[i] -= lr * nb_node_grad(p)[i];
        }
    }
    if (rc == 0) {
        int right = 0;
        printf("  outputs:");
        for (int i = 0; i < 4; i++) {
            double o = 1.0 / (1.0 + exp(-nb_node_value(z)[i]));
            printf(" %.4f", o);
            right += (o > 0.5) == (T[i] > 0.5);
        }
        printf("  (targets 0 1 1 0)\n");
        if (right == 4) {
            printf("nabla demo: learned XOR\n");
        } else {
            printf("nabla demo: did not learn XOR with this seed (%d of 4 right)\n", right);
            rc = 1;
        }
    }
    nb_graph_free(g);
    gsl_rng_free(rng);
    return rc;
}

static int cmd_run(int argc, char **argv)
{
    nb_run_opts o;
    nb_run_opts_init(&o);
    o.log = stderr;
    const char **sets = calloc((size_t)argc + 1, sizeof *sets);
    if (!sets) {
        fprintf(stderr, "nabla run: out of memory\n");
        return 2;
    }
    int rc = 2;
    for (int i = 0; i < argc; i++) {
        const char *a = argv[i];
        int has_value = i + 1 < argc;
        if (strcmp(a, "--quiet") == 0) {
            o.log = NULL;
        } else if (strcmp(a, "--seed") == 0 && has_value) {
            if (parse_ulong(argv[++i], &o.seed) != 0 || o.seed > 4294967295ul) {
                fprintf(stderr, "nabla run: --seed: '%s' is not a seed (0..4294967295)\n", argv[i]);
                goto out;
            }
            o.has_seed = 1;
        } else if (strcmp(a, "--out") == 0 && has_value) {
            o.out_dir = argv[++i];
        } else if (strcmp(a, "--set") == 0 && has_value) {
            sets[o.n_sets++] = argv[++i];
        } else if (strcmp(a, "--resume") == 0 && has_value) {
            o.resume = 1;
            o.out_dir = argv[++i];
        } else if (strcmp(a, "--stop-after") == 0 && has_value) {
            unsigned long v;
            if (parse_ulong(argv[++i], &v) != 0 || v == 0) {
                fprintf(stderr, "nabla run: --stop-after: '%s' is not a positive count\n", argv[i]);
                goto out;
            }
            o.stop_after = v;
        } else if (a[0] == '-') {
            fprintf(stderr, "nabla run: unknown option '%s'%s\n", a, has_value ? "" : " (or missing value)");
            goto out;
        } else if (!o.config_path) {
            o.config_path = a;
        } else {
            fprintf(stderr, "nabla run: more than one config file ('%s' and '%s')\n", o.config_path, a);
            goto out;
        }
    }
    if (!o.resume && !o.config_path) {
        fprintf(stderr, "nabla run: no config file (usage: nabla run CONFIG [options])\n");
        goto out;
    }
    o.sets = sets;
    char msg[1024];
    int st = nb_experiment_run(&o, msg, sizeof msg);
    if (st != NB_OK) {
        fprintf(stderr, "nabla run: %s\n", msg[0] ? msg : nb_strerror(st));
        /* 2: the command line, its config or its data were refused before
         * anything was written; 1: the run itself failed. */
        rc = st == NB_ECONFIG || st == NB_EINVAL ? 2 : 1;
    } else {
        rc = 0;
    }
out:
    free(sets);
    return rc;
}

static int cmd_keys(void)
{
    size_t n;
    const nb_config_key *k = nb_experiment_schema(&n);
    for (size_t i = 0; i < n; i++)
        printf("%-26s %-10s %s\n", k[i].name, k[i].required ? "(required)" : k[i].def ? k[i].def : "(unset)",
               k[i].help ? k[i].help : "");
    return 0;
}

int main(int argc, char **argv)
{
    if (argc < 2) {
        usage(stderr);
        return 2;
    }
    const char *cmd = argv[1];
    if (strcmp(cmd, "info") == 0) return cmd_info();
    if (strcmp(cmd, "ops") == 0) return cmd_ops();
    if (strcmp(cmd, "check") == 0) return cmd_check(argc - 2, argv + 2);
    if (strcmp(cmd, "run") == 0) return cmd_run(argc - 2, argv + 2);
    if (strcmp(cmd, "keys") == 0) return cmd_keys();
    if (strcmp(cmd, "demo") == 0) return cmd_demo(argc - 2, argv + 2);
    if (strcmp(cmd, "help") == 0 || strcmp(cmd, "--help") == 0 || strcmp(cmd, "-h") == 0) {
        usage(stdout);
        return 0;
    }
    if (strcmp(cmd, "--version") == 0) {
        printf("nabla %s\n", nb_version());
        return 0;
    }
    fprintf(stderr, "nabla: unknown command '%s'\n", cmd);
    usage(stderr);
    return 2;
}
