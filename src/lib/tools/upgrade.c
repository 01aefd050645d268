#include "tools/upgrade_int.h"

#include "core/buf.h"
#include "core/error.h"
#include "core/fdio.h"
#include "core/hash.h"
#include "http/http.h"

#include <ctype.h>
#include <errno.h>
#include <fcntl.h>
#include <jansson.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#ifndef IGTCLOUD_UPGRADE_FEED_URL
#define IGTCLOUD_UPGRADE_FEED_URL ""
#endif

/* ---- semantic versions ------------------------------------------------- */

typedef struct semver {
    const char *core[3];       /* MAJOR, MINOR, PATCH: digits without leading zeros */
    size_t core_len[3];
    const char *pre;           /* pre-release identifiers, or NULL */
    size_t pre_len;
} semver;

static int all_digits(const char *s, size_t n)
{
    for (size_t i = 0; i < n; i++)
        if (!isdigit((unsigned char)s[i]))
            return 0;
    return n > 0;
}

/* Dot-separated, non-empty [0-9A-Za-z-] identifiers; numeric ones of a pre-release have no leading zero. */
static int check_identifiers(const char *s, size_t n, int pre_release)
{
    size_t start = 0;
    for (size_t i = 0; i <= n; i++) {
        if (i < n && s[i] != '.') {
            if (!isalnum((unsigned char)s[i]) && s[i] != '-')
                return -1;
            continue;
        }
        size_t len = i - start;
        if (len == 0)
            return -1;
        if (pre_release && len > 1 && s[start] == '0' && all_digits(s + start, len))
            return -1;
        start = i + 1;
    }
    return 0;
}

static int semver_parse(semver *v, const char *s)
{
    const char *p = s;
    size_t n = strlen(s);

    if (n == 0 || n >= IGTCLOUD_UPGRADE_VERSION_MAX)
        return -1;
    for (int i = 0; i < 3; i++) {
        const char *start = p;
        while (isdigit((unsigned char)*p))
            p++;
        size_t len = (size_t)(p - start);
        if (len == 0 || (len > 1 && *start == '0'))
            return -1;
        v->core[i] = start;
        v->core_len[i] = len;
        if (i < 2) {
            if (*p != '.')
                return -1;
            p++;
        }
    }
    v->pre = NULL;
    v->pre_len = 0;
    if (*p == '-') {
        const char *start = ++p;
        while (*p && *p != '+')
            p++;
        if (check_identifiers(start, (size_t)(p - start), 1))
            return -1;
        v->pre = start;
        v->pre_len = (size_t)(p - start);
    }
    if (*p == '+') {
        const char *start = ++p;
        p += strlen(p);
        if (check_identifiers(start, (size_t)(p - start), 0))
            return -1;
    }
    return *p ? -1 : 0;
}

static int sign(int c)
{
    return (c > 0) - (c < 0);
}

/* Numbers as digit strings without leading zeros: the longer is larger. */
static int compare_numbers(const char *a, size_t al, const char *b, size_t bl)
{
    if (al != bl)
        return al < bl ? -1 : 1;
    return sign(memcmp(a, b, al));
}

static int compare_pre_release(const semver *a, const semver *b)
{
    if (!a->pre || !b->pre)
        return a->pre == b->pre ? 0 : (a->pre ? -1 : 1);
    size_t i = 0, j = 0;
    while (i < a->pre_len && j < b->pre_len) {
        size_t ie = i, je = j;
        while (ie < a->pre_len && a->pre[ie] != '.')
            ie++;
        while (je < b->pre_len && b->pre[je] != '.')
            je++;
        size_t al = ie - i, bl = je - j;
        int an = all_digits(a->pre + i, al), bn = all_digits(b->pre + j, bl);
        int c;
        if (an && bn) {
            c = compare_numbers(a->pre + i, al, b->pre + j, bl);
        } else if (an != bn) {
            c = an ? -1 : 1;
        } else {
            c = sign(memcmp(a->pre + i, b->pre + j, al < bl ? al : bl));
            if (c == 0 && al != bl)
                c = al < bl ? -1 : 1;
        }
        if (c)
            return c;
        i = ie < a->pre_len ? ie + 1 : ie;
        j = je < b->pre_len ? je + 1 : je;
    }
    if (i >= a->pre_len && j >= b->pre_len)
        return 0;
    return i >= a->pre_len ? -1 : 1;
}

static int semver_compare(const semver *a, const semver *b)
{
    for (int i = 0; i < 3; i++) {
        int c = compare_numbers(a->core[i], a->core_len[i], b->core[i], b->core_len[i]);
        if (c)
            return c;
    }
    return compare_pre_release(a, b);
}

int igtcloud_semver_compare(int *out, const char *a, const char *b)
{
    semver va, vb;
    if (!out || !a || !b)
        return igtcloud__error_set(IGTCLOUD_EINVALID, "igtcloud_semver_compare: NULL argument");
    if (semver_parse(&va, a))
        return igtcloud__error_set(IGTCLOUD_EINVALID, "'%.64s' is not a semantic version", a);
    if (semver_parse(&vb, b))
        return igtcloud__error_set(IGTCLOUD_EINVALID, "'%.64s' is not a semantic version", b);
    *out = semver_compare(&va, &vb);
    return 0;
}

/* ---- the feed ------------------------------------------------------------ */

void igtcloud__release_dispose(igtcloud__release *r)
{
    if (!r)
        return;
    free(r->url);
    memset(r, 0, sizeof(*r));
}

/* `ref` as an absolute URL: as is when it has a scheme, else relative to `base`. */
static int resolve_url(char **out, const char *base, const char *ref)
{
    igtcloud__buf url = IGTCLOUD_BUF_INIT;
    const char *scheme = base ? strstr(base, "://") : NULL;
    int rc;

    if (strstr(ref, "://") || !scheme) {
        rc = igtcloud__buf_puts(&url, ref);
        goto done;
    }
    const char *authority = scheme + 3;
    size_t end = strcspn(authority, "?#") + (size_t)(authority - base);
    size_t path = strcspn(authority, "/?#") + (size_t)(authority - base);
    size_t keep = end;
    if (ref[0] == '/') {
        keep = path;
    } else if (path < end) {
        while (keep > path && base[keep - 1] != '/')
            keep--;
    }
    rc = igtcloud__buf_put(&url, base, keep);
    if (!rc && ref[0] != '/' && (keep == 0 || base[keep - 1] != '/'))
        rc = igtcloud__buf_putc(&url, '/');
    if (!rc)
        rc = igtcloud__buf_puts(&url, ref);
done:
    if (rc) {
        igtcloud__buf_dispose(&url);
        return rc;
    }
    *out = igtcloud__buf_detach(&url);
    return *out ? 0 : igtcloud__error_oom();
}

static int is_sha256_hex(const char *s)
{
    size_t n = 0;
    for (; s[n]; n++)
        if (!isxdigit((unsigned char)s[n]))
            return 0;
    return n == 64;
}

/* Check one platform entry {"url": ..., "sha256": ...}. */
static int check_build(json_t *build, const char *version, const char *platform)
{
    if (!json_is_object(build))
        return igtcloud__error_set(IGTCLOUD_EPROTO,
                                   "bad upgrade feed: version %s, platform '%.64s' is not an object",
                                   version, platform);
    json_t *url = json_object_get(build, "url");
    json_t *sha = json_object_get(build, "sha256");
    if (!json_is_string(url) || json_string_length(url) == 0 ||
        strlen(json_string_value(url)) != json_string_length(url))
        return igtcloud__error_set(IGTCLOUD_EPROTO,
                                   "bad upgrade feed: version %s, platform '%.64s' has no \"url\"",
                                   version, platform);
    if (!json_is_string(sha) || !is_sha256_hex(json_string_value(sha)))
        return igtcloud__error_set(IGTCLOUD_EPROTO,
                                   "bad upgrade feed: version %s, platform '%.64s' has no \"sha256\" "
                                   "of 64 hex digits", version, platform);
    return 0;
}

int igtcloud__upgrade_feed_select(igtcloud__release *out, const char *json, size_t len,
                                  const char *feed_url, const char *platform,
                                  const char *wanted)
{
    json_error_t jerr;
    json_t *root = NULL, *best = NULL, *match = NULL;
    semver want, best_v, v;
    const char *best_version = NULL, *match_version = NULL;
    igtcloud__release r;
    int rc = 0;

    memset(&r, 0, sizeof(r));
    if (wanted && semver_parse(&want, wanted)) {
        rc = igtcloud__error_set(IGTCLOUD_EINVALID,
                                 "'%.64s' is not a version (MAJOR.MINOR.PATCH)", wanted);
        goto done;
    }
    root = json_loadb(json, len, JSON_REJECT_DUPLICATES, &jerr);
    if (!root) {
        rc = igtcloud__error_set(IGTCLOUD_EPROTO,
                                 "bad upgrade feed: malformed JSON at line %d, column %d: %s",
                                 jerr.line, jerr.column, jerr.text);
        goto done;
    }
    json_t *releases = json_object_get(root, "releases");
    if (!json_is_array(releases)) {
        rc = igtcloud__error_set(IGTCLOUD_EPROTO, "bad upgrade feed: no \"releases\" array");
        goto done;
    }

    size_t i;
    json_t *rel;
    json_array_foreach(releases, i, rel) {
        json_t *jversion = json_object_get(rel, "version");
        json_t *platforms = json_object_get(rel, "platforms");
        const char *version = json_string_value(jversion);
        if (!json_is_object(rel) || !version || strlen(version) != json_string_length(jversion)) {
            rc = igtcloud__error_set(IGTCLOUD_EPROTO,
                                     "bad upgrade feed: release %zu has no \"version\"", i + 1);
            goto done;
        }
        if (semver_parse(&v, version)) {
            rc = igtcloud__error_set(IGTCLOUD_EPROTO,
                                     "bad upgrade feed: release %zu: '%.64s' is not a version "
                                     "(MAJOR.MINOR.PATCH)", i + 1, version);
            goto done;
        }
        if (!json_is_object(platforms)) {
            rc = igtcloud__error_set(IGTCLOUD_EPROTO,
                                     "bad upgrade feed: version %s has no \"platforms\" object",
                                     version);
            goto done;
        }
        for (size_t k = 0; k < i; k++) {
            semver other;
            const char *prev = json_string_value(json_object_get(json_array_get(releases, k),
                                                                 "version"));
            if (!semver_parse(&other, prev) && semver_compare(&other, &v) == 0) {
                rc = igtcloud__error_set(IGTCLOUD_EPROTO,
                                         "bad upgrade feed: version %s is listed twice", version);
                goto done;
            }
        }
        const char *name;
        json_t *build;
        json_object_foreach(platforms, name, build) {
            if ((rc = check_build(build, version, name)))
                goto done;
        }
        if (wanted && semver_compare(&v, &want) == 0) {
            match = rel;
            match_version = version;
        }
        if (!wanted && !v.pre && json_object_get(platforms, platform) &&
            (!best || semver_compare(&v, &best_v) > 0)) {
            best = rel;
            best_v = v;
            best_version = version;
        }
    }

    if (wanted && !match) {
        rc = igtcloud__error_set(IGTCLOUD_ENOTFOUND, "the upgrade feed has no version %s", wanted);
        goto done;
    }
    if (wanted && !json_object_get(json_object_get(match, "platforms"), platform)) {
        rc = igtcloud__error_set(IGTCLOUD_ENOTFOUND, "version %s has no build for %s",
                                 match_version, platform);
        goto done;
    }
    if (!wanted && !best) {
        rc = json_array_size(releases) == 0
                 ? igtcloud__error_set(IGTCLOUD_ENOTFOUND, "the upgrade feed lists no releases")
                 : igtcloud__error_set(IGTCLOUD_ENOTFOUND,
                                       "the upgrade feed has no release with a build for %s",
                                       platform);
        goto done;
    }

    json_t *chosen = wanted ? match : best;
    json_t *build = json_object_get(json_object_get(chosen, "platforms"), platform);
    const char *sha = json_string_value(json_object_get(build, "sha256"));
    snprintf(r.version, sizeof(r.version), "%s", wanted ? match_version : best_version);
    for (size_t k = 0; k < 64; k++)
        r.sha256[k] = (char)tolower((unsigned char)sha[k]);
    if ((rc = resolve_url(&r.url, feed_url,
                          json_string_value(json_object_get(build, "url")))))
        goto done;
    *out = r;
    memset(&r, 0, sizeof(r));
done:
    igtcloud__release_dispose(&r);
    json_decref(root);
    return rc;
}

/* ---- replacing the program ---------------------------------------------- */

const char *igtcloud_upgrade_default_feed(void)
{
    const char *env = getenv("IGTCLOUD_UPGRADE_FEED");
    return env && *env ? env : IGTCLOUD_UPGRADE_FEED_URL;
}

static int copy_string(char *dst, size_t size, const char *src, const char *what)
{
    size_t n = strlen(src);
    if (n >= size)
        return igtcloud__error_set(IGTCLOUD_EINVALID, "%s is too long", what);
    memcpy(dst, src, n + 1);
    return 0;
}

/* A local file error, worded for the user: permission problems say so. */
static int file_error(int err, const char *what, const char *path)
{
    if (err == EACCES || err == EPERM || err == EROFS)
        return igtcloud__error_set(IGTCLOUD_EIO, "no permission to %s %s (%s)", what, path,
                                   strerror(err));
    return igtcloud__error_set(IGTCLOUD_EIO, "cannot %s %s: %s", what, path, strerror(err));
}

static int fetch(igtcloud__http_response *res, igtcloud__http_client *client, const char *url,
                 const char *what)
{
    int rc = igtcloud__http_request(res, client, "GET", url, NULL, NULL, 0);
    if (rc)
        return rc;
    if (res->status == 404)
        return igtcloud__error_set_http(IGTCLOUD_ENOTFOUND, 404, NULL, "%s %s: HTTP 404", what, url);
    if (res->status != 200)
        return igtcloud__error_set_http(IGTCLOUD_EPROTO, (int)res->status, NULL, "%s %s: HTTP %ld",
                                        what, url, res->status);
    return 0;
}

static int program_path(char *out, size_t size, const char *given)
{
    if (given)
        return copy_string(out, size, given, "the program path");
    ssize_t n = readlink("/proc/self/exe", out, size - 1);
    if (n < 0)
        return igtcloud__error_set(IGTCLOUD_EIO, "cannot find the running program: %s",
                                   strerror(errno));
    if ((size_t)n >= size - 1)
        return igtcloud__error_set(IGTCLOUD_EIO, "the running program's path is too long");
    out[n] = '\0';
    return 0;
}

int igtcloud_upgrade(igtcloud_upgrade_result *out, const igtcloud_upgrade_options *opts)
{
    static const igtcloud_upgrade_options defaults = IGTCLOUD_UPGRADE_OPTIONS_INIT;
    igtcloud_upgrade_result r;
    igtcloud__http_config cfg = IGTCLOUD__HTTP_CONFIG_INIT;
    igtcloud__http_client *client = NULL;
    igtcloud__http_response feed, download;
    igtcloud__release release;
    igtcloud__buf dir = IGTCLOUD_BUF_INIT, tmp = IGTCLOUD_BUF_INIT, backup = IGTCLOUD_BUF_INIT;
    unsigned char digest[IGTCLOUD_SHA256_LEN];
    char hex[2 * IGTCLOUD_SHA256_LEN + 1];
    struct stat st;
    int fd = -1, tmp_made = 0, cmp = 0, rc;

    memset(&r, 0, sizeof(r));
    memset(&release, 0, sizeof(release));
    igtcloud__http_response_init(&feed);
    igtcloud__http_response_init(&download);
    if (!opts)
        opts = &defaults;
    if (!out || opts->version != IGTCLOUD_UPGRADE_OPTIONS_VERSION) {
        rc = igtcloud__error_set(IGTCLOUD_EINVALID, "igtcloud_upgrade: bad arguments");
        goto done;
    }
    const char *feed_url = opts->feed_url && *opts->feed_url ? opts->feed_url
                                                             : igtcloud_upgrade_default_feed();
    const char *platform = opts->platform ? opts->platform : igtcloud_version_info()->platform;
    const char *current = opts->current_version ? opts->current_version : igtcloud_version();
    if (!*feed_url) {
        rc = igtcloud__error_set(IGTCLOUD_EINVALID, "no upgrade feed is configured "
                                 "(give a feed URL or set IGTCLOUD_UPGRADE_FEED)");
        goto done;
    }
    if ((rc = copy_string(r.from_version, sizeof(r.from_version), current, "the current version")) ||
        (rc = program_path(r.program_path, sizeof(r.program_path), opts->program_path)))
        goto done;

    cfg.ca_file = opts->ca_file;
    if ((rc = igtcloud__http_client_new(&client, &cfg)))
        goto done;
    /* Release hosts redirect to storage; no credentials travel with these requests. */
    igtcloud__http_client_set_follow_redirects(client, 1);
    if ((rc = fetch(&feed, client, feed_url, "upgrade feed")))
        goto done;
    if (feed.body.size > IGTCLOUD__UPGRADE_FEED_MAX) {
        rc = igtcloud__error_set(IGTCLOUD_EPROTO, "bad upgrade feed: larger than %zu bytes",
                                 IGTCLOUD__UPGRADE_FEED_MAX);
        goto done;
    }
    const char *wanted = opts->target_version;
    if (wanted && (wanted[0] == 'v' || wanted[0] == 'V'))
        wanted++;
    if ((rc = igtcloud__upgrade_feed_select(&release, feed.body.ptr ? feed.body.ptr : "",
                                            feed.body.size, feed_url, platform, wanted)) ||
        (rc = copy_string(r.to_version, sizeof(r.to_version), release.version, "the version")) ||
        (rc = copy_string(r.url, sizeof(r.url), release.url, "the download URL")) ||
        (rc = igtcloud_semver_compare(&cmp, release.version, current)))
        goto done;
    if (wanted ? cmp == 0 : cmp <= 0) {
        r.outcome = IGTCLOUD_UPGRADE_UP_TO_DATE;
        goto done;
    }
    if (opts->check_only) {
        r.outcome = IGTCLOUD_UPGRADE_AVAILABLE;
        goto done;
    }

    /* Beside the program, so the final rename() stays on one file system. */
    if (stat(r.program_path, &st) != 0) {
        rc = file_error(errno, "read", r.program_path);
        goto done;
    }
    const char *slash = strrchr(r.program_path, '/');
    if ((rc = slash ? igtcloud__buf_put(&dir, r.program_path, (size_t)(slash - r.program_path) + 1)
                    : igtcloud__buf_puts(&dir, "./")) ||
        (rc = igtcloud__buf_printf(&tmp, "%s.igtcloud-upgrade-XXXXXX", dir.ptr)) ||
        (rc = igtcloud__buf_printf(&backup, "%s.bak", r.program_path)) ||
        (rc = copy_string(r.backup_path, sizeof(r.backup_path), backup.ptr, "the backup path")))
        goto done;
    fd = mkstemp(tmp.ptr);
    if (fd < 0) {
        rc = file_error(errno, "write in", dir.ptr);
        goto done;
    }
    tmp_made = 1;

    if ((rc = fetch(&download, client, release.url, "download")) ||
        (rc = igtcloud__sha256(digest, download.body.ptr ? download.body.ptr : "",
                               download.body.size)))
        goto done;
    igtcloud__hex(hex, digest, sizeof(digest));
    if (strcmp(hex, release.sha256) != 0) {
        rc = igtcloud__error_set(IGTCLOUD_EPROTO,
                                 "checksum mismatch for %s: the feed says SHA-256 %s, the "
                                 "download has %s; nothing was replaced",
                                 release.url, release.sha256, hex);
        goto done;
    }
    if (igtcloud__write_all(fd, download.body.ptr ? download.body.ptr : "", download.body.size) ||
        fchmod(fd, st.st_mode & 07777) || fsync(fd)) {
        rc = file_error(errno, "write", tmp.ptr);
        goto done;
    }
    int closed = close(fd);
    fd = -1;
    if (closed) {
        rc = file_error(errno, "write", tmp.ptr);
        goto done;
    }

    /* The old program stays reachable under the backup name before the new one takes its place. */
    if (unlink(backup.ptr) != 0 && errno != ENOENT) {
        rc = file_error(errno, "replace the backup", backup.ptr);
        goto done;
    }
    if (link(r.program_path, backup.ptr) != 0) {
        rc = file_error(errno, "keep a backup at", backup.ptr);
        goto done;
    }
    if (rename(tmp.ptr, r.program_path) != 0) {
        rc = file_error(errno, "replace", r.program_path);
        goto done;
    }
    tmp_made = 0;
    int dfd = open(dir.ptr, O_RDONLY | O_DIRECTORY | O_CLOEXEC);
    if (dfd >= 0) {
        (void)fsync(dfd);
        close(dfd);
    }
    r.size = download.body.size;
    r.outcome = IGTCLOUD_UPGRADE_REPLACED;
done:
    if (fd >= 0)
        close(fd);
    if (tmp_made)
        unlink(tmp.ptr);
    if (!rc)
        *out = r;
    igtcloud__buf_dispose(&dir);
    igtcloud__buf_dispose(&tmp);
    igtcloud__buf_dispose(&backup);
    igtcloud__release_dispose(&release);
    igtcloud__http_response_dispose(&feed);
    igtcloud__http_response_dispose(&download);
    igtcloud__http_client_free(client);
    return rc;
}
