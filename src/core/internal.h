/* internal.h -- private helpers shared by libneuromap's translation units.
 * Not installed; faces (cli, mod, python) use only include/neuromap.h. */
#ifndef NM_INTERNAL_H
#define NM_INTERNAL_H

#include "neuromap.h"
#include <stdarg.h>
#include <stddef.h>

#if defined(__GNUC__)
#define NM_PRINTF(a, b) __attribute__((format(printf, a, b)))
#else
#define NM_PRINTF(a, b)
#endif

/* Record a failure for this thread and return its code:
 *     return nm_fail(NM_EINVAL, "dt_ms must be > 0 (got %g)", dt);   */
nm_status nm_fail(nm_status code, const char *fmt, ...) NM_PRINTF(2, 3);

/* Prefix the current thread's message with "context: " (for callers that add
 * where, e.g. the file name) and return code unchanged. */
nm_status nm_fail_prefix(nm_status code, const char *fmt, ...) NM_PRINTF(2, 3);

/* Allocation with an error message on failure (returns NULL, sets NM_ENOMEM). */
void *nm_malloc(size_t size);
void *nm_calloc(size_t n, size_t size);

/* Number of online CPUs (>= 1). */
int nm_cpu_count(void);

/* Atomic file output: write to "<target>.tmp.<pid>.XXXXXX" in the target's
 * folder, then rename over the target (a symlink's target: the link is
 * written through; an existing file keeps its mode).  Character devices and
 * FIFOs are written in place.  nm_atomic_open returns a FILE* opened for
 * binary write and copies the temporary's name into tmp_path when it fits
 * (the writer keeps its own copy, keyed by the FILE*); nm_atomic_commit
 * flushes, fsyncs, closes and renames; nm_atomic_abort closes and removes the
 * temp.  Opening removes stale temporaries of the same target whose process
 * is gone (a kill -9 between write and rename). */
#include <stdio.h>
FILE *nm_atomic_open(const char *path, char *tmp_path, size_t tmp_len);
nm_status nm_atomic_commit(FILE *f, const char *tmp_path, const char *path);
void nm_atomic_abort(FILE *f, const char *tmp_path);

/* Open an input file of kind `what` (e.g. "series file") for reading: a
 * regular file of at most max_bytes, checked before opening (a FIFO would
 * block, /dev/zero never ends) and again on the open file.  NULL with the
 * message set (naming path, and the limit) and *st the status otherwise. */
FILE *nm_open_input(const char *path, const char *mode, size_t max_bytes, const char *what, nm_status *st);

/* strtod that accepts subnormals and underflow to zero (errno stays 0 for
 * them; ERANGE only on overflow, where the result is +-HUGE_VAL). */
double nm_strtod(const char *s, char **end);

/* 1 if every value is finite. */
int nm_all_finite(const double *x, size_t n);

#endif
