#include "status.h"

#include <stdarg.h>
#include <stdio.h>
#include <string.h>

static _Thread_local char g_msg[1024];

const char *st_last_error(void) { return g_msg; }

void st_error_clear(void) { g_msg[0] = 0; }

const char *st_status_name(st_status s) {
    switch (s) {
    case ST_OK: return "ok";
    case ST_E_IO: return "I/O error";
    case ST_E_FORMAT: return "format error";
    case ST_E_UNSUPPORTED: return "unsupported";
    case ST_E_ARG: return "invalid argument";
    case ST_E_NOMEM: return "out of memory";
    case ST_E_FULL: return "capacity exhausted";
    case ST_E_INTERNAL: return "internal error";
    }
    return "unknown status";
}

st_status st_errorf(st_status code, const char *fmt, ...) {
    va_list ap;
    va_start(ap, fmt);
    vsnprintf(g_msg, sizeof g_msg, fmt, ap);
    va_end(ap);
    return code;
}

st_status st_error_prefix(st_status code, const char *fmt, ...) {
    char old[sizeof g_msg];
    memcpy(old, g_msg, sizeof old);
    va_list ap;
    va_start(ap, fmt);
    int n = vsnprintf(g_msg, sizeof g_msg, fmt, ap);
    va_end(ap);
    if (n >= 0 && (size_t)n < sizeof g_msg) snprintf(g_msg + n, sizeof g_msg - (size_t)n, ": %s", old);
    return code;
}
