/*
 * The journal of multipart uploads in flight (see upload_int.h): what lets a
 * run killed with SIGKILL resume its large files through ListParts instead of
 * starting them again and leaving the old upload open on the server.
 */
#include "tools/upload_int.h"

#include "core/buf.h"
#include "core/error.h"
#include "core/fdio.h"

#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/file.h>
#include <sys/stat.h>
#include <unistd.h>

#define JOURNAL_NAME "upload-journal"
#define ID_MAX 1024

/* "$IGTCLOUD_STATE_DIR", else "$XDG_STATE_HOME/igtcloud", else "$HOME/.local/state/igtcloud". */
static int state_dir(igtcloud__buf *out)
{
    const char *dir = getenv("IGTCLOUD_STATE_DIR");
    const char *xdg = getenv("XDG_STATE_HOME");
    const char *home = getenv("HOME");
    int rc;
    if (dir && dir[0] == '/')
        rc = igtcloud__buf_puts(out, dir);
    else if (xdg && xdg[0] == '/')
        rc = igtcloud__buf_printf(out, "%s/igtcloud", xdg);
    else if (home && home[0] == '/')
        rc = igtcloud__buf_printf(out, "%s/.local/state/igtcloud", home);
    else
        return igtcloud__error_set(IGTCLOUD_ENOTFOUND, "no state folder (set HOME)");
    return rc ? igtcloud__error_oom() : 0;
}

/* mkdir -p, private. */
static int make_dirs(char *path)
{
    for (char *p = path + 1;; p++) {
        if (*p != '/' && *p != '\0')
            continue;
        char c = *p;
        *p = '\0';
        int bad = mkdir(path, 0700) != 0 && errno != EEXIST;
        *p = c;
        if (bad)
            return igtcloud__error_set(IGTCLOUD_EIO, "cannot create %s: %s", path, strerror(errno));
        if (c == '\0')
            return 0;
    }
}

static int parse_u64(unsigned long long *out, const char *s, char **end)
{
    if (*s < '0' || *s > '9')
        return -1;
    errno = 0;
    *out = strtoull(s, end, 10);
    return errno || **end != ' ' ? -1 : 0;
}

int igtcloud__up_journal_parse_line(igtcloud__up_journal_entry *out, const char *line)
{
    char *end = NULL;
    unsigned long long size, sec, nsec;
    memset(out, 0, sizeof(*out));
    if (strncmp(line, "0 ", 2) == 0) {
        out->key = line + 2;
        return *out->key ? 0 : -1;
    }
    if (strncmp(line, "1 ", 2) != 0 || parse_u64(&size, line + 2, &end) ||
        parse_u64(&sec, end + 1, &end) || parse_u64(&nsec, end + 1, &end) || nsec > 999999999)
        return -1;
    const char *id = end + 1;
    const char *sp = strchr(id, ' ');
    if (!sp || sp == id || sp - id > ID_MAX || !sp[1])
        return -1;
    out->live = 1;
    out->size = (uint64_t)size;
    out->mtime_sec = (int64_t)sec;
    out->mtime_nsec = (long)nsec;
    out->upload_id = id;
    out->upload_id_len = (size_t)(sp - id);
    out->key = sp + 1;
    return 0;
}

/* Replay the file into j->entries (key -> [size, sec, nsec, id]); unreadable lines are skipped. */
static int load(igtcloud__up_journal *j, FILE *f, size_t *lines)
{
    char *line = NULL;
    size_t cap = 0;
    ssize_t n;
    int rc = 0;
    *lines = 0;
    while (rc == 0 && (n = getline(&line, &cap, f)) > 0) {
        if (line[n - 1] != '\n')
            break; /* a torn last line */
        line[n - 1] = '\0';
        (*lines)++;
        igtcloud__up_journal_entry e;
        if (igtcloud__up_journal_parse_line(&e, line) != 0)
            continue;
        if (!e.live) {
            json_object_del(j->entries, e.key);
            continue;
        }
        json_t *v = json_pack("[I, I, I, s%]", (json_int_t)e.size, (json_int_t)e.mtime_sec,
                              (json_int_t)e.mtime_nsec, e.upload_id, e.upload_id_len);
        if (!v || json_object_set_new(j->entries, e.key, v))
            rc = igtcloud__error_oom();
    }
    free(line);
    return rc;
}

static int append_line(igtcloud__up_journal *j, const char *line, size_t len)
{
    if (j->fd < 0)
        return 0;
    if (igtcloud__write_all(j->fd, line, len))
        return igtcloud__error_set(IGTCLOUD_EIO, "cannot write %s: %s", j->path, strerror(errno));
    return 0;
}

static int entry_line(igtcloud__buf *b, const char *key, const json_t *v)
{
    igtcloud__buf_clear(b);
    return igtcloud__buf_printf(b, "1 %lld %lld %lld %s %s\n",
                                (long long)json_integer_value(json_array_get(v, 0)),
                                (long long)json_integer_value(json_array_get(v, 1)),
                                (long long)json_integer_value(json_array_get(v, 2)),
                                json_string_value(json_array_get(v, 3)), key)
               ? igtcloud__error_oom() : 0;
}

/* Rewrite the journal with only its live entries (the caller holds the lock). */
static int compact(igtcloud__up_journal *j)
{
    igtcloud__buf tmp = IGTCLOUD_BUF_INIT, line = IGTCLOUD_BUF_INIT;
    int fd = -1, rc = 0;
    if (igtcloud__buf_printf(&tmp, "%s.tmp", j->path)) {
        rc = igtcloud__error_oom();
        goto done;
    }
    fd = open(tmp.ptr, O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC | O_NOFOLLOW, 0600);
    if (fd < 0) {
        rc = igtcloud__error_set(IGTCLOUD_EIO, "cannot write %s: %s", tmp.ptr, strerror(errno));
        goto done;
    }
    const char *key;
    json_t *v;
    json_object_foreach(j->entries, key, v) {
        if ((rc = entry_line(&line, key, v)))
            goto done;
        if (write(fd, line.ptr, line.size) != (ssize_t)line.size) {
            rc = igtcloud__error_set(IGTCLOUD_EIO, "cannot write %s", tmp.ptr);
            goto done;
        }
    }
    if (fsync(fd) != 0 || rename(tmp.ptr, j->path) != 0)
        rc = igtcloud__error_set(IGTCLOUD_EIO, "cannot replace %s: %s", j->path, strerror(errno));
done:
    if (fd >= 0)
        close(fd);
    if (rc && tmp.ptr)
        unlink(tmp.ptr);
    igtcloud__buf_dispose(&tmp);
    igtcloud__buf_dispose(&line);
    return rc;
}

int igtcloud__up_state_dir(igtcloud__buf *out, int create)
{
    struct stat st;
    int rc = state_dir(out);
    if (rc == 0 && create)
        rc = make_dirs(out->ptr);
    else if (rc == 0 && (stat(out->ptr, &st) != 0 || !S_ISDIR(st.st_mode)))
        rc = igtcloud__error_set(IGTCLOUD_ENOTFOUND, "no state folder %s", out->ptr);
    return rc;
}

int igtcloud__up_journal_open(igtcloud__up_journal *j)
{
    igtcloud__buf dir = IGTCLOUD_BUF_INIT;
    FILE *f = NULL;
    size_t lines = 0;
    int lock_fd = -1, rc;
    memset(j, 0, sizeof(*j));
    j->fd = -1;
    if (!(j->entries = json_object()))
        return igtcloud__error_oom();
    if ((rc = igtcloud__up_state_dir(&dir, 1)))
        goto done;
    if (igtcloud__buf_printf(&dir, "/%s", JOURNAL_NAME)) {
        rc = igtcloud__error_oom();
        goto done;
    }
    j->path = igtcloud__buf_detach(&dir);
    /* One process loads and compacts at a time; appends need no lock (O_APPEND, one write). */
    lock_fd = open(j->path, O_RDWR | O_CREAT | O_CLOEXEC | O_NOFOLLOW, 0600);
    if (lock_fd < 0 || flock(lock_fd, LOCK_EX) != 0) {
        rc = igtcloud__error_set(IGTCLOUD_EIO, "cannot open %s: %s", j->path, strerror(errno));
        goto done;
    }
    if ((f = fopen(j->path, "rb")) && (rc = load(j, f, &lines)))
        goto done;
    if (lines > 64 && lines > 2 * json_object_size(j->entries) && (rc = compact(j)))
        goto done;
    j->fd = open(j->path, O_WRONLY | O_APPEND | O_CREAT | O_CLOEXEC | O_NOFOLLOW, 0600);
    if (j->fd < 0)
        rc = igtcloud__error_set(IGTCLOUD_EIO, "cannot open %s: %s", j->path, strerror(errno));
done:
    if (f)
        fclose(f);
    if (lock_fd >= 0)
        close(lock_fd);
    igtcloud__buf_dispose(&dir);
    if (rc)
        igtcloud__up_journal_close(j);
    return rc;
}

const char *igtcloud__up_journal_find(const igtcloud__up_journal *j, const char *key,
                                      uint64_t size, int64_t mtime_sec, long mtime_nsec,
                                      int *same_file)
{
    json_t *v = j->entries ? json_object_get(j->entries, key) : NULL;
    if (!v)
        return NULL;
    if (same_file)
        *same_file = (uint64_t)json_integer_value(json_array_get(v, 0)) == size &&
                     json_integer_value(json_array_get(v, 1)) == mtime_sec &&
                     json_integer_value(json_array_get(v, 2)) == mtime_nsec;
    return json_string_value(json_array_get(v, 3));
}

int igtcloud__up_journal_started(igtcloud__up_journal *j, const char *key, uint64_t size,
                                 int64_t mtime_sec, long mtime_nsec, const char *upload_id)
{
    igtcloud__buf line = IGTCLOUD_BUF_INIT;
    if (!j->entries || !upload_id || !*upload_id || strlen(upload_id) > ID_MAX ||
        strpbrk(upload_id, " \n\r\t") || strchr(key, '\n'))
        return 0; /* not something a line can hold: this upload just cannot resume */
    json_t *v = json_pack("[I, I, I, s]", (json_int_t)size, (json_int_t)mtime_sec,
                          (json_int_t)mtime_nsec, upload_id);
    int rc = v ? entry_line(&line, key, v) : igtcloud__error_oom();
    if (rc == 0)
        rc = append_line(j, line.ptr, line.size);
    if (rc == 0 && json_object_set(j->entries, key, v))
        rc = igtcloud__error_oom();
    json_decref(v);
    igtcloud__buf_dispose(&line);
    return rc;
}

int igtcloud__up_journal_ended(igtcloud__up_journal *j, const char *key)
{
    if (!j->entries || !json_object_get(j->entries, key))
        return 0;
    igtcloud__buf line = IGTCLOUD_BUF_INIT;
    int rc = igtcloud__buf_printf(&line, "0 %s\n", key) ? igtcloud__error_oom() : 0;
    if (rc == 0)
        rc = append_line(j, line.ptr, line.size);
    json_object_del(j->entries, key);
    igtcloud__buf_dispose(&line);
    return rc;
}

void igtcloud__up_journal_close(igtcloud__up_journal *j)
{
    if (j->fd >= 0)
        close(j->fd);
    j->fd = -1;
    json_decref(j->entries);
    j->entries = NULL;
    free(j->path);
    j->path = NULL;
}
