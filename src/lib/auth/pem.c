#include "auth/session_int.h"
#include "core/error.h"
#include "core/fdio.h"

#include <errno.h>
#include <fcntl.h>
#include <openssl/crypto.h>
#include <openssl/err.h>
#include <openssl/pem.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#define KEY_FILE_MAX 65536

static int is_space(char c)
{
    return c == ' ' || c == '\t' || c == '\r' || c == '\n' || c == '\v' || c == '\f';
}

int igtcloud__pem_reflow(igtcloud__buf *out, const char *pem, size_t len)
{
    const char *end = pem + len;
    const char *begin = NULL;
    for (const char *p = pem; p + 11 <= end; p++) {
        if (memcmp(p, "-----BEGIN ", 11) == 0) {
            begin = p;
            break;
        }
    }
    if (!begin)
        return igtcloud__error_set(IGTCLOUD_EINVALID, "not a PEM block (no BEGIN line)");
    const char *label = begin + 11;
    const char *label_end = NULL;
    for (const char *p = label; p + 5 <= end; p++) {
        if (memcmp(p, "-----", 5) == 0) {
            label_end = p;
            break;
        }
        if (*p == '\n' || *p == '\r')
            break;
    }
    if (!label_end || label_end == label || label_end - label > 64)
        return igtcloud__error_set(IGTCLOUD_EINVALID, "not a PEM block (bad BEGIN line)");
    size_t label_len = (size_t)(label_end - label);
    const char *body = label_end + 5;
    const char *footer = NULL;
    for (const char *p = body; p + 9 + label_len + 5 <= end; p++) {
        if (memcmp(p, "-----END ", 9) == 0) {
            footer = p;
            break;
        }
    }
    if (!footer || memcmp(footer + 9, label, label_len) != 0 ||
        memcmp(footer + 9 + label_len, "-----", 5) != 0)
        return igtcloud__error_set(IGTCLOUD_EINVALID, "not a PEM block (no matching END line)");

    int rc = igtcloud__buf_printf(out, "-----BEGIN %.*s-----\n", (int)label_len, label);
    size_t column = 0;
    for (const char *p = body; !rc && p < footer; p++) {
        if (is_space(*p))
            continue;
        /* Headers such as "Proc-Type:" mean an encrypted key we cannot use. */
        if (*p == ':')
            return igtcloud__error_set(IGTCLOUD_EINVALID, "encrypted PEM keys are not supported");
        rc = igtcloud__buf_putc(out, *p);
        if (!rc && ++column == 64) {
            rc = igtcloud__buf_putc(out, '\n');
            column = 0;
        }
    }
    if (!rc && column)
        rc = igtcloud__buf_putc(out, '\n');
    if (!rc)
        rc = igtcloud__buf_printf(out, "-----END %.*s-----\n", (int)label_len, label);
    return rc;
}

static int no_passphrase(char *buf, int size, int rwflag, void *u)
{
    (void)buf;
    (void)size;
    (void)rwflag;
    (void)u;
    return -1;
}

int igtcloud__service_key_load(EVP_PKEY **out, const char *path)
{
    int rc = 0;
    char *text = NULL;
    size_t len = 0;
    igtcloud__buf pem = IGTCLOUD_BUF_INIT;
    BIO *bio = NULL;
    EVP_PKEY *key = NULL;
    int fd = open(path, O_RDONLY | O_CLOEXEC | O_NONBLOCK | O_NOCTTY);
    if (fd < 0)
        return igtcloud__error_set(IGTCLOUD_EIO, "cannot read service key %s: %s", path,
                                   strerror(errno));
    struct stat st;
    if (fstat(fd, &st) != 0 || !S_ISREG(st.st_mode)) {
        rc = igtcloud__error_set(IGTCLOUD_EIO, "cannot read service key %s: not a regular file",
                                 path);
        goto done;
    }
    text = malloc(KEY_FILE_MAX + 1);
    if (!text) {
        rc = igtcloud__error_oom();
        goto done;
    }
    for (;;) {
        ssize_t n = read(fd, text + len, KEY_FILE_MAX + 1 - len);
        if (n < 0 && errno == EINTR)
            continue;
        if (n < 0) {
            rc = igtcloud__error_set(IGTCLOUD_EIO, "cannot read service key %s: %s", path,
                                     strerror(errno));
            goto done;
        }
        if (n == 0)
            break;
        len += (size_t)n;
        if (len > KEY_FILE_MAX) {
            rc = igtcloud__error_set(IGTCLOUD_EINVALID, "service key %s is too large", path);
            goto done;
        }
    }
    if (igtcloud__pem_reflow(&pem, text, len)) {
        char why[256];
        snprintf(why, sizeof(why), "%s", igtcloud_error_last()->message);
        rc = igtcloud__error_set(IGTCLOUD_EINVALID,
                                 "service key %s is not a PEM private key (%s)", path, why);
        goto done;
    }
    bio = BIO_new_mem_buf(pem.ptr, (int)pem.size);
    if (!bio) {
        rc = igtcloud__error_oom();
        goto done;
    }
    key = PEM_read_bio_PrivateKey(bio, NULL, no_passphrase, NULL);
    ERR_clear_error();
    if (!key || EVP_PKEY_get_base_id(key) != EVP_PKEY_RSA) {
        rc = igtcloud__error_set(IGTCLOUD_EINVALID,
                                 "service key %s is not an unencrypted RSA private key in PEM "
                                 "(PKCS#1 or PKCS#8)",
                                 path);
        goto done;
    }
    *out = key;
    key = NULL;
done:
    EVP_PKEY_free(key);
    BIO_free(bio);
    if (pem.ptr)
        OPENSSL_cleanse(pem.ptr, pem.size);
    igtcloud__buf_dispose(&pem);
    if (text) {
        OPENSSL_cleanse(text, KEY_FILE_MAX + 1);
        free(text);
    }
    close(fd);
    return rc;
}

int igtcloud__service_id_from_path(igtcloud__buf *out, const char *path)
{
    const char *name = strrchr(path, '/');
    name = name ? name + 1 : path;
    const char *dot = strrchr(name, '.');
    size_t len = dot && dot != name ? (size_t)(dot - name) : strlen(name);
    if (len == 0)
        return igtcloud__error_set(IGTCLOUD_EINVALID,
                                   "cannot tell the service id from key file %s", path);
    return igtcloud__buf_put(out, name, len);
}

int igtcloud_private_key_save(const char *pem, const char *path)
{
    int rc = 0;
    int fd = -1;
    igtcloud__buf text = IGTCLOUD_BUF_INIT;
    if (!pem || !path)
        return igtcloud__error_set(IGTCLOUD_EINVALID, "no key or no path given");
    if (igtcloud__pem_reflow(&text, pem, strlen(pem))) {
        char why[256];
        snprintf(why, sizeof(why), "%s", igtcloud_error_last()->message);
        rc = igtcloud__error_set(IGTCLOUD_EINVALID, "the private key is not PEM (%s)", why);
        goto done;
    }
    fd = open(path, O_WRONLY | O_CREAT | O_EXCL | O_NOFOLLOW | O_CLOEXEC, 0600);
    if (fd < 0) {
        rc = igtcloud__error_set(errno == EEXIST ? IGTCLOUD_EEXISTS : IGTCLOUD_EIO,
                                 "cannot create key file %s: %s", path, strerror(errno));
        goto done;
    }
    if (igtcloud__write_all(fd, text.ptr, text.size)) {
        rc = igtcloud__error_set(IGTCLOUD_EIO, "cannot write key file %s: %s", path,
                                 strerror(errno));
        unlink(path);
        goto done;
    }
    if (close(fd) != 0) {
        fd = -1;
        rc = igtcloud__error_set(IGTCLOUD_EIO, "cannot write key file %s: %s", path,
                                 strerror(errno));
        unlink(path);
        goto done;
    }
    fd = -1;
done:
    if (fd >= 0)
        close(fd);
    if (text.ptr)
        OPENSSL_cleanse(text.ptr, text.size);
    igtcloud__buf_dispose(&text);
    return rc;
}
