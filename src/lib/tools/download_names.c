/*
 * Which paths a download may write (download_int.h): names from the server
 * are never trusted, and every path a run writes belongs to one of them.
 */
#include "tools/download_int.h"

#include "core/error.h"
#include "core/safepath.h"

#include <ctype.h>
#include <string.h>
#include <strings.h>

/* Our temporary files: a server name ending so could be taken for one, or clobber one. */
static const char *const reserved_suffixes[] = { ".igtcloud-part", ".igtcloud-journal" };

const char *igtcloud__dl_name_problem(const char *rel)
{
    const char *problem = igtcloud__safepath_problem(rel);
    if (problem)
        return problem;
    for (const char *seg = rel; seg;) {
        const char *end = strchr(seg, '/');
        size_t len = end ? (size_t)(end - seg) : strlen(seg);
        for (size_t i = 0; i < sizeof(reserved_suffixes) / sizeof(reserved_suffixes[0]); i++) {
            size_t n = strlen(reserved_suffixes[i]);
            if (len >= n && memcmp(seg + len - n, reserved_suffixes[i], n) == 0)
                return "ends like igtcloud's temporary files (.igtcloud-part, .igtcloud-journal)";
        }
        seg = end ? end + 1 : NULL;
    }
    return NULL;
}

const char *igtcloud__dl_institute_problem(const char *name, int fold_case)
{
    if (!*name)
        return "is empty";
    if (strchr(name, '/'))
        return "has a '/'";
    if ((fold_case ? strcasecmp(name, IGTCLOUD__DL_RESERVED_TOP)
                   : strcmp(name, IGTCLOUD__DL_RESERVED_TOP)) == 0)
        return "is the folder of igtcloud's own records (.igtcloud)";
    return igtcloud__dl_name_problem(name);
}

/* The key of the first `len` bytes of rel in a set (case-folded when TARGET ignores case). */
static int claim_key(igtcloud__buf *key, int fold_case, const char *rel, size_t len)
{
    igtcloud__buf_clear(key);
    int rc = igtcloud__buf_put(key, rel, len);
    if (!rc && fold_case)
        for (size_t i = 0; i < key->size; i++)
            key->ptr[i] = (char)tolower((unsigned char)key->ptr[i]);
    return rc;
}

/* What `key` is claimed as in `set` (igtcloud__dl_claim_kind), 0: nothing; 0 or an error. */
static int claimed(uint64_t *v, igtcloud__spill_map *set, const igtcloud__buf *key)
{
    *v = 0;
    int rc = igtcloud__spill_map_get(set, key->ptr, key->size, v);
    return rc < 0 ? rc : 0;
}

int igtcloud__dl_claim(igtcloud__spill_map *set, int fold_case, const char *rel, size_t skip,
                       igtcloud__dl_claim_kind kind)
{
    igtcloud__buf key = IGTCLOUD_BUF_INIT;
    char shown[200];
    uint64_t v = 0;
    int rc = 0, holds = 0;
    const char *slash = rel + skip;
    while ((slash = strchr(slash, '/')) != NULL) {
        if ((rc = claim_key(&key, fold_case, rel, (size_t)(slash - rel))) ||
            (rc = claimed(&v, set, &key)))
            goto done;
        if (v == IGTCLOUD__DL_CLAIM_FILE ||
            (v == IGTCLOUD__DL_CLAIM_STUDY && kind == IGTCLOUD__DL_CLAIM_STUDY)) {
            igtcloud__safepath_show(shown, sizeof(shown), key.ptr);
            rc = 1;
            goto done;
        }
        if (!v &&
            (rc = igtcloud__spill_map_set(set, key.ptr, key.size, IGTCLOUD__DL_CLAIM_FOLDER)))
            goto done;
        slash++;
    }
    if ((rc = claim_key(&key, fold_case, rel, strlen(rel))) || (rc = claimed(&v, set, &key)))
        goto done;
    if (v) {
        /* A study folder already claimed as a folder holds another study's. */
        holds = v == IGTCLOUD__DL_CLAIM_FOLDER && kind == IGTCLOUD__DL_CLAIM_STUDY;
        igtcloud__safepath_show(shown, sizeof(shown), key.ptr);
        rc = 1;
        goto done;
    }
    rc = igtcloud__spill_map_set(set, key.ptr, key.size, (uint64_t)kind);
done:
    if (rc == 1)
        igtcloud__error_set(IGTCLOUD_EINVALID, "'%s' %s of this download%s", shown,
                            holds ? "already holds the folder of another study"
                            : v == IGTCLOUD__DL_CLAIM_FILE ? "is already a file"
                            : v == IGTCLOUD__DL_CLAIM_STUDY
                                ? "is already the folder of another study"
                                : "is already a folder",
                            fold_case ? " (names differing only in case are one on this file "
                                        "system)" : "");
    igtcloud__buf_dispose(&key);
    return rc;
}
