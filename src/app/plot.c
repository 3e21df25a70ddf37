/* plot.c — starting gnuplot for the application layer (run directories and
 * sweeps), without changing the calling process's working directory. */
#include <config.h>

#include <errno.h>
#include <fcntl.h>
#include <limits.h>
#include <spawn.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/types.h>
#include <sys/wait.h>
#include <unistd.h>

#include "app/app.h"

extern char **environ;

int nbi_find_program(const char *prog, char *out, size_t len)
{
    const char *path = getenv("PATH");
    if (!path) path = "/usr/bin:/bin";
    while (*path) {
        size_t n = strcspn(path, ":");
        int w = snprintf(out, len, "%.*s/%s", (int)n, path, prog);
        if (n && w > 0 && (size_t)w < len && access(out, X_OK) == 0) return 1;
        path += n + (path[n] == ':');
    }
    return 0;
}

void nbi_gnuplot_text(char *out, const char *s, size_t max)
{
    size_t n = strlen(s), o = 0, cut = n > max;
    if (cut) {
        n = max;
        while (n > 0 && ((unsigned char)s[n] & 0xC0) == 0x80) n--;   /* a whole character */
    }
    for (size_t i = 0; i < n; i++) {
        unsigned char c = (unsigned char)s[i];
        if (c == '\'') out[o++] = '\'';
        out[o++] = c < 0x20 || c == 0x7F ? ' ' : (char)c;
    }
    if (cut) out[o++] = '.', out[o++] = '.', out[o++] = '.';
    out[o] = '\0';
}

/* The scripts name their files relatively, so gnuplot must run inside dir.
 * gnuplot's own `cd`, given on its command line before the script, moves
 * the child alone; a quote in the directory's name is doubled, as gnuplot's
 * single-quoted strings want.  The library never changes its own working
 * directory: that would
 * move every thread of a host program. */
int nbi_gnuplot(const char *exe, const char *dir, const char *script)
{
    size_t dl = strlen(dir);
    char *cd = malloc(2 * dl + 8);
    if (!cd) return -ENOMEM;
    size_t o = 0;
    memcpy(cd, "cd '", 4);
    o = 4;
    for (const char *c = dir; *c; c++) {
        if (*c == '\'') cd[o++] = '\'';
        cd[o++] = *c;
    }
    cd[o++] = '\'';
    cd[o] = '\0';
    char *argv[] = { "gnuplot", "-e", cd, (char *)script, NULL };
    posix_spawn_file_actions_t fa;
    int rc = posix_spawn_file_actions_init(&fa);
    if (rc != 0) {
        free(cd);
        return rc == ENOMEM ? -ENOMEM : -1;
    }
    rc = posix_spawn_file_actions_addopen(&fa, 1, "/dev/null", O_WRONLY, 0);
    if (rc == 0) rc = posix_spawn_file_actions_addopen(&fa, 2, "/dev/null", O_WRONLY, 0);
    pid_t pid;
    if (rc == 0) rc = posix_spawn(&pid, exe, &fa, NULL, argv, environ);
    posix_spawn_file_actions_destroy(&fa);
    free(cd);
    if (rc == ENOMEM) return -ENOMEM;   /* out of memory is the caller's error, not gnuplot's */
    if (rc != 0) return -1;
    int status;
    while (waitpid(pid, &status, 0) < 0)
        if (errno != EINTR) return -1;
    return WIFEXITED(status) && WEXITSTATUS(status) == 0 ? 0 : -1;
}
