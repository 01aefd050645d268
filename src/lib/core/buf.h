#ifndef IGTCLOUD_CORE_BUF_H
#define IGTCLOUD_CORE_BUF_H

#include <stddef.h>

/*
 * A growable byte buffer that is always NUL-terminated, so it doubles as a
 * string builder. Initialise with IGTCLOUD_BUF_INIT or igtcloud__buf_init().
 */
typedef struct igtcloud__buf {
    char *ptr;
    size_t size;   /* bytes in use, not counting the terminating NUL */
    size_t asize;  /* bytes allocated */
} igtcloud__buf;

#define IGTCLOUD_BUF_INIT { NULL, 0, 0 }

void igtcloud__buf_init(igtcloud__buf *buf);
void igtcloud__buf_dispose(igtcloud__buf *buf);
void igtcloud__buf_clear(igtcloud__buf *buf);

/* Make room for `extra` more bytes. Returns 0 or IGTCLOUD_ENOMEM. */
int igtcloud__buf_grow(igtcloud__buf *buf, size_t extra);
int igtcloud__buf_put(igtcloud__buf *buf, const void *data, size_t len);
int igtcloud__buf_puts(igtcloud__buf *buf, const char *str);
int igtcloud__buf_putc(igtcloud__buf *buf, char c);
int igtcloud__buf_printf(igtcloud__buf *buf, const char *fmt, ...)
    __attribute__((format(printf, 2, 3)));

/* The contents as a string ("" for an empty buffer); borrowed. */
const char *igtcloud__buf_cstr(const igtcloud__buf *buf);

/* Hand the allocation to the caller (never NULL on success) and reset. */
char *igtcloud__buf_detach(igtcloud__buf *buf);

#endif
