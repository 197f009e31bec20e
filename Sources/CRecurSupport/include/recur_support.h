#ifndef RECUR_SUPPORT_H
#define RECUR_SUPPORT_H
#include <stddef.h>
#include <stdint.h>
/* Internal helpers of librecur (not exported: the version script keeps only recur_*). */

/* Store a copy of `msg` (len bytes, truncated to the buffer) as this thread's last error. */
void rcx_set_last_error(const char *msg, size_t len);
/* This thread's last error message, NUL-terminated; "" if none. */
const char *rcx_last_error(void);
/* recur_model_config as version 1 had it (72 bytes on 64-bit targets): what the deprecated
 * by-value recur_model_default_config() returns, so it never writes past an older caller's
 * struct. */
typedef struct rcx_model_config_v1 {
    uint32_t struct_size;
    uint32_t input_size;
    uint32_t num_layers;
    uint32_t output_size;
    const uint32_t *layer_sizes;
    const int32_t *activations;
    int32_t output_transform;
    int32_t weight_dtype;
    const char *const *labels;
    size_t num_metadata;
    const char *const *metadata_keys;
    const char *const *metadata_values;
} rcx_model_config_v1;

/* RECUR_VERSION_STRING of include/recur.h (static storage). */
const char *rcx_version_string(void);
#endif
