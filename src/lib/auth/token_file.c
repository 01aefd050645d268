#include "auth/token_file.h"
#include "auth/jwt.h"
#include "core/base64.h"
#include "core/error.h"
#include "core/fdio.h"

#include <errno.h>
#include <fcntl.h>
#include <openssl/crypto.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <time.h>
#include <unistd.h>

/* Largest file we read: the format is 20480 bytes; anything far larger is not ours. */
#define READ_MAX 65536

void igtcloud__token_dispose(igtcloud__token *token)
{
    if (!token)
        return;
    free(token->sub);
    if (token->jwt)
        OPENSSL_cleanse(token->jwt, strlen(token->jwt));
    free(token->jwt);
    if (token->csrf)
        OPENSSL_cleanse(token->csrf, strlen(token->csrf));
    free(token->csrf);
    free(token->domain);
    json_decref(token->jwt_data);
    memset(token, 0, sizeof(*token));
}

static int dup_field(char **out, const char *value)
{
    *out = NULL;
    if (!value)
        return 0;
    *out = strdup(value);
    return *out ? 0 : igtcloud__error_oom();
}

int igtcloud__token_copy(igtcloud__token *out, const igtcloud__token *src)
{
    igtcloud__token t;
    memset(&t, 0, sizeof(t));
    int rc = dup_field(&t.sub, src->sub);
    if (!rc)
        rc = dup_field(&t.jwt, src->jwt);
    if (!rc)
        rc = dup_field(&t.csrf, src->csrf);
    if (!rc)
        rc = dup_field(&t.domain, src->domain);
    if (!rc && src->jwt_data) {
        t.jwt_data = json_deep_copy(src->jwt_data);
        if (!t.jwt_data)
            rc = igtcloud__error_oom();
    }
    t.exp = src->exp;
    if (rc) {
        igtcloud__token_dispose(&t);
        return rc;
    }
    *out = t;
    return 0;
}

int igtcloud__token_encode(igtcloud__buf *out, const igtcloud__token *token)
{
    int rc = 0;
    char *text = NULL;
    json_t *obj = json_object();
    json_t *data = token->jwt_data ? json_incref(token->jwt_data) : json_object();
    /* The reference writes json.dumps(): keys in this order, ", " and ": ". */
    if (!obj || !data || json_object_set_new(obj, "sub", json_string(token->sub ? token->sub : "")) ||
        json_object_set_new(obj, "jwt", json_string(token->jwt ? token->jwt : "")) ||
        json_object_set(obj, "jwt_data", data) ||
        json_object_set_new(obj, "csrf", json_string(token->csrf ? token->csrf : "")) ||
        json_object_set_new(obj, "domain", json_string(token->domain ? token->domain : ""))) {
        rc = igtcloud__error_oom();
        goto done;
    }
    text = json_dumps(obj, JSON_PRESERVE_ORDER | JSON_ENSURE_ASCII);
    if (!text) {
        rc = igtcloud__error_oom();
        goto done;
    }
    rc = igtcloud__base64_encode(out, text, strlen(text));
done:
    if (text) {
        OPENSSL_cleanse(text, strlen(text));
        free(text);
    }
    json_decref(data);
    json_decref(obj);
    return rc;
}

static int is_strip(char c)
{
    return c == '\0' || c == ' ' || c == '\t' || c == '\r' || c == '\n' || c == '\v' ||
           c == '\f';
}

static int string_field(char **out, json_t *obj, const char *key, int required)
{
    json_t *v = json_object_get(obj, key);
    if (json_is_string(v))
        return dup_field(out, json_string_value(v));
    if (!required && (!v || json_is_null(v)))
        return dup_field(out, "");
    return igtcloud__error_set(IGTCLOUD_EPROTO, "the token has no '%s'", key);
}

int igtcloud__token_decode(igtcloud__token *out, const char *data, size_t len)
{
    int rc = 0;
    igtcloud__buf raw = IGTCLOUD_BUF_INIT;
    json_t *obj = NULL;
    igtcloud__token t;
    memset(&t, 0, sizeof(t));

    /* The reference reads the first line, then strips whitespace and NULs. */
    const char *nl = memchr(data, '\n', len);
    size_t end = nl ? (size_t)(nl - data) : len;
    size_t start = 0;
    while (start < end && is_strip(data[start]))
        start++;
    while (end > start && is_strip(data[end - 1]))
        end--;
    if (start == end) {
        rc = igtcloud__error_set(IGTCLOUD_EPROTO, "the token file is empty");
        goto done;
    }
    if (igtcloud__base64_decode(&raw, data + start, end - start)) {
        rc = igtcloud__error_set(IGTCLOUD_EPROTO, "the token file is not base64");
        goto done;
    }
    obj = json_loadb(raw.ptr, raw.size, 0, NULL);
    if (!json_is_object(obj)) {
        rc = igtcloud__error_set(IGTCLOUD_EPROTO, "the token file does not hold a JSON object");
        goto done;
    }
    rc = string_field(&t.sub, obj, "sub", 0);
    if (!rc)
        rc = string_field(&t.jwt, obj, "jwt", 1);
    if (!rc)
        rc = string_field(&t.csrf, obj, "csrf", 1);
    if (!rc)
        rc = string_field(&t.domain, obj, "domain", 1);
    if (rc)
        goto done;
    t.jwt_data = json_incref(json_object_get(obj, "jwt_data"));
    if (!json_is_object(t.jwt_data)) {
        rc = igtcloud__error_set(IGTCLOUD_EPROTO, "the token has no 'jwt_data' object");
        goto done;
    }
    rc = igtcloud__jwt_claim_exp(&t.exp, t.jwt_data);
    if (rc)
        goto done;
    *out = t;
    memset(&t, 0, sizeof(t));
done:
    igtcloud__token_dispose(&t);
    json_decref(obj);
    if (raw.ptr)
        OPENSSL_cleanse(raw.ptr, raw.size);
    igtcloud__buf_dispose(&raw);
    return rc;
}

int igtcloud__token_file_path(igtcloud__buf *out, const char *override)
{
    if (override && *override)
        return igtcloud__buf_puts(out, override);
    const char *env = getenv("CLOUD_TOKEN_MMAP");
    if (env && *env)
        return igtcloud__buf_puts(out, env);
    const char *runtime = getenv("XDG_RUNTIME_DIR");
    struct stat st;
    if (runtime && runtime[0] == '/' && stat(runtime, &st) == 0 && S_ISDIR(st.st_mode))
        return igtcloud__buf_printf(out, "%s/igtcloud-token", runtime);
    const char *tmp = getenv("TMPDIR");
    if (!tmp || tmp[0] != '/')
        tmp = "/tmp";
    return igtcloud__buf_printf(out, "%s/igtcloud-token-%lu", tmp, (unsigned long)geteuid());
}

static void pause_ms(long ms)
{
    struct timespec ts = { ms / 1000, (ms % 1000) * 1000000L };
    while (nanosleep(&ts, &ts) != 0 && errno == EINTR) {
    }
}

static int lock_file(int fd, short type, int wait)
{
    struct flock fl;
    memset(&fl, 0, sizeof(fl));
    fl.l_type = type;
    fl.l_whence = SEEK_SET;
    if (wait)
        return fcntl(fd, F_SETLKW, &fl);
    /* Readers wait at most about two seconds: a writer holds it for one pwrite. */
    for (int i = 0; i < 200; i++) {
        if (fcntl(fd, F_SETLK, &fl) == 0)
            return 0;
        if (errno != EACCES && errno != EAGAIN && errno != EINTR)
            return -1;
        pause_ms(10);
    }
    return -1;
}

static void unlock_file(int fd)
{
    struct flock fl;
    memset(&fl, 0, sizeof(fl));
    fl.l_type = F_UNLCK;
    fl.l_whence = SEEK_SET;
    fcntl(fd, F_SETLK, &fl);
}

/* Open safely, check the file is ours and private, read a stable snapshot. */
static int read_snapshot(char *buf, size_t size, size_t *len, const char *path)
{
    int rc = 0;
    char *second = NULL;
    int fd = open(path, O_RDONLY | O_NOFOLLOW | O_CLOEXEC | O_NONBLOCK | O_NOCTTY);
    if (fd < 0) {
        if (errno == ENOENT || errno == ENOTDIR)
            return igtcloud__error_set(IGTCLOUD_ENOTFOUND,
                                       "not logged in: no token file at %s; run 'igtcloud login'",
                                       path);
        if (errno == ELOOP)
            return igtcloud__error_set(IGTCLOUD_EPERM,
                                       "refusing token file %s: it is a symbolic link", path);
        return igtcloud__error_set(IGTCLOUD_EPERM, "cannot open token file %s: %s", path,
                                   strerror(errno));
    }
    struct stat st;
    if (fstat(fd, &st) != 0) {
        rc = igtcloud__error_set(IGTCLOUD_EIO, "cannot stat token file %s: %s", path,
                                 strerror(errno));
        goto done;
    }
    if (!S_ISREG(st.st_mode)) {
        rc = igtcloud__error_set(IGTCLOUD_EPERM, "refusing token file %s: not a regular file",
                                 path);
        goto done;
    }
    if (st.st_uid != geteuid()) {
        rc = igtcloud__error_set(IGTCLOUD_EPERM,
                                 "refusing token file %s: owned by uid %lu, not by you", path,
                                 (unsigned long)st.st_uid);
        goto done;
    }
    if (st.st_mode & 077) {
        rc = igtcloud__error_set(IGTCLOUD_EPERM,
                                 "refusing token file %s: other users can access it (mode %04o); "
                                 "delete it and log in again",
                                 path, (unsigned)(st.st_mode & 07777));
        goto done;
    }
    second = malloc(size);
    if (!second) {
        rc = igtcloud__error_oom();
        goto done;
    }
    int locked = lock_file(fd, F_RDLCK, 0) == 0;
    /*
     * Two equal reads in a row: writers that do not lock (the reference
     * client) cannot hand us half of one token and half of the next.
     */
    ssize_t n1 = -1, n2 = -1;
    int stable = 0, read_errno = 0;
    for (int attempt = 0; attempt < 5 && !stable && !read_errno; attempt++) {
        n1 = igtcloud__pread_full(fd, buf, size, 0);
        if (n1 < 0)
            read_errno = errno;
        n2 = n1 < 0 ? -1 : igtcloud__pread_full(fd, second, size, 0);
        if (n1 >= 0 && n2 < 0)
            read_errno = errno;
        stable = n1 >= 0 && n1 == n2 && memcmp(buf, second, (size_t)n1) == 0;
        if (!stable && !read_errno)
            pause_ms(20);
    }
    if (locked)
        unlock_file(fd);
    if (read_errno) {
        rc = igtcloud__error_set(IGTCLOUD_EIO, "cannot read token file %s: %s", path,
                                 strerror(read_errno));
        goto done;
    }
    if (!stable) {
        rc = igtcloud__error_set(IGTCLOUD_EPROTO, "token file %s keeps changing", path);
        goto done;
    }
    *len = (size_t)n1;
done:
    if (second) {
        OPENSSL_cleanse(second, size);
        free(second);
    }
    close(fd);
    return rc;
}

int igtcloud__token_file_read(igtcloud__token *out, const char *path)
{
    int rc = 0;
    size_t len = 0;
    char *buf = malloc(READ_MAX);
    if (!buf)
        return igtcloud__error_oom();
    /* One retry: a writer that replaces the file or crashed mid-write gets a second look. */
    for (int attempt = 0; attempt < 2; attempt++) {
        rc = read_snapshot(buf, READ_MAX, &len, path);
        if (rc)
            break;
        rc = igtcloud__token_decode(out, buf, len);
        if (rc == 0)
            break;
        if (attempt == 0)
            pause_ms(50);
    }
    if (rc == IGTCLOUD_EPROTO) {
        char why[256];
        snprintf(why, sizeof(why), "%s", igtcloud_error_last()->message);
        rc = igtcloud__error_set(IGTCLOUD_EPROTO,
                                 "token file %s is damaged or not a token file (%s); "
                                 "log in again",
                                 path, why);
    }
    OPENSSL_cleanse(buf, READ_MAX);
    free(buf);
    return rc;
}

static int fill_content(unsigned char **out, const igtcloud__token *token)
{
    igtcloud__buf text = IGTCLOUD_BUF_INIT;
    int rc = igtcloud__token_encode(&text, token);
    if (rc)
        goto done;
    if (text.size >= IGTCLOUD__TOKEN_FILE_SIZE) {
        rc = igtcloud__error_set(IGTCLOUD_EINVALID, "the token is too large for the token file");
        goto done;
    }
    unsigned char *content = calloc(1, IGTCLOUD__TOKEN_FILE_SIZE);
    if (!content) {
        rc = igtcloud__error_oom();
        goto done;
    }
    memcpy(content, text.ptr, text.size);
    *out = content;
done:
    if (text.ptr)
        OPENSSL_cleanse(text.ptr, text.size);
    igtcloud__buf_dispose(&text);
    return rc;
}

static void free_content(unsigned char *content)
{
    if (!content)
        return;
    OPENSSL_cleanse(content, IGTCLOUD__TOKEN_FILE_SIZE);
    free(content);
}

static int write_at_zero(int fd, const unsigned char *data, size_t len)
{
    size_t done = 0;
    while (done < len) {
        ssize_t n = pwrite(fd, data + done, len - done, (off_t)done);
        if (n < 0 && errno == EINTR)
            continue;
        if (n <= 0)
            return -1;
        done += (size_t)n;
    }
    return 0;
}

int igtcloud__token_writer_create(igtcloud__token_writer *w, const char *path,
                                  const igtcloud__token *token)
{
    int rc = 0;
    int fd = -1;
    unsigned char *content = NULL;
    igtcloud__buf tmp = IGTCLOUD_BUF_INIT;
    char *path_copy = NULL;

    rc = fill_content(&content, token);
    if (rc)
        goto done;
    path_copy = strdup(path);
    rc = path_copy ? igtcloud__buf_printf(&tmp, "%s.XXXXXX", path) : igtcloud__error_oom();
    if (rc)
        goto done;
    fd = mkstemp(tmp.ptr);
    if (fd < 0) {
        rc = igtcloud__error_set(IGTCLOUD_EIO, "cannot create token file %s: %s", path,
                                 strerror(errno));
        goto done;
    }
    if (fcntl(fd, F_SETFD, FD_CLOEXEC) != 0 || fchmod(fd, 0600) != 0 ||
        write_at_zero(fd, content, IGTCLOUD__TOKEN_FILE_SIZE) != 0) {
        rc = igtcloud__error_set(IGTCLOUD_EIO, "cannot write token file %s: %s", path,
                                 strerror(errno));
        unlink(tmp.ptr);
        goto done;
    }
    if (rename(tmp.ptr, path) != 0) {
        rc = igtcloud__error_set(errno == EACCES || errno == EPERM ? IGTCLOUD_EPERM : IGTCLOUD_EIO,
                                 "cannot create token file %s: %s", path, strerror(errno));
        unlink(tmp.ptr);
        goto done;
    }
    struct stat st;
    if (fstat(fd, &st) != 0) {
        rc = igtcloud__error_set(IGTCLOUD_EIO, "cannot stat token file %s: %s", path,
                                 strerror(errno));
        goto done;
    }
    igtcloud__token_writer_remove(w);
    w->fd = fd;
    w->path = path_copy;
    w->dev = st.st_dev;
    w->ino = st.st_ino;
    fd = -1;
    path_copy = NULL;
done:
    if (fd >= 0)
        close(fd);
    free(path_copy);
    igtcloud__buf_dispose(&tmp);
    free_content(content);
    return rc;
}

int igtcloud__token_writer_update(igtcloud__token_writer *w, const igtcloud__token *token)
{
    unsigned char *content = NULL;
    if (w->fd < 0)
        return igtcloud__error_set(IGTCLOUD_EINVALID, "no token file is published");
    int rc = fill_content(&content, token);
    if (rc)
        return rc;
    if (lock_file(w->fd, F_WRLCK, 1) != 0) {
        rc = igtcloud__error_set(IGTCLOUD_EIO, "cannot lock token file %s: %s", w->path,
                                 strerror(errno));
        goto done;
    }
    if (write_at_zero(w->fd, content, IGTCLOUD__TOKEN_FILE_SIZE) != 0)
        rc = igtcloud__error_set(IGTCLOUD_EIO, "cannot write token file %s: %s", w->path,
                                 strerror(errno));
    unlock_file(w->fd);
done:
    free_content(content);
    return rc;
}

int igtcloud__token_writer_remove(igtcloud__token_writer *w)
{
    int rc = 0;
    if (w->fd >= 0 && w->path) {
        struct stat st;
        if (lstat(w->path, &st) == 0 && st.st_dev == w->dev && st.st_ino == w->ino &&
            unlink(w->path) != 0)
            rc = igtcloud__error_set(IGTCLOUD_EIO, "cannot delete token file %s: %s", w->path,
                                     strerror(errno));
    }
    if (w->fd >= 0)
        close(w->fd);
    free(w->path);
    w->fd = -1;
    w->path = NULL;
    return rc;
}
