/*
 * tools/download: the completion manifest, the catalog's study parsing and
 * folder refusal, filters, the listing of the study being planned.
 */
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
    assert_int_equal(o.version, 3);
    assert_null(o.s3_endpoint);
    assert_null(o.ca_file);
    assert_int_equal(o.verify_multipart, 0);
    assert_int_equal(igtcloud_download_options_init(&o, 4), IGTCLOUD_EINVALID);
    assert_int_equal(igtcloud_download_options_init(&o, 0), IGTCLOUD_EINVALID);
    /* Version 2 stops before verify_multipart: the caller's struct ends there. */
    memset(&o, 0xAB, sizeof(o));
    assert_int_equal(igtcloud_download_options_init(&o, 2), 0);
    assert_int_equal(o.version, 2);
    assert_null(o.s3_endpoint);
    const unsigned char *v2_tail = (const unsigned char *)&o + offsetof(igtcloud_download_options, verify_multipart);
    for (size_t i = 0; i < sizeof(o.verify_multipart); i++)
        assert_int_equal(v2_tail[i], 0xAB);
    memset(&o, 0xAB, sizeof(o));
    assert_int_equal(igtcloud_download_options_init(&o, 1), 0);
    assert_int_equal(o.version, 1);
    assert_null(o.file_payload);
    const unsigned char *tail = (const unsigned char *)&o + offsetof(igtcloud_download_options, s3_endpoint);
    for (size_t i = 0; i < sizeof(o.s3_endpoint); i++)
        assert_int_equal(tail[i], 0xAB);
}

static void listing_add(igtcloud__dl_listing *l, igtcloud_category c, const char *key,
                        const char *name, int64_t size)
{
    igtcloud_file_info f = { c, key, name, ".x", size, 1, 1, "upload" };
    assert_int_equal(igtcloud__dl_listing_add(l, &f), 0);
}

/* Reads the next file: it must be `key` (named `name`) of category c and `size`. */
static void listing_next_is(igtcloud__dl_listing *l, igtcloud_category c, const char *key,
                            const char *name, int64_t size)
{
    igtcloud_file_info f;
    assert_int_equal(igtcloud__dl_listing_next(l, &f), 1);
    assert_int_equal(f.category, c);
    assert_string_equal(f.key, key);
    assert_string_equal(f.name, name);
    assert_int_equal(f.size, size);
    assert_true(f.completed);
    assert_string_equal(f.type, "");
    assert_string_equal(f.upload_id, "");
}

/* Categories come back files, dicom, annotations, project, each in the order added. */
static void test_download__listing_reads_categories_in_rank_order(void **state)
{
    (void)state;
    igtcloud__dl_listing l;
    igtcloud_file_info f;
    igtcloud__dl_listing_open(&l);
    listing_add(&l, IGTCLOUD_CATEGORY_ANNOTATIONS, "s/annotations/a1", "a1", 1);
    listing_add(&l, IGTCLOUD_CATEGORY_DICOM, "s/0/d1", "d1", 2);
    listing_add(&l, IGTCLOUD_CATEGORY_PROJECT, "p/p1", "p1", -1);
    listing_add(&l, IGTCLOUD_CATEGORY_FILES, "s/files/f1", "f1", 0);
    listing_add(&l, IGTCLOUD_CATEGORY_ANNOTATIONS, "s/annotations/a2", "", 4);
    listing_add(&l, IGTCLOUD_CATEGORY_DICOM, "s/0/d2", "d2", 5);
    listing_add(&l, IGTCLOUD_CATEGORY_FILES, "s/files/f2", "sub/f2", INT64_MAX);
    listing_next_is(&l, IGTCLOUD_CATEGORY_FILES, "s/files/f1", "f1", 0);
    listing_next_is(&l, IGTCLOUD_CATEGORY_FILES, "s/files/f2", "sub/f2", INT64_MAX);
    listing_next_is(&l, IGTCLOUD_CATEGORY_DICOM, "s/0/d1", "d1", 2);
    /* Nothing is added to a listing being read. */
    igtcloud_file_info late = { IGTCLOUD_CATEGORY_FILES, "k", "n", "", 1, 1, 0, "" };
    assert_int_equal(igtcloud__dl_listing_add(&l, &late), IGTCLOUD_EINVALID);
    listing_next_is(&l, IGTCLOUD_CATEGORY_DICOM, "s/0/d2", "d2", 5);
    listing_next_is(&l, IGTCLOUD_CATEGORY_ANNOTATIONS, "s/annotations/a1", "a1", 1);
    listing_next_is(&l, IGTCLOUD_CATEGORY_ANNOTATIONS, "s/annotations/a2", "", 4);
    listing_next_is(&l, IGTCLOUD_CATEGORY_PROJECT, "p/p1", "p1", -1);
    assert_int_equal(igtcloud__dl_listing_next(&l, &f), 0);
    assert_int_equal(igtcloud__dl_listing_next(&l, &f), 0);
    igtcloud_file_info odd = { (igtcloud_category)16, "k", "n", "", 1, 1, 0, "" };
    igtcloud__dl_listing_clear(&l);
    assert_int_equal(igtcloud__dl_listing_add(&l, &odd), IGTCLOUD_EINVALID);
    igtcloud__dl_listing_close(&l);
    igtcloud__dl_listing_close(&l);
}

/*
 * Thousands of records (far more than one 64 KiB chunk of the file), two
 * categories interleaved: each comes back whole and in order; a listing
 * emptied half-way through reading holds only what is added after, though
 * its file still has the bytes of before.
 */
static void test_download__listing_large_and_cleared(void **state)
{
    (void)state;
    enum { N = 3000 };
    char key[128], name[128];
    igtcloud__dl_listing l;
    igtcloud_file_info f;
    igtcloud__dl_listing_open(&l);
    for (int i = 0; i < N; i++) {
        snprintf(key, sizeof(key), "study/%d/%05d-with-a-long-enough-key", i % 2, i);
        snprintf(name, sizeof(name), "folder/%05d.bin", i);
        listing_add(&l, i % 2 ? IGTCLOUD_CATEGORY_ANNOTATIONS : IGTCLOUD_CATEGORY_DICOM, key, name, i);
    }
    for (int pass = 0; pass < 2; pass++)
        for (int i = pass; i < N; i += 2) {
            snprintf(key, sizeof(key), "study/%d/%05d-with-a-long-enough-key", i % 2, i);
            snprintf(name, sizeof(name), "folder/%05d.bin", i);
            listing_next_is(&l, pass ? IGTCLOUD_CATEGORY_ANNOTATIONS : IGTCLOUD_CATEGORY_DICOM,
                            key, name, i);
        }
    assert_int_equal(igtcloud__dl_listing_next(&l, &f), 0);

    igtcloud__dl_listing_clear(&l);
    listing_add(&l, IGTCLOUD_CATEGORY_FILES, "k0", "n0", 10);
    listing_add(&l, IGTCLOUD_CATEGORY_DICOM, "k1", "n1", 11);
    listing_next_is(&l, IGTCLOUD_CATEGORY_FILES, "k0", "n0", 10);
    igtcloud__dl_listing_clear(&l);
    listing_add(&l, IGTCLOUD_CATEGORY_ANNOTATIONS, "k2", "n2", 12);
    listing_next_is(&l, IGTCLOUD_CATEGORY_ANNOTATIONS, "k2", "n2", 12);
    assert_int_equal(igtcloud__dl_listing_next(&l, &f), 0);
    igtcloud__dl_listing_close(&l);
}

#define STUDY(rel) igtcloud__dl_claim(&set, 0, rel, 0, IGTCLOUD__DL_CLAIM_STUDY)
#define FILE_IN(fold, rel) igtcloud__dl_claim(&other, fold, rel, skip, IGTCLOUD__DL_CLAIM_FILE)

/* Claims against each case of igtcloud__dl_claim; with `mask` 0 every key shares one hash. */
static void claims_case(uint64_t mask)
{
    igtcloud__spill_map set, other;
    igtcloud__spill_map_hash_mask = mask;
    igtcloud__spill_map_open(&set, NULL);
    igtcloud__spill_map_open(&other, NULL);
    assert_int_equal(STUDY("I/P1---S1"), 0);
    assert_int_equal(STUDY("I/P1---S1"), 1);
    assert_non_null(strstr(igtcloud_error_last()->message, "is already the folder of another study"));
    assert_int_equal(STUDY("I/P2/S2"), 0);
    /* A study folder inside another's, or holding one. */
    assert_int_equal(STUDY("I/P2/S2/S3"), 1);
    assert_int_equal(STUDY("I/P2"), 1);
    assert_non_null(strstr(igtcloud_error_last()->message, "already holds the folder of another study"));
    assert_int_equal(STUDY("I/p2/S2"), 0);
    /* Files of a study, past its folder: the same path twice, a file where a folder is, and back. */
    const size_t skip = strlen("I/P1---S1/");
    assert_int_equal(FILE_IN(0, "I/P1---S1/a/b.txt"), 0);
    assert_int_equal(FILE_IN(0, "I/P1---S1/a/b.txt"), 1);
    assert_non_null(strstr(igtcloud_error_last()->message, "'I/P1---S1/a/b.txt' is already a file"));
    assert_int_equal(FILE_IN(0, "I/P1---S1/a"), 1);
    assert_non_null(strstr(igtcloud_error_last()->message, "is already a folder"));
    assert_int_equal(FILE_IN(0, "I/P1---S1/a/b.txt/c"), 1);
    assert_int_equal(FILE_IN(0, "I/P1---S1/a/c.txt"), 0);
    assert_int_equal(FILE_IN(0, "I/P1---S1/A/B.TXT"), 0);
    /* Where TARGET ignores case, "A/B.TXT" is "a/b.txt". */
    assert_int_equal(FILE_IN(1, "I/P1---S1/x/Y.txt"), 0);
    assert_int_equal(FILE_IN(1, "I/P1---S1/X/y.TXT"), 1);
    assert_non_null(strstr(igtcloud_error_last()->message, "names differing only in case"));
    assert_int_equal(FILE_IN(1, "I/P1---S1/X"), 1);
    igtcloud__spill_map_close(&set);
    igtcloud__spill_map_close(&other);
    igtcloud__spill_map_hash_mask = UINT64_MAX;
}

#undef STUDY
#undef FILE_IN

/* Collisions are found in the claims kept out of memory, forced hash collisions included. */
static void test_download__claims(void **state)
{
    (void)state;
    claims_case(UINT64_MAX);
    claims_case(0);
    assert_string_equal(igtcloud__dl_institute_problem(".IGTCLOUD", 1),
                        "is the folder of igtcloud's own records (.igtcloud)");
    assert_null(igtcloud__dl_institute_problem(".IGTCLOUD", 0));
    assert_non_null(igtcloud__dl_name_problem("a/b.igtcloud-part"));
    assert_non_null(igtcloud__dl_name_problem("a.igtcloud-journal/b"));
    assert_null(igtcloud__dl_name_problem("a/b.igtcloud-partx"));
}

/* A refused call closes none of the caller's descriptors: it opened no manifest to close. */
static void test_download__refused_call_closes_nothing(void **state)
{
    (void)state;
    igtcloud_download_summary sum;
    int saved = dup(0);
    int null_fd = open("/dev/null", O_RDONLY | O_CLOEXEC);
    assert_true(null_fd > 0);
    assert_int_equal(dup2(null_fd, 0), 0);
    assert_int_equal(igtcloud_download_project(&sum, NULL, "x", NULL, NULL, NULL),
                     IGTCLOUD_EINVALID);
    assert_true(fcntl(0, F_GETFD) >= 0);
    assert_int_equal(igtcloud_download_institute(&sum, NULL, "x", NULL, NULL), IGTCLOUD_EINVALID);
    assert_true(fcntl(0, F_GETFD) >= 0);
    assert_int_equal(igtcloud_download_study(&sum, NULL, "x", NULL, NULL, NULL), IGTCLOUD_EINVALID);
    assert_true(fcntl(0, F_GETFD) >= 0);
    if (saved >= 0) {
        dup2(saved, 0);
        close(saved);
    } else {
        close(0);
    }
    close(null_fd);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_download__manifest_line_parsing),
        cmocka_unit_test(test_download__options_versions),
        cmocka_unit_test(test_download__manifest_vouches_only_verified_files),
        cmocka_unit_test(test_download__study_folder_refuses_hostile_ids),
        cmocka_unit_test(test_download__days_and_categories),
        cmocka_unit_test(test_download__listing_reads_categories_in_rank_order),
        cmocka_unit_test(test_download__listing_large_and_cleared),
        cmocka_unit_test(test_download__claims),
        cmocka_unit_test(test_download__refused_call_closes_nothing),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
