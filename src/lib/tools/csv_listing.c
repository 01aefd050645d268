/*
 * The CSV listing (PROTOCOL.md section 5, `csv`): institutes -> studies ->
 * rows, written through the formatting of tools/csv.c. Studies are listed
 * one institute at a time into a spool (catalog_int.h: an unlinked
 * temporary file) and read back one at a time, and rows are written as they
 * are made, so memory holds one study, whatever the institute's size.
 */
#include "igtcloud/csv.h"
#include "api/catalog_int.h"
#include "core/error.h"
#include "core/fdio.h"
#include "core/safepath.h"
#include "tools/csv.h"
#include "tools/layout.h"

#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

int igtcloud_csv_options_init(igtcloud_csv_options *opts, unsigned int version)
{
    if (!opts || version != IGTCLOUD_CSV_OPTIONS_VERSION)
        return igtcloud__error_set(IGTCLOUD_EINVALID, "unknown csv options version %u", version);
    igtcloud_csv_options init = IGTCLOUD_CSV_OPTIONS_INIT;
    *opts = init;
    return 0;
}

typedef struct listing {
    const igtcloud_csv_options *opts;
    const char *path;
    int fd;
    int have_columns;
    igtcloud__csv_columns columns;
    igtcloud__buf out;
    igtcloud_csv_summary summary;
} listing;

static int flush_listing(listing *l)
{
    if (igtcloud__write_all(l->fd, l->out.ptr, l->out.size))
        return igtcloud__error_set(IGTCLOUD_EIO, "cannot write %s: %s", l->path, strerror(errno));
    igtcloud__buf_clear(&l->out);
    return 0;
}

/*
 * Open the listing for appending. An existing, non-empty file gives the
 * columns (its first line); otherwise they come from the first study.
 */
static int open_listing(listing *l)
{
    int rc = 0;
    FILE *f = NULL;
    char *line = NULL;
    size_t cap = 0;
    l->fd = open(l->path, O_WRONLY | O_APPEND | O_CREAT | O_NOFOLLOW | O_CLOEXEC, 0644);
    if (l->fd < 0)
        return igtcloud__error_set(IGTCLOUD_EIO, "cannot open %s: %s", l->path, strerror(errno));
    struct stat st;
    if (fstat(l->fd, &st) != 0 || !S_ISREG(st.st_mode)) {
        rc = igtcloud__error_set(IGTCLOUD_EIO, "%s is not a regular file", l->path);
        goto done;
    }
    if (st.st_size == 0)
        goto done;
    f = fopen(l->path, "rb");
    if (!f) {
        rc = igtcloud__error_set(IGTCLOUD_EIO, "cannot read %s: %s", l->path, strerror(errno));
        goto done;
    }
    ssize_t n = getline(&line, &cap, f);
    if (n <= 0) {
        rc = igtcloud__error_set(IGTCLOUD_EIO, "cannot read the header of %s", l->path);
        goto done;
    }
    while (n > 0 && (line[n - 1] == '\n' || line[n - 1] == '\r'))
        line[--n] = '\0';
    rc = igtcloud__csv_columns_parse(&l->columns, line);
    if (rc)
        goto done;
    l->have_columns = 1;
    l->summary.appended = 1;
done:
    free(line);
    if (f)
        fclose(f);
    return rc;
}

static int list_study(listing *l, igtcloud_session *session, const igtcloud_study *study)
{
    json_t *obj = NULL, *flat = NULL;
    igtcloud_file_list *files = NULL;
    int rc = igtcloud__study_parse(&obj, study);
    if (rc)
        goto done;
    if (!igtcloud__layout_date_match(obj, (time_t)l->opts->start_day, (time_t)l->opts->end_day))
        goto done;
    if (!l->have_columns) {
        if ((rc = igtcloud__csv_columns_from_study(&l->columns, obj, l->opts->files)) ||
            (rc = igtcloud__csv_write_header(&l->out, &l->columns)))
            goto done;
        l->have_columns = 1;
    }
    if ((rc = igtcloud__csv_flatten(&flat, obj)))
        goto done;
    size_t rows = 0;
    if (l->opts->files) {
        rc = igtcloud_file_list_fetch_study(&files, session, study, IGTCLOUD_CATEGORY_FILES);
        if (rc)
            goto done;
        for (size_t i = 0; i < igtcloud_file_list_count(files); i++) {
            igtcloud_file_info info;
            if ((rc = igtcloud_file_list_at(&info, files, i)))
                goto done;
            if (!igtcloud_file_ext_match(l->opts->extensions, &info))
                continue;
            if ((rc = igtcloud__csv_write_row(&l->out, &l->columns, flat, info.name,
                                              info.size >= 0 ? (long long)info.size : -1)))
                goto done;
            rows++;
        }
    }
    /* A study without (matching) files still gets its row. */
    if (rows == 0) {
        if ((rc = igtcloud__csv_write_row(&l->out, &l->columns, flat, NULL, -1)))
            goto done;
        rows++;
    }
    l->summary.studies++;
    l->summary.rows += rows;
    rc = flush_listing(l);
done:
    igtcloud_file_list_free(files);
    json_decref(flat);
    json_decref(obj);
    return rc;
}

int igtcloud_csv_write(igtcloud_csv_summary *out, igtcloud_session *session, const char *target,
                       const igtcloud_project *project, const char *institute_name,
                       const igtcloud_csv_options *opts)
{
    igtcloud_csv_options defaults = IGTCLOUD_CSV_OPTIONS_INIT;
    igtcloud_institute_list *institutes = NULL;
    igtcloud__study_spool *studies = NULL;
    igtcloud_study *study = NULL;
    igtcloud__buf name = IGTCLOUD_BUF_INIT, path = IGTCLOUD_BUF_INIT;
    listing l;
    int rc;
    memset(&l, 0, sizeof(l));
    l.fd = -1;
    l.opts = opts ? opts : &defaults;
    if (!session || !target || !project || l.opts->version != IGTCLOUD_CSV_OPTIONS_VERSION)
        return igtcloud__error_set(IGTCLOUD_EINVALID, "csv: missing session, target or project");
    int all = !institute_name || strcmp(institute_name, "*") == 0;

    rc = igtcloud_institute_list_fetch(&institutes, session, project, institute_name);
    if (rc)
        goto done;
    const char *stem = all ? igtcloud_project_name(project)
                           : igtcloud_institute_id(igtcloud_institute_list_at(institutes, 0));
    if ((rc = igtcloud__buf_printf(&name, "cloud_%s.csv", stem)))
        goto done;
    /* The name comes from the server: one that is not a plain file name is refused. */
    const char *problem = strchr(name.ptr, '/') ? "has a '/'" : igtcloud__safepath_problem(name.ptr);
    if (problem) {
        char shown[200];
        igtcloud__safepath_show(shown, sizeof(shown), name.ptr);
        rc = igtcloud__error_set(IGTCLOUD_EPROTO, "refused the listing's file name '%s': the %s "
                                 "name from the server %s", shown,
                                 all ? "project" : "institute id", problem);
        goto done;
    }
    if ((rc = igtcloud__safepath_join(&path, target, name.ptr)))
        goto done;
    l.path = path.ptr;

    for (size_t i = 0; i < igtcloud_institute_list_count(institutes); i++) {
        const igtcloud_institute *inst = igtcloud_institute_list_at(institutes, i);
        igtcloud__study_spool_free(studies);
        studies = NULL;
        if ((rc = igtcloud__study_spool_fetch(&studies, session, igtcloud_institute_id(inst), 0)))
            goto done;
        for (;;) {
            if ((rc = igtcloud__study_spool_next(&study, studies)) || !study)
                break;
            if (l.fd < 0 && (rc = open_listing(&l)))
                goto done;
            if ((rc = list_study(&l, session, study)))
                goto done;
            igtcloud_study_free(study);
            study = NULL;
        }
        if (rc)
            goto done;
    }
    if (l.fd >= 0 && fsync(l.fd) != 0 && errno != EINVAL) {
        rc = igtcloud__error_set(IGTCLOUD_EIO, "cannot write %s: %s", l.path, strerror(errno));
        goto done;
    }
    if (l.fd >= 0)
        snprintf(l.summary.path, sizeof(l.summary.path), "%s", l.path);
    if (out)
        *out = l.summary;
done:
    if (l.fd >= 0 && close(l.fd) != 0 && !rc)
        rc = igtcloud__error_set(IGTCLOUD_EIO, "cannot write %s: %s", l.path, strerror(errno));
    igtcloud__csv_columns_dispose(&l.columns);
    igtcloud__buf_dispose(&l.out);
    igtcloud__buf_dispose(&name);
    igtcloud__buf_dispose(&path);
    igtcloud_study_free(study);
    igtcloud__study_spool_free(studies);
    igtcloud_institute_list_free(institutes);
    return rc;
}
