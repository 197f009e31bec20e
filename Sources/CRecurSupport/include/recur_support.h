#ifndef RECUR_SUPPORT_H
#define RECUR_SUPPORT_H
#include <stddef.h>
/* Internal helpers of librecur (not exported: the version script keeps only recur_*). */

/* Store a copy of `msg` (len bytes, truncated to the buffer) as this thread's last error. */
void rcx_set_last_error(const char *msg, size_t len);
/* This thread's last error message, NUL-terminated; "" if none. */
const char *rcx_last_error(void);
/* RECUR_VERSION_STRING of include/recur.h (static storage). */
const char *rcx_version_string(void);
#endif
