/* Error reporting inside the library: set a thread-local message, return a code. */
#ifndef ST_CORE_STATUS_H
#define ST_CORE_STATUS_H
#include "softthink.h"

#if defined(__GNUC__)
#define ST_PRINTF(a, b) __attribute__((format(printf, a, b)))
#else
#define ST_PRINTF(a, b)
#endif

/* Format the message for `code` into this thread's error buffer; returns code. */
st_status st_errorf(st_status code, const char *fmt, ...) ST_PRINTF(2, 3);
/* Prefix the current message: "<prefix>: <old message>"; returns code. */
st_status st_error_prefix(st_status code, const char *fmt, ...) ST_PRINTF(2, 3);
void st_error_clear(void);

#define ST_TRY(expr)                     \
    do {                                 \
        st_status st_try_s_ = (expr);    \
        if (st_try_s_ != ST_OK) return st_try_s_; \
    } while (0)

#endif
