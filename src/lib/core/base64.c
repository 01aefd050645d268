#include "core/base64.h"
#include "core/error.h"

#include <stdint.h>

static const char std_alphabet[] =
    "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789+/";
static const char url_alphabet[] =
    "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789-_";

static int encode(igtcloud__buf *out, const unsigned char *in, size_t len,
                  const char *alphabet, int pad)
{
    int rc = igtcloud__buf_grow(out, (len + 2) / 3 * 4);
    if (rc)
        return rc;
    char *p = out->ptr + out->size;
    size_t i = 0;
    for (; i + 2 < len; i += 3) {
        uint32_t v = (uint32_t)in[i] << 16 | (uint32_t)in[i + 1] << 8 | in[i + 2];
        *p++ = alphabet[v >> 18 & 63];
        *p++ = alphabet[v >> 12 & 63];
        *p++ = alphabet[v >> 6 & 63];
        *p++ = alphabet[v & 63];
    }
    if (i < len) {
        uint32_t v = (uint32_t)in[i] << 16;
        if (i + 1 < len)
            v |= (uint32_t)in[i + 1] << 8;
        *p++ = alphabet[v >> 18 & 63];
        *p++ = alphabet[v >> 12 & 63];
        if (i + 1 < len)
            *p++ = alphabet[v >> 6 & 63];
        else if (pad)
            *p++ = '=';
        if (pad)
            *p++ = '=';
    }
    out->size = (size_t)(p - out->ptr);
    out->ptr[out->size] = '\0';
    return 0;
}

int igtcloud__base64_encode(igtcloud__buf *out, const void *data, size_t len)
{
    return encode(out, data, len, std_alphabet, 1);
}

int igtcloud__base64url_encode(igtcloud__buf *out, const void *data, size_t len)
{
    return encode(out, data, len, url_alphabet, 0);
}

static int sextet(char c)
{
    if (c >= 'A' && c <= 'Z')
        return c - 'A';
    if (c >= 'a' && c <= 'z')
        return c - 'a' + 26;
    if (c >= '0' && c <= '9')
        return c - '0' + 52;
    if (c == '+' || c == '-')
        return 62;
    if (c == '/' || c == '_')
        return 63;
    return -1;
}

int igtcloud__base64_decode(igtcloud__buf *out, const char *text, size_t len)
{
    while (len > 0 && text[len - 1] == '=')
        len--;
    if (len % 4 == 1)
        return igtcloud__error_set(IGTCLOUD_EINVALID, "invalid base64 length");
    int rc = igtcloud__buf_grow(out, len / 4 * 3 + 2);
    if (rc)
        return rc;
    uint32_t acc = 0;
    int bits = 0;
    size_t start = out->size;
    for (size_t i = 0; i < len; i++) {
        int v = sextet(text[i]);
        if (v < 0) {
            out->size = start;
            out->ptr[start] = '\0';
            return igtcloud__error_set(IGTCLOUD_EINVALID,
                                       "invalid base64 character at offset %zu", i);
        }
        acc = acc << 6 | (uint32_t)v;
        bits += 6;
        if (bits >= 8) {
            bits -= 8;
            out->ptr[out->size++] = (char)(acc >> bits & 0xff);
        }
    }
    out->ptr[out->size] = '\0';
    return 0;
}
