/* The C tests' assertion: counts passes and failures, prints the failing condition with the
 * thread's last recur error message. Include after recur.h (any version of it). */
#ifndef RECUR_TEST_CHECK_H
#define RECUR_TEST_CHECK_H
#include <stdio.h>

static int passed = 0, failed = 0;
#define CHECK(cond)                                                                          \
    do {                                                                                     \
        if (cond) passed++;                                                                  \
        else {                                                                               \
            failed++;                                                                        \
            fprintf(stderr, "FAIL %s:%d: %s (last error: %s)\n", __FILE__, __LINE__, #cond,   \
                    recur_last_error_message());                                             \
        }                                                                                    \
    } while (0)
#endif
