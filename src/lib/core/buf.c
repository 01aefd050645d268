#include "core/buf.h"
#include "core/error.h"

#include <stdarg.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

void igtcloud__buf_init(igtcloud__buf *buf)
{
    buf->ptr = NULL;
    buf->size = 0;
    buf->asize = 0;
}

void igtcloud__buf_dispose(igtcloud__buf *buf)
{
    if (!buf)
        return;
    free(buf->ptr);
    igtcloud__buf_init(buf);
}

void igtcloud__buf_clear(igtcloud__buf *buf)
{
    buf->size = 0;
    if (buf->ptr)
        buf->ptr[0] = '\0';
}

int igtcloud__buf_grow(igtcloud__buf *buf, size_t extra)
{
    if (extra > SIZE_MAX - buf->size - 1)
        return igtcloud__error_oom();
    size_t need = buf->size + extra + 1;
    if (need <= buf->asize)
        return 0;
    size_t asize = buf->asize ? buf->asize : 64;
    while (asize < need)
        asize = asize > SIZE_MAX / 2 ? need : asize * 2;
    char *ptr = realloc(buf->ptr, asize);
    if (!ptr)
        return igtcloud__error_oom();
    buf->ptr = ptr;
    buf->asize = asize;
    return 0;
}

int igtcloud__buf_put(igtcloud__buf *buf, const void *data, size_t len)
{
    int rc = igtcloud__buf_grow(buf, len);
    if (rc)
        return rc;
    if (len)
        memcpy(buf->ptr + buf->size, data, len);
    buf->size += len;
    buf->ptr[buf->size] = '\0';
    return 0;
}

int igtcloud__buf_puts(igtcloud__buf *buf, const char *str)
{
    return igtcloud__buf_put(buf, str, strlen(str));
}

int igtcloud__buf_putc(igtcloud__buf *buf, char c)
{
    return igtcloud__buf_put(buf, &c, 1);
}

int igtcloud__buf_printf(igtcloud__buf *buf, const char *fmt, ...)
{
    va_list ap;
    va_start(ap, fmt);
    int len = vsnprintf(NULL, 0, fmt, ap);
    va_end(ap);
    if (len < 0)
        return igtcloud__error_set(IGTCLOUD_EINVALID, "bad format string");
    int rc = igtcloud__buf_grow(buf, (size_t)len);
    if (rc)
        return rc;
    va_start(ap, fmt);
    vsnprintf(buf->ptr + buf->size, (size_t)len + 1, fmt, ap);
    va_end(ap);
    buf->size += (size_t)len;
    return 0;
}

const char *igtcloud__buf_cstr(const igtcloud__buf *buf)
{
    return buf->ptr ? buf->ptr : "";
}

char *igtcloud__buf_detach(igtcloud__buf *buf)
{
    if (!buf->ptr && igtcloud__buf_grow(buf, 0))
        return NULL;
    char *ptr = buf->ptr;
    igtcloud__buf_init(buf);
    return ptr;
}
