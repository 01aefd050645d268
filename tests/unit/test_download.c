/* tools/download: the completion manifest, the catalog's study parsing and folder refusal, filters. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <cmocka.h>
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "igtcloud/catalog.h"
#include "igtcloud/download.h"
#include "core/error.h"
#include "tools/download_int.h"
#include "test_sandbox.h"

static void write_text(const char *path, const char *text)
{
    FILE *f = fopen(path, "wb");
    assert_non_null(f);
    fputs(text, f);
    fclose(f);
}

static void test_download__manifest_line_parsing(void **state)
{
    (void)state;
    const char *rel;
    long long size, sec;
    long nsec;
    const char good[] = "1 34 1700000000 5 abc a b/c.txt";
    assert_int_equal(igtcloud__dl_manifest_parse_line(good, strlen(good), &rel, &size, &sec, &nsec), 0);
    assert_string_equal(rel, "a b/c.txt");
    assert_int_equal(size, 34);
    assert_int_equal(sec, 1700000000);
    assert_int_equal(nsec, 5);
    const char *bad[] = { "", "2 1 1 1 - x", "1 -1 1 1 - x", "1 1 1 1000000000 - x", "1 1 1 1 -",
                          "1 1 1 1 - ", "1 99999999999999999999 1 1 - x", "x 1 1 1 - x" };
    for (size_t i = 0; i < sizeof(bad) / sizeof(bad[0]); i++)
        assert_int_not_equal(igtcloud__dl_manifest_parse_line(bad[i], strlen(bad[i]), &rel, &size,
                                                              &sec, &nsec), 0);
}

/* A recorded file is vouched for; touched, resized or unknown ones are not; a torn line is dropped. */
static void test_download__manifest_vouches_only_verified_files(void **state)
{
    (void)state;
    char dir[256], file[512], other[512], mpath[512];
    igtcloud__dl_manifest m;
    struct stat st;
    assert_int_equal(test_make_temp_dir(dir, sizeof(dir), "manifest"), 0);
    snprintf(file, sizeof(file), "%s/a.txt", dir);
    snprintf(other, sizeof(other), "%s/b.txt", dir);
    snprintf(mpath, sizeof(mpath), "%s/.igtcloud/download-manifest", dir);
    write_text(file, "hello");
    write_text(other, "world");

    assert_int_equal(igtcloud__dl_manifest_open(&m, dir, 0), 0);
    assert_int_equal(igtcloud__dl_manifest_record(&m, "a.txt", file, "etag"), 0);
    assert_int_equal(igtcloud__dl_manifest_close(&m), 0);
    /* Lookups answer from the lines present at open (download_int.h). */
    assert_int_equal(igtcloud__dl_manifest_open(&m, dir, 0), 0);
    assert_int_equal(stat(file, &st), 0);
    assert_true(igtcloud__dl_manifest_vouches(&m, "a.txt", &st));
    assert_int_equal(stat(other, &st), 0);
    assert_false(igtcloud__dl_manifest_vouches(&m, "b.txt", &st));
    assert_int_equal(igtcloud__dl_manifest_close(&m), 0);

    /* A torn append (no newline) is ignored and the next record starts a fresh line. */
    int fd = open(mpath, O_WRONLY | O_APPEND);
    assert_true(fd >= 0);
    assert_int_equal(write(fd, "1 5 1 1 - b.t", 13), 13);
    close(fd);
    assert_int_equal(igtcloud__dl_manifest_open(&m, dir, 0), 0);
    assert_int_equal(stat(file, &st), 0);
    assert_true(igtcloud__dl_manifest_vouches(&m, "a.txt", &st));
    assert_int_equal(igtcloud__dl_manifest_record(&m, "b.txt", other, NULL), 0);
    assert_int_equal(igtcloud__dl_manifest_close(&m), 0);
    assert_int_equal(igtcloud__dl_manifest_open(&m, dir, 1), 0);
    assert_int_equal(stat(other, &st), 0);
    assert_true(igtcloud__dl_manifest_vouches(&m, "b.txt", &st));

    /* Rewritten with the same size: a new mtime, so no longer vouched for. */
    struct timespec times[2] = { { 0, UTIME_OMIT }, { 12345, 0 } };
    assert_int_equal(utimensat(AT_FDCWD, file, times, 0), 0);
    assert_int_equal(stat(file, &st), 0);
    assert_false(igtcloud__dl_manifest_vouches(&m, "a.txt", &st));
    assert_int_equal(igtcloud__dl_manifest_close(&m), 0);
    test_remove_tree(dir);
}

static void test_download__study_folder_refuses_hostile_ids(void **state)
{
    (void)state;
    const char *hostile[] = { "../../etc", "/abs/x", "a\\\\b", "p/..", "", "p/\\u0001x" };
    char folder[256], text[256];
    for (size_t i = 0; i < sizeof(hostile) / sizeof(hostile[0]); i++) {
        igtcloud_study *s = NULL;
        snprintf(text, sizeof(text), "{\"studyIdHumanReadable\": \"%s\", \"studyDatabaseId\": \"x\"}",
                 hostile[i]);
        assert_int_equal(igtcloud_study_from_json(&s, text, strlen(text)), 0);
        /* Flat folders replace '/', so "../x" becomes the harmless "..---x": one segment. */
        if (igtcloud_study_folder(folder, sizeof(folder), s, 0) == 0) {
            assert_null(strchr(folder, '/'));
            assert_true(strcmp(folder, "..") != 0 && strcmp(folder, ".") != 0);
        }
        assert_int_equal(igtcloud_study_folder(folder, sizeof(folder), s, 1), IGTCLOUD_EINVALID);
        igtcloud_study_free(s);
    }
    igtcloud_study *s = NULL;
    const char ok[] = "{\"studyType\": \"EpdStudy\", \"studyIdHumanReadable\": \"Site-1/EPD-1\","
                      " \"datetime\": \"2022-03-15T16:45:00\", \"name\": \"EPD-1\"}";
    assert_int_equal(igtcloud_study_from_json(&s, ok, strlen(ok)), 0);
    assert_int_equal(igtcloud_study_folder(folder, sizeof(folder), s, 0), 0);
    assert_string_equal(folder, "Site-1---EPD-1");
    assert_string_equal(igtcloud_study_key(s), "EPD-1");
    int64_t date = 0;
    assert_int_equal(igtcloud_study_date(&date, s), 0);
    assert_int_equal(date, 1647362700);
    igtcloud_study_free(s);
}

static void test_download__days_and_categories(void **state)
{
    (void)state;
    int64_t day = 0;
    assert_int_equal(igtcloud_day_parse(&day, "2021-03-04"), 0);
    assert_int_equal(day, 1614816000);
    const char *bad[] = { "2021-02-30", "2021-3-4", "20210304", "2021-03-04T00:00:00", "", "yesterday" };
    for (size_t i = 0; i < sizeof(bad) / sizeof(bad[0]); i++)
        assert_int_equal(igtcloud_day_parse(&day, bad[i]), IGTCLOUD_EINVALID);
    igtcloud_category c;
    assert_int_equal(igtcloud_category_parse(&c, "DICOM"), 0);
    assert_int_equal(c, IGTCLOUD_CATEGORY_DICOM);
    assert_int_equal(igtcloud_category_parse(&c, "pictures"), IGTCLOUD_EINVALID);
    igtcloud_file_info f = { IGTCLOUD_CATEGORY_FILES, "k", "x/y.DCM", ".DCM", 1, 1, 0, "" };
    const char *dcm[] = { "dcm", NULL }, *txt[] = { ".txt", NULL };
    assert_true(igtcloud_file_ext_match(dcm, &f));
    assert_false(igtcloud_file_ext_match(txt, &f));
    assert_true(igtcloud_file_ext_match(NULL, &f));
}

/* Options version 2 adds s3_endpoint; a version 1 caller's shorter struct is filled, not overrun. */
static void test_download__options_versions(void **state)
{
    (void)state;
    igtcloud_download_options o;
    memset(&o, 0xAB, sizeof(o));
    assert_int_equal(igtcloud_download_options_init(&o, IGTCLOUD_DOWNLOAD_OPTIONS_VERSION), 0);
    assert_int_equal(o.version, 2);
    assert_null(o.s3_endpoint);
    assert_null(o.ca_file);
    assert_int_equal(igtcloud_download_options_init(&o, 3), IGTCLOUD_EINVALID);
    assert_int_equal(igtcloud_download_options_init(&o, 0), IGTCLOUD_EINVALID);
    memset(&o, 0xAB, sizeof(o));
    assert_int_equal(igtcloud_download_options_init(&o, 1), 0);
    assert_int_equal(o.version, 1);
    assert_null(o.file_payload);
    const unsigned char *tail = (const unsigned char *)&o + offsetof(igtcloud_download_options, s3_endpoint);
    for (size_t i = 0; i < sizeof(o.s3_endpoint); i++)
        assert_int_equal(tail[i], 0xAB);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_download__manifest_line_parsing),
        cmocka_unit_test(test_download__options_versions),
        cmocka_unit_test(test_download__manifest_vouches_only_verified_files),
        cmocka_unit_test(test_download__study_folder_refuses_hostile_ids),
        cmocka_unit_test(test_download__days_and_categories),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
