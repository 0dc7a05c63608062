/* error.c -- status codes and the thread-local last-error message. */
#include "internal.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#define NM_ERRMSG_LEN 1024

/* One buffer per thread: NEURON calls the library from several threads. */
static _Thread_local char nm_errmsg[NM_ERRMSG_LEN];

const char *nm_version(void) { return "0.1.0"; }

const char *nm_strerror(nm_status status)
{
    switch (status) {
    case NM_OK: return "success";
    case NM_EINVAL: return "invalid argument";
    case NM_ENOMEM: return "out of memory";
    case NM_EIO: return "input/output error";
    case NM_EFORMAT: return "malformed input";
    case NM_EDATA: return "unusable data";
    case NM_ENUMERIC: return "numerical failure";
    case NM_ECHECKSUM: return "checksum mismatch";
    case NM_EVERSION: return "unsupported version";
    case NM_ENOTFOUND: return "not found";
    case NM_ETHREAD: return "thread error";
    }
    return "unknown status";
}

const char *nm_last_error(void) { return nm_errmsg; }

void nm_clear_error(void) { nm_errmsg[0] = '\0'; }

nm_status nm_fail(nm_status code, const char *fmt, ...)
{
    va_list ap;
    va_start(ap, fmt);
    vsnprintf(nm_errmsg, sizeof nm_errmsg, fmt, ap);
    va_end(ap);
    return code;
}

nm_status nm_fail_prefix(nm_status code, const char *fmt, ...)
{
    char old[NM_ERRMSG_LEN];
    memcpy(old, nm_errmsg, sizeof old);
    va_list ap;
    va_start(ap, fmt);
    int n = vsnprintf(nm_errmsg, sizeof nm_errmsg, fmt, ap);
    va_end(ap);
    /* Append ": <old message>" after the prefix, truncating at the buffer end. */
    size_t used = n < 0 ? 0 : (size_t)n;
    if (used > sizeof nm_errmsg - 1) used = sizeof nm_errmsg - 1;
    const char *sep = ": ";
    for (const char *q = sep; *q && used < sizeof nm_errmsg - 1; q++) nm_errmsg[used++] = *q;
    for (const char *q = old; *q && used < sizeof nm_errmsg - 1; q++) nm_errmsg[used++] = *q;
    nm_errmsg[used] = '\0';
    return code;
}

void *nm_malloc(size_t size)
{
    void *p = malloc(size ? size : 1);
    if (!p) nm_fail(NM_ENOMEM, "out of memory allocating %zu bytes", size);
    return p;
}

void *nm_calloc(size_t n, size_t size)
{
    void *p = calloc(n ? n : 1, size ? size : 1);
    if (!p) nm_fail(NM_ENOMEM, "out of memory allocating %zu x %zu bytes", n, size);
    return p;
}
