#include "recur_support.h"
#include "recur.h"
#include <string.h>

#define RCX_ERROR_CAPACITY 1024

static _Thread_local char rcx_error_buffer[RCX_ERROR_CAPACITY];

void rcx_set_last_error(const char *msg, size_t len) {
    if (msg == NULL) {
        rcx_error_buffer[0] = '\0';
        return;
    }
    if (len > RCX_ERROR_CAPACITY - 1) {
        len = RCX_ERROR_CAPACITY - 1;
        /* Do not cut a UTF-8 sequence in half. */
        while (len > 0 && (((unsigned char)msg[len]) & 0xC0) == 0x80) {
            len--;
        }
    }
    memcpy(rcx_error_buffer, msg, len);
    rcx_error_buffer[len] = '\0';
}

const char *rcx_last_error(void) { return rcx_error_buffer; }

const char *rcx_version_string(void) { return RECUR_VERSION_STRING; }
