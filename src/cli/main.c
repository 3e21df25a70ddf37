/* nabla — the command-line tool.
 *
 *   nabla info                    version, BLAS bound at run time, threads
 *   nabla ops                     the op registry: name, arity, hyper-parameters, domain
 *   nabla check [--op NAME] [--seed N] [--seeds K] [--directional] [--json] [--verbose]
 *                                 gradient-check every registered op (or one)
 *   nabla check --graph [--seed N] [--directional] [--json]
 *                                 gradient-check the demo network's graph
 *   nabla demo [--seed N]         train a 2-4-1 tanh network on XOR and show it learn
 *   nabla run CONFIG [--seed N] [--out DIR] [--set key=value ...] [--quiet]
 *   nabla run --resume DIR        continue a killed run (a finished one is left alone)
 *   nabla keys                    every config key with its default and meaning
 *   nabla sweep SWEEP [options]   many runs from one sweep file (cli/sweep_cli.c)
 *
 * Exit status: 0 success (for run --resume: also a run that had already
 * finished); 1 a check failed (check, demo); 2 usage or runtime error: a bad
 * command line, config or data set, a refused run directory, a failed run. */
#include <config.h>

#include <errno.h>
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <gsl/gsl_errno.h>
#include <gsl/gsl_rng.h>
#include <gsl/gsl_randist.h>

#include <nabla/nabla.h>
#include "cli/cli.h"

/* Each command's synopsis and options: `nabla CMD --help` prints its
 * entry, `nabla help` all of them.  docs/nabla.1 documents the same
 * options, and tests/cli.sh checks that every option printed here is in the
 * man page, so the two cannot drift apart. */
typedef struct command {
    const char *name;
    const char *synopsis;   /* one line after "nabla " */
    const char *summary;
    const char *options;    /* option lines, or "" */
} command;

static const command commands[] = {
    { "info", "info", "version, the BLAS bound at run time, threads", "" },
    { "ops", "ops", "list the registered ops: name, arity, hyper-parameters, domain, maths", "" },
    { "check", "check [--op NAME]... [--seed N] [--seeds K] [--directional] [--json] [--verbose]\n"
               "       nabla check --graph [--seed N] [--directional] [--json]",
      "gradient-check every registered op (or the ones named), or the demo network's graph",
      "  --op NAME         only this op (repeatable)\n"
      "  --seed N          first seed of the checker's stream (default 2385)\n"
      "  --seeds K         seeds per op, 1..1000 (default 3)\n"
      "  --directional     directional mode instead of per-coordinate\n"
      "  --json            one JSON object per op and seed\n"
      "  --verbose         every report in full: block table, rel_diff, diagnoses\n"
      "  --graph           check the demo's 2-4-1 network (a graph, one block per parameter)\n" },
    { "demo", "demo [--seed N]", "train a 2-4-1 network on XOR and watch it learn",
      "  --seed N          seed of the initial weights (default 2385)\n" },
    { "run", "run CONFIG [--seed N] [--out DIR] [--set KEY=VALUE]... [--quiet]\n"
             "       nabla run --resume DIR [--quiet]",
      "run an experiment into a run directory, or resume one",
      "  --seed N          override experiment.seed\n"
      "  --out DIR         run directory (default runs/<name>-seed<seed>)\n"
      "  --set KEY=VALUE   override any config key (repeatable; `nabla keys`)\n"
      "  --resume DIR      continue the unfinished run in DIR\n"
      "  --quiet           no progress output\n" },
    { "keys", "keys [--man | --check CONFIG...]", "list every config key with its default and meaning",
      "  --man             the list as the nabla-config(5) manual page (troff)\n"
      "  --check CONFIG    parse and validate config files against the keys, run nothing\n" },
    { "sweep", "sweep SWEEP [--out DIR] [--jobs N] [--dry-run] [--quiet]\n"
               "       nabla sweep --resume DIR [--jobs N] [--quiet]\n"
               "       mpirun -n K nabla sweep ...   (rank 0 hands out cells, the other ranks run them)",
      "grid or random sweep of runs, each cell a run directory (docs/sweeps.md)",
      "  --out DIR         sweep directory (default sweeps/<sweep file name>)\n"
      "  --jobs N          local worker processes (default: the number of cores)\n"
      "  --resume DIR      go on with the sweep in DIR: finished cells kept, others resumed\n"
      "  --dry-run         list the cells and their --set options, run nothing\n"
      "  --quiet           no progress output\n"
      "  (sweep exit status: 0 every cell finished, 10+N when N cells failed or diverged)\n" },
    { "help", "help [COMMAND]", "this text, or one command's", "" },
};
#define N_COMMANDS (sizeof commands / sizeof commands[0])

static const command *find_command(const char *name)
{
    for (size_t i = 0; i < N_COMMANDS; i++)
        if (strcmp(commands[i].name, name) == 0) return &commands[i];
    return NULL;
}

static void command_usage(FILE *out, const command *c)
{
    fprintf(out, "usage: nabla %s\n\n%s\n", c->synopsis, c->summary);
    if (c->options[0]) fprintf(out, "\noptions:\n%s", c->options);
    fprintf(out, "\nexit status: 0 success, 1 a check failed, 2 usage or runtime error\n");
}

static void usage(FILE *out)
{
    fprintf(out, "usage: nabla <command> [options]   (nabla <command> --help for one)\n"
                 "       nabla --version\n\ncommands:\n");
    for (size_t i = 0; i < N_COMMANDS; i++)
        fprintf(out, "  %-8s %s\n", commands[i].name, commands[i].summary);
    fprintf(out, "\nexit status: 0 success, 1 a check failed, 2 usage or runtime error\n"
                 "manual: man nabla, man nabla-config\n");
}

/* Unknown option or argument: the message and the command's usage on
 * stderr, exit status 2. */
static int bad_usage(const char *cmd, const char *fmt, const char *arg)
{
    fprintf(stderr, "nabla %s: ", cmd);
    fprintf(stderr, fmt, arg);
    fputc('\n', stderr);
    command_usage(stderr, find_command(cmd));
    return 2;
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

/* The demo's XOR data and its 2-4-1 network's parameters W1, b1, W2, b2,
 * weights N(0, 1) from seed, biases 0 or (random_biases) N(0, 0.5^2).
 * Returns a new graph holding them (NULL: out of memory, said on stderr). */
static const double demo_X[8] = { 0, 0, 0, 1, 1, 0, 1, 1 }, demo_T[4] = { 0, 1, 1, 0 };

static nb_graph *demo_net(const char *cmd, unsigned long seed, int random_biases, nb_node *p[4])
{
    double w1[8], w2[4], c1[4] = { 0 }, c2[1] = { 0 };
    /* GSL reports a failed allocation through its handler, which aborts
     * by default; this program checks the NULL instead. */
    gsl_set_error_handler_off();
    gsl_rng *rng = gsl_rng_alloc(gsl_rng_mt19937);
    nb_graph *g = nb_graph_alloc();
    if (!rng || !g) {
        fprintf(stderr, "nabla %s: out of memory\n", cmd);
        gsl_rng_free(rng);
        nb_graph_free(g);
        return NULL;
    }
    gsl_rng_set(rng, seed);
    for (int k = 0; k < 8; k++) w1[k] = gsl_ran_gaussian(rng, 1.0);
    for (int k = 0; k < 4; k++) w2[k] = gsl_ran_gaussian(rng, 1.0);
    if (random_biases) {
        for (int k = 0; k < 4; k++) c1[k] = gsl_ran_gaussian(rng, 0.5);
        c2[0] = gsl_ran_gaussian(rng, 0.5);
    }
    gsl_rng_free(rng);
    p[0] = nb_param(g, "W1", 2, 4, w1);
    p[1] = nb_param(g, "b1", 1, 4, c1);
    p[2] = nb_param(g, "W2", 4, 1, w2);
    p[3] = nb_param(g, "b2", 1, 1, c2);
    return g;
}

/* The demo's network as a graph, at weights and biases drawn from seed:
 * nb_gradcheck_graph names its blocks W1, b1, W2, b2. */
static int check_graph(const nb_gradcheck_opts *o, int json)
{
    nb_node *p[4];
    nb_graph *g = demo_net("check", o->seed, 1, p);
    if (!g) return 2;
    nb_node *x = nb_input(g, 4, 2, demo_X), *t = nb_input(g, 4, 1, demo_T);
    nb_node *h = nb_tanh(g, nb_add(g, nb_matmul(g, x, p[0]), p[1]));
    nb_node *loss = nb_bce_logits(g, nb_add(g, nb_matmul(g, h, p[2]), p[3]), t);
    int rc = 2;
    if (!loss) {
        fprintf(stderr, "nabla check: %s\n", nb_graph_errmsg(g));
    } else {
        nb_gradcheck_report rep;
        int st = nb_gradcheck_graph(g, loss, o, &rep);
        if (json) nb_gradcheck_report_json(stdout, &rep);
        else nb_gradcheck_report_print(stdout, &rep);
        rc = st != NB_OK ? 2 : rep.passed ? 0 : 1;
        nb_gradcheck_report_free(&rep);
    }
    nb_graph_free(g);
    return rc;
}

static int cmd_check(int argc, char **argv)
{
    nb_gradcheck_opts o;
    nb_gradcheck_opts_init(&o);
    unsigned long seeds = 3;
    int json = 0, verbose = 0, graph = 0;
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
        } else if (strcmp(a, "--verbose") == 0) {
            verbose = 1;
        } else if (strcmp(a, "--graph") == 0) {
            graph = 1;
        } else if (strcmp(a, "--directional") == 0) {
            o.mode = NB_GC_DIRECTIONAL;
        } else if (strcmp(a, "--op") == 0 || strcmp(a, "--seed") == 0 || strcmp(a, "--seeds") == 0) {
            if (i + 1 >= argc) {
                fprintf(stderr, "nabla check: %s needs a value\n", NB_ECHO(a));
                goto out;
            }
            const char *val = argv[++i];
            if (strcmp(a, "--op") == 0) {
                const nb_op *op = nb_op_find(val);
                if (!op) {
                    fprintf(stderr, "nabla check: unknown op '%s' (`nabla ops` lists them)\n", NB_ECHO(val));
                    goto out;
                }
                ops[n_ops++] = op;
            } else if (parse_ulong(val, &v) != 0 || (strcmp(a, "--seeds") == 0 && (v == 0 || v > 1000))) {
                fprintf(stderr, "nabla check: %s: '%s' is not a valid %s\n", NB_ECHO(a), NB_ECHO(val),
                        strcmp(a, "--seed") == 0 ? "seed (0..ULONG_MAX)" : "count (1..1000)");
                goto out;
            } else if (strcmp(a, "--seed") == 0) {
                o.seed = v;
            } else {
                seeds = v;
            }
        } else {
            rc = bad_usage("check", "unknown option '%s'", NB_ECHO(a));
            goto out;
        }
    }
    if (graph) {
        rc = check_graph(&o, json);
        goto out;
    }
    size_t n_failed = 0;
    if (!json)
        printf("nabla check: %s mode, %zu shapes per seed\n",
               o.mode == NB_GC_DIRECTIONAL ? "directional" : "per-coordinate", o.n_shapes);
    int st = nb_gradcheck_ops(n_ops ? ops : NULL, n_ops, &o, seeds, stdout, json, &n_failed);
    /* A failed verdict is exit 1; a check that could not run is exit 2. */
    rc = st != NB_OK ? 2 : n_failed ? 1 : 0;
    if (rc == 2)   /* the report on stdout names the op and the cause */
        fprintf(stderr, "nabla check: a check could not run: %s\n", nb_strerror(st));
    /* In full: every op's report with its block table (an op's inputs,
     * trial by trial) and diagnoses. */
    for (size_t k = 0; verbose && !json && k < (n_ops ? n_ops : nb_op_count()); k++)
        for (unsigned long s = 0; s < seeds; s++) {
            nb_gradcheck_opts os = o;
            os.seed = o.seed + s;
            nb_gradcheck_report rep;
            nb_gradcheck_op(n_ops ? ops[k] : nb_op_at(k), NULL, &os, &rep);
            nb_gradcheck_report_print(stdout, &rep);
            nb_gradcheck_report_free(&rep);
        }
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
            return bad_usage("demo", "unknown or malformed option '%s'", NB_ECHO(argv[i]));
        }
    }
    const double *X = demo_X, *T = demo_T;
    nb_node *prm[4];
    nb_graph *g = demo_net("demo", seed, 0, prm);
    if (!g) return 2;
    nb_node *W1 = prm[0], *b1 = prm[1], *W2 = prm[2], *b2 = prm[3];
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
                fprintf(stderr, "nabla run: --seed: '%s' is not a seed (0..4294967295)\n", NB_ECHO(argv[i]));
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
                fprintf(stderr, "nabla run: --stop-after: '%s' is not a positive count\n", NB_ECHO(argv[i]));
                goto out;
            }
            o.stop_after = v;
        } else if (a[0] == '-') {
            fprintf(stderr, "nabla run: unknown option '%s'%s\n", NB_ECHO(a), has_value ? "" : " (or missing value)");
            command_usage(stderr, find_command("run"));
            goto out;
        } else if (!o.config_path) {
            o.config_path = a;
        } else {
            fprintf(stderr, "nabla run: more than one config file ('%s' and '%s')\n", NB_ECHO(o.config_path), NB_ECHO(a));
            goto out;
        }
    }
    if (!o.resume && !o.config_path) {
        fprintf(stderr, "nabla run: no config file (usage: nabla run CONFIG [options])\n");
        goto out;
    }
    o.sets = sets;
    nb_error err;
    nb_error_clear(&err);
    int st = nb_experiment_run(&o, &err);
    if (st != NB_OK) {
        fprintf(stderr, "nabla run: %s\n", err.status ? nb_error_message(&err) : nb_strerror(st));
        /* 2 for every error (nabla(1)): 1 is kept for a failed check */
        rc = 2;
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

/* nabla keys --check FILE...: each file parsed and validated against the
 * experiment schema (syntax, unknown keys, types, ranges, required keys)
 * and the rules between keys (nb_experiment_check_config), without reading
 * data or running anything; tests/docs.sh checks every config in docs/ so. */
static int cmd_keys_check(int n, char **files)
{
    size_t nk;
    const nb_config_key *k = nb_experiment_schema(&nk);
    int rc = 0;
    for (int i = 0; i < n; i++) {
        nb_error err;
        nb_error_clear(&err);
        nb_config *cfg = nb_config_alloc(k, nk);
        int st = cfg ? nb_config_load(cfg, files[i], &err) : NB_ENOMEM;
        if (st == NB_OK) st = nb_config_validate(cfg, &err);
        /* the rules between keys, as `nabla run` checks them */
        if (st == NB_OK) st = nb_experiment_check_config(cfg, &err);
        nb_config_free(cfg);
        if (st == NB_OK) {
            printf("%s: ok\n", files[i]);
        } else {
            fprintf(stderr, "nabla keys: %s\n", err.status ? nb_error_message(&err) : nb_strerror(st));
            rc = 2;
        }
    }
    return rc;
}

/* troff text: a backslash doubled, a line starting with '.' or '\'' kept
 * from being read as a request. */
static void man_text(const char *t)
{
    if (t[0] == '.' || t[0] == '\'') fputs("\\&", stdout);
    for (; *t; t++) {
        if (*t == '\\') fputs("\\e", stdout);
        else if (*t == '-') fputs("\\-", stdout);
        else putchar(*t);
    }
}

static const char *type_name(nb_config_type t)
{
    switch (t) {
    case NB_CONFIG_STRING: return "string";
    case NB_CONFIG_INT: return "integer";
    case NB_CONFIG_SIZE: return "count (non-negative integer)";
    case NB_CONFIG_DOUBLE: return "number";
    case NB_CONFIG_BOOL: return "boolean (true/false, yes/no, on/off, 1/0)";
    case NB_CONFIG_ENUM: return "word";
    case NB_CONFIG_INT_LIST: return "list of integers";
    case NB_CONFIG_SIZE_LIST: return "list of counts";
    case NB_CONFIG_WORD_LIST: return "list of words";
    }
    return "value";
}

/* nabla-config(5), generated from the experiment schema at build time so the
 * manual lists exactly the keys `nabla run` accepts. */
/* The example of nabla-config(5); tests/cli.sh runs it. */
static const char nbc_example_config[] =
    "[experiment]\nname = moons\n\n[data]\nsource = moons\nn = 200\nnoise = 0.2\n\n"
    "[model]\nlayers = 2, 3, 2\nactivation = tanh\n\n[loss]\nkind = softmax_ce\n\n"
    "[optimizer]\nkind = sgd\nlr = 0.01\n\n[train]\nepochs = 200\n";

static int cmd_keys_man(void)
{
    size_t n;
    const nb_config_key *k = nb_experiment_schema(&n);
    printf(".TH NABLA-CONFIG 5 \"\" \"nabla %s\" \"File Formats\"\n", nb_version());
    printf(".SH NAME\nnabla-config \\- experiment configuration files of nabla\n"
           ".SH SYNOPSIS\n.nf\n# comment\n[section]\nkey = value\n.fi\n"
           ".SH DESCRIPTION\n"
           "An experiment config is an INI\\-like UTF\\-8 text file read by\n"
           ".BR \"nabla run\" (1).\n"
           "A line is blank, a comment (starting with # or ;), a section header\n"
           ".RB [ section ],\n"
           "or an assignment\n"
           ".IR \"key = value\" .\n"
           "The full name of a key is\n"
           ".IR section.key .\n"
           "A value may be double\\-quoted to keep blanks and #; an inline comment\n"
           "starts at a # after a blank. Lists are comma\\-separated.\n"
           "A key given twice, an unknown key (with a did\\-you\\-mean hint), a value of\n"
           "the wrong type or out of range are errors naming file, line and key.\n"
           "Any key can be overridden on the command line with\n"
           ".BI \"\\-\\-set \" key = value\\fR.\n"
           ".SH KEYS\n");
    for (size_t i = 0; i < n; i++) {
        printf(".TP\n.B ");
        man_text(k[i].name);
        printf("\n");
        man_text(type_name(k[i].type));
        if (k[i].required) printf("; required");
        else if (k[i].def) {
            printf("; default ");
            man_text(k[i].def[0] ? k[i].def : "(empty)");
        } else printf("; unset by default");
        if (k[i].min && k[i].max) {
            printf("; range ");
            man_text(k[i].min);
            printf(k[i].flags & (NB_CONFIG_MIN_EXCLUSIVE | NB_CONFIG_MAX_EXCLUSIVE) ? " to " : "..");
            man_text(k[i].max);
            if (k[i].flags & NB_CONFIG_MIN_EXCLUSIVE) printf(", excluding the minimum");
            if (k[i].flags & NB_CONFIG_MAX_EXCLUSIVE) printf(", excluding the maximum");
        } else if (k[i].min) {
            printf(k[i].flags & NB_CONFIG_MIN_EXCLUSIVE ? "; greater than " : "; at least ");
            man_text(k[i].min);
        } else if (k[i].max) {
            printf(k[i].flags & NB_CONFIG_MAX_EXCLUSIVE ? "; less than " : "; at most ");
            man_text(k[i].max);
        }
        printf(".\n");
        if (k[i].words) {
            printf("One of: ");
            for (size_t w = 0; k[i].words[w]; w++) {
                printf("%s", w ? ", " : "");
                man_text(k[i].words[w]);
            }
            printf(".\n");
        }
        if (k[i].help) {
            printf(".br\n");
            man_text(k[i].help);
            printf("\n");
        }
    }
    printf(".SH EXAMPLES\n.nf\n");
    printf("%s", nbc_example_config);
    printf(".fi\n.SH SEE ALSO\n.BR nabla (1),\n.B nabla keys\n"
           "and docs/config-format.md, docs/experiments.md in the source distribution.\n");
    return 0;
}

int main(int argc, char **argv)
{
    if (argc < 2) {
        usage(stderr);
        return 2;
    }
    const char *cmd = argv[1];
    if (strcmp(cmd, "--help") == 0 || strcmp(cmd, "-h") == 0) {
        usage(stdout);
        return 0;
    }
    if (strcmp(cmd, "--version") == 0 || strcmp(cmd, "-V") == 0) {
        printf("nabla %s\n", nb_version());
        return 0;
    }
    if (strcmp(cmd, "help") == 0) {
        if (argc < 3) {
            usage(stdout);
            return 0;
        }
        const command *c = find_command(argv[2]);
        if (strcmp(argv[2], "--help") == 0 || strcmp(argv[2], "-h") == 0) c = find_command("help");
        if (!c) {
            fprintf(stderr, "nabla help: unknown command '%s'\n", NB_ECHO(argv[2]));
            usage(stderr);
            return 2;
        }
        command_usage(stdout, c);
        return 0;
    }
    const command *c = find_command(cmd);
    if (!c) {
        fprintf(stderr, "nabla: unknown command '%s'\n", NB_ECHO(cmd));
        usage(stderr);
        return 2;
    }
    /* --help anywhere among a command's arguments (but not as the value of
     * an option such as --set) asks for its usage */
    for (int i = 2; i < argc; i++) {
        if (strcmp(argv[i], "--help") == 0 || strcmp(argv[i], "-h") == 0) {
            command_usage(stdout, c);
            return 0;
        }
        if (strcmp(argv[i], "--set") == 0 || strcmp(argv[i], "--out") == 0 ||
            strcmp(argv[i], "--resume") == 0 || strcmp(argv[i], "--op") == 0)
            i++;
    }
    int nargs = argc - 2;
    char **args = argv + 2;
    if (strcmp(cmd, "info") == 0 || strcmp(cmd, "ops") == 0) {
        if (nargs > 0) return bad_usage(cmd, "unexpected argument '%s'", NB_ECHO(args[0]));
        return strcmp(cmd, "info") == 0 ? cmd_info() : cmd_ops();
    }
    if (strcmp(cmd, "keys") == 0) {
        if (nargs == 1 && strcmp(args[0], "--man") == 0) return cmd_keys_man();
        if (nargs >= 2 && strcmp(args[0], "--check") == 0) return cmd_keys_check(nargs - 1, args + 1);
        if (nargs > 0) return bad_usage(cmd, "unexpected argument '%s'", NB_ECHO(args[0]));
        return cmd_keys();
    }
    if (strcmp(cmd, "check") == 0) return cmd_check(nargs, args);
    if (strcmp(cmd, "run") == 0) return cmd_run(nargs, args);
    if (strcmp(cmd, "sweep") == 0) {
        int rc = nbc_sweep_main(nargs, args);
        if (rc == NBC_EXIT_USAGE) command_usage(stderr, c);
        return rc == NBC_EXIT_USAGE ? 2 : rc;
    }
    return cmd_demo(nargs, args);
}
