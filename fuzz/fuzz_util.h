/* Shared by the libFuzzer harnesses (fuzz/README.md).
 *
 * The IDX, CSV and archive readers take a path, so the input is written to
 * an anonymous memory file (memfd_create) and the reader opens it through
 * /proc/self/fd/N: no file on disk, nothing left behind when a harness is
 * killed, and the reader's real open/read/close path is exercised. */
#ifndef NB_FUZZ_UTIL_H
#define NB_FUZZ_UTIL_H

/* memfd_create; include this header first. */
#ifndef _GNU_SOURCE
#define _GNU_SOURCE
#endif

#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <sys/mman.h>
#include <unistd.h>

/* Writes data to a fresh memfd; path receives "/proc/self/fd/N".  Returns
 * the descriptor (close it after the read), or -1 when the system refuses
 * (the harness then skips the input: that is not a finding). */
static inline int nb_fuzz_memfile(const uint8_t *data, size_t size, char *path,
                           size_t len)
{
    int fd = memfd_create("nabla-fuzz", MFD_CLOEXEC);
    if (fd < 0) return -1;
    size_t done = 0;
    while (done < size) {
        ssize_t w = write(fd, data + done, size - done);
        if (w <= 0) { close(fd); return -1; }
        done += (size_t)w;
    }
    snprintf(path, len, "/proc/self/fd/%d", fd);
    return fd;
}

/* A reader's message must be one NUL-terminated line: no newline or other
 * control character may reach it from the input (docs: messages echo a
 * short, escaped piece of bad input).  abort() makes a violation a
 * finding.  NB_FUZZ_NO_MESSAGE_CHECK=1 in the environment turns the check
 * off, to look for memory errors past a known message bug. */
static inline void nb_fuzz_check_message(const char *msg, size_t cap)
{
    static int off = -1;
    if (off < 0) off = getenv("NB_FUZZ_NO_MESSAGE_CHECK") != NULL;
    if (off) return;
    size_t n = 0;
    while (n < cap && msg[n]) {
        unsigned char c = (unsigned char)msg[n];
        if (c < 0x20 || c == 0x7f) {
            fprintf(stderr, "message holds control character 0x%02x at %zu: %s\n",
                    c, n, msg);
            abort();
        }
        n++;
    }
    if (n == cap) {
        fprintf(stderr, "message not NUL-terminated\n");
        abort();
    }
}

#endif
