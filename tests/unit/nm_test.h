/* nm_test.h -- a minimal test harness: checks count failures and print where.
 *
 *   int main(void) { NM_RUN(test_x); NM_RUN(test_y); return nm_test_report(); }
 *
 * CHECK_CLOSE(a, b, rtol, atol) passes when |a-b| <= atol + rtol*|b|. */
#ifndef NM_TEST_H
#define NM_TEST_H

#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

static int nm_test_failures = 0;
static int nm_test_checks = 0;

#define CHECK(cond)                                                            \
    do {                                                                       \
        nm_test_checks++;                                                      \
        if (!(cond)) {                                                         \
            nm_test_failures++;                                                \
            fprintf(stderr, "%s:%d: CHECK failed: %s\n", __FILE__, __LINE__, #cond); \
        }                                                                      \
    } while (0)

#define CHECK_MSG(cond, ...)                                                   \
    do {                                                                       \
        nm_test_checks++;                                                      \
        if (!(cond)) {                                                         \
            nm_test_failures++;                                                \
            fprintf(stderr, "%s:%d: CHECK failed: %s: ", __FILE__, __LINE__, #cond); \
            fprintf(stderr, __VA_ARGS__);                                      \
            fputc('\n', stderr);                                               \
        }                                                                      \
    } while (0)

#define CHECK_CLOSE(a, b, rtol, atol)                                          \
    do {                                                                       \
        double nm_a_ = (double)(a), nm_b_ = (double)(b);                       \
        nm_test_checks++;                                                      \
        if (!(fabs(nm_a_ - nm_b_) <= (atol) + (rtol)*fabs(nm_b_))) {           \
            nm_test_failures++;                                                \
            fprintf(stderr, "%s:%d: CHECK_CLOSE failed: %s = %.10g, %s = %.10g (rtol %g, atol %g)\n", \
                    __FILE__, __LINE__, #a, nm_a_, #b, nm_b_, (double)(rtol), (double)(atol)); \
        }                                                                      \
    } while (0)

/* The status must be NM_OK; print the library's message otherwise. */
#define CHECK_OK(expr)                                                         \
    do {                                                                       \
        int nm_st_ = (int)(expr);                                              \
        nm_test_checks++;                                                      \
        if (nm_st_ != 0) {                                                     \
            nm_test_failures++;                                                \
            fprintf(stderr, "%s:%d: %s returned %d: %s\n", __FILE__, __LINE__, #expr, \
                    nm_st_, nm_last_error());                                  \
        }                                                                      \
    } while (0)

/* The status must be the given error and the message must mention `needle`. */
#define CHECK_FAILS(expr, code, needle)                                        \
    do {                                                                       \
        int nm_st_ = (int)(expr);                                              \
        nm_test_checks++;                                                      \
        if (nm_st_ != (int)(code) || !strstr(nm_last_error(), (needle))) {     \
            nm_test_failures++;                                                \
            fprintf(stderr, "%s:%d: %s gave %d \"%s\", expected %d mentioning \"%s\"\n", \
                    __FILE__, __LINE__, #expr, nm_st_, nm_last_error(), (int)(code), (needle)); \
        }                                                                      \
    } while (0)

#define NM_RUN(fn)                                                             \
    do {                                                                       \
        int before_ = nm_test_failures;                                        \
        fn();                                                                  \
        fprintf(stderr, "%-40s %s\n", #fn, nm_test_failures == before_ ? "ok" : "FAILED"); \
    } while (0)

static inline int nm_test_report(void)
{
    fprintf(stderr, "%d checks, %d failures\n", nm_test_checks, nm_test_failures);
    return nm_test_failures ? 1 : 0;
}

/* A scratch path under $NM_TEST_TMPDIR (or /tmp). */
static inline const char *nm_test_path(char *buf, size_t len, const char *name)
{
    const char *d = getenv("NM_TEST_TMPDIR");
    snprintf(buf, len, "%s/%s", d && *d ? d : "/tmp", name);
    return buf;
}

#endif
