#include "objects.h"

#include <errno.h>
#include <ftw.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

const char *sandbox_object_key_problem_n(const char *key, size_t len)
{
    if (!key || len == 0)
        return "the key is empty";
    if (len > SANDBOX_OBJECT_KEY_MAX)
        return "the key is longer than 1024 bytes";
    if (key[0] == '/')
        return "the key starts with '/'";
    size_t seg_start = 0;
    for (size_t i = 0; i <= len; i++) {
        unsigned char c = i < len ? (unsigned char)key[i] : '/';
        if (i < len) {
            if (c == '\0')
                return "the key contains a NUL byte";
            if (c < 0x20 || c == 0x7f)
                return "the key contains a control character";
            if (c == '\\')
                return "the key contains a backslash";
        }
        if (c != '/')
            continue;
        size_t seg_len = i - seg_start;
        const char *seg = key + seg_start;
        /* Empty and dot segments would alias other keys or escape objects/. */
        if (seg_len == 0)
            return "the key has an empty segment ('//' or a trailing '/')";
        if ((seg_len == 1 && seg[0] == '.') || (seg_len == 2 && seg[0] == '.' && seg[1] == '.'))
            return "the key has a '.' or '..' segment";
        if (seg_len > 255)
            return "a segment of the key is longer than 255 bytes";
        seg_start = i + 1;
    }
    return NULL;
}

const char *sandbox_object_key_problem(const char *key)
{
    return sandbox_object_key_problem_n(key, key ? strlen(key) : 0);
}

const char *sandbox_object_prefix_problem(const char *prefix)
{
    size_t len = prefix ? strlen(prefix) : 0;
    if (len < 2 || prefix[len - 1] != '/')
        return "a prefix must be non-empty and end with '/'";
    /* The prefix without its final '/' must be a valid key. */
    return sandbox_object_key_problem_n(prefix, len - 1);
}

int sandbox_object_path(char *out, size_t out_size, const char *data_dir, const char *key)
{
    if (sandbox_object_key_problem(key)) {
        errno = EINVAL;
        return -1;
    }
    int n = snprintf(out, out_size, "%s/objects/%s", data_dir, key);
    if (n < 0 || (size_t)n >= out_size) {
        errno = ENAMETOOLONG;
        return -1;
    }
    return 0;
}

/* mkdir -p for the folders above `path` (the last segment is a file name). */
static int make_parents(const char *path)
{
    char copy[4200];
    int n = snprintf(copy, sizeof(copy), "%s", path);
    if (n < 0 || (size_t)n >= sizeof(copy))
        return -1;
    char *slash = strrchr(copy, '/');
    if (!slash)
        return 0;
    *slash = '\0';
    for (char *p = copy + 1; *p; p++) {
        if (*p != '/')
            continue;
        *p = '\0';
        if (mkdir(copy, 0700) != 0 && errno != EEXIST)
            return -1;
        *p = '/';
    }
    if (mkdir(copy, 0700) != 0 && errno != EEXIST)
        return -1;
    return 0;
}

int sandbox_object_writer_open(sandbox_object_writer *w, const char *data_dir, const char *key)
{
    memset(w, 0, sizeof(*w));
    if (sandbox_object_path(w->final_path, sizeof(w->final_path), data_dir, key))
        return -1;
    int n = snprintf(w->tmp_path, sizeof(w->tmp_path), "%s/tmp", data_dir);
    if (n < 0 || (size_t)n >= sizeof(w->tmp_path))
        return -1;
    if (mkdir(w->tmp_path, 0700) != 0 && errno != EEXIST)
        return -1;
    snprintf(w->tmp_path, sizeof(w->tmp_path), "%s/tmp/object-XXXXXX", data_dir);
    int fd = mkstemp(w->tmp_path);
    if (fd < 0) {
        w->tmp_path[0] = '\0';
        return -1;
    }
    w->file = fdopen(fd, "wb");
    if (!w->file) {
        close(fd);
        unlink(w->tmp_path);
        w->tmp_path[0] = '\0';
        return -1;
    }
    return 0;
}

int sandbox_object_writer_write(sandbox_object_writer *w, const void *data, size_t len)
{
    if (!w->file || w->failed)
        return -1;
    if (len && fwrite(data, 1, len, w->file) != len) {
        w->failed = 1;
        return -1;
    }
    return 0;
}

int sandbox_object_writer_commit(sandbox_object_writer *w)
{
    if (!w->file)
        return -1;
    int failed = w->failed;
    if (fclose(w->file) != 0)
        failed = 1;
    w->file = NULL;
    /* Most objects land in an existing folder: create folders only when asked to. */
    if (!failed && rename(w->tmp_path, w->final_path) != 0) {
        if (errno != ENOENT || make_parents(w->final_path) != 0 ||
            rename(w->tmp_path, w->final_path) != 0)
            failed = 1;
    }
    if (failed) {
        int saved = errno;
        unlink(w->tmp_path);
        errno = saved;
    }
    w->tmp_path[0] = '\0';
    return failed ? -1 : 0;
}

void sandbox_object_writer_abort(sandbox_object_writer *w)
{
    if (w->file) {
        fclose(w->file);
        w->file = NULL;
    }
    if (w->tmp_path[0]) {
        unlink(w->tmp_path);
        w->tmp_path[0] = '\0';
    }
}

int sandbox_object_write(const char *data_dir, const char *key, const void *data, size_t len)
{
    sandbox_object_writer w;
    if (sandbox_object_writer_open(&w, data_dir, key))
        return -1;
    if (sandbox_object_writer_write(&w, data, len)) {
        sandbox_object_writer_abort(&w);
        return -1;
    }
    return sandbox_object_writer_commit(&w);
}

int sandbox_object_size(long long *out, const char *data_dir, const char *key)
{
    char path[4200];
    struct stat st;
    if (sandbox_object_path(path, sizeof(path), data_dir, key) || stat(path, &st) != 0 ||
        !S_ISREG(st.st_mode))
        return -1;
    *out = (long long)st.st_size;
    return 0;
}

/* Remove the folders between `path`'s parent and DATA_DIR/objects while they are empty. */
static void prune_empty_parents(const char *data_dir, const char *path)
{
    char root[4200], dir[4200];
    snprintf(root, sizeof(root), "%s/objects", data_dir);
    snprintf(dir, sizeof(dir), "%s", path);
    size_t root_len = strlen(root);
    for (;;) {
        char *slash = strrchr(dir, '/');
        if (!slash)
            return;
        *slash = '\0';
        if (strlen(dir) <= root_len)
            return;
        if (rmdir(dir) != 0)
            return;
    }
}

int sandbox_object_delete(const char *data_dir, const char *key)
{
    char path[4200];
    if (sandbox_object_path(path, sizeof(path), data_dir, key))
        return -1;
    if (unlink(path) != 0 && errno != ENOENT)
        return -1;
    prune_empty_parents(data_dir, path);
    return 0;
}

static int remove_entry(const char *path, const struct stat *st, int flag, struct FTW *ftw)
{
    (void)st;
    (void)flag;
    (void)ftw;
    return remove(path) == 0 || errno == ENOENT ? 0 : -1;
}

int sandbox_object_delete_prefix(const char *data_dir, const char *prefix)
{
    char key[SANDBOX_OBJECT_KEY_MAX + 1];
    char path[4200];
    if (sandbox_object_prefix_problem(prefix)) {
        errno = EINVAL;
        return -1;
    }
    /* The prefix names a folder: its keys all live below it. */
    snprintf(key, sizeof(key), "%.*s", (int)(strlen(prefix) - 1), prefix);
    if (sandbox_object_path(path, sizeof(path), data_dir, key))
        return -1;
    struct stat st;
    if (lstat(path, &st) != 0)
        return errno == ENOENT ? 0 : -1;
    if (!S_ISDIR(st.st_mode))
        return 0;
    if (nftw(path, remove_entry, 16, FTW_DEPTH | FTW_PHYS) != 0)
        return -1;
    prune_empty_parents(data_dir, path);
    return 0;
}
