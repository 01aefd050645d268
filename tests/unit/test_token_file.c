/* The token file on disk: modes, hostile files, atomic updates under concurrent readers. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <cmocka.h>
#include <fcntl.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <unistd.h>

#include "auth/token_file.h"
#include "core/error.h"
#include "test_sandbox.h"

#define assert_ok(expr)                                                                  \
    do {                                                                                 \
        int rc_ = (expr);                                                                \
        if (rc_ != 0)                                                                    \
            fail_msg("%s = %d: %s", #expr, rc_, igtcloud_error_last()->message);         \
    } while (0)

static char dir[256];
static char path[512];

static int setup(void **state)
{
    (void)state;
    if (test_make_temp_dir(dir, sizeof(dir), "tokenfile"))
        return -1;
    snprintf(path, sizeof(path), "%s/token", dir);
    return 0;
}

static int teardown(void **state)
{
    (void)state;
    test_remove_tree(dir);
    return 0;
}

static igtcloud__token make_token(const char *jwt, long long exp)
{
    igtcloud__token t;
    memset(&t, 0, sizeof(t));
    t.sub = strdup("demo");
    t.jwt = strdup(jwt);
    t.csrf = strdup("csrf");
    t.domain = strdup("http://127.0.0.1:1");
    t.jwt_data = json_pack("{s:I, s:s}", "exp", (json_int_t)exp, "jwt", jwt);
    t.exp = exp;
    return t;
}

static void test_token_file__created_private_full_size(void **state)
{
    (void)state;
    igtcloud__token t = make_token("a.b.c", 4000000000LL);
    igtcloud__token_writer w = IGTCLOUD__TOKEN_WRITER_INIT;
    umask(0);  /* even a permissive umask must not widen the mode */
    assert_ok(igtcloud__token_writer_create(&w, path, &t));
    umask(022);
    struct stat st;
    assert_int_equal(lstat(path, &st), 0);
    assert_true(S_ISREG(st.st_mode));
    assert_int_equal(st.st_mode & 07777, 0600);
    assert_int_equal(st.st_size, IGTCLOUD__TOKEN_FILE_SIZE);
    /* NUL-filled after the text. */
    FILE *f = fopen(path, "rb");
    char buf[IGTCLOUD__TOKEN_FILE_SIZE];
    assert_int_equal(fread(buf, 1, sizeof(buf), f), sizeof(buf));
    fclose(f);
    size_t text = strlen(buf);
    assert_true(text > 0 && text < sizeof(buf));
    for (size_t i = text; i < sizeof(buf); i++)
        assert_int_equal(buf[i], 0);

    igtcloud__token back;
    assert_ok(igtcloud__token_file_read(&back, path));
    assert_string_equal(back.jwt, "a.b.c");
    igtcloud__token_dispose(&back);

    /* In-place update, same inode, still 0600 and full size. */
    igtcloud__token t2 = make_token("d.e.f", 4000000001LL);
    assert_ok(igtcloud__token_writer_update(&w, &t2));
    struct stat st2;
    assert_int_equal(lstat(path, &st2), 0);
    assert_int_equal(st2.st_ino, st.st_ino);
    assert_int_equal(st2.st_size, IGTCLOUD__TOKEN_FILE_SIZE);
    assert_ok(igtcloud__token_file_read(&back, path));
    assert_string_equal(back.jwt, "d.e.f");
    assert_int_equal(back.exp, 4000000001LL);
    igtcloud__token_dispose(&back);

    assert_ok(igtcloud__token_writer_remove(&w));
    assert_int_not_equal(access(path, F_OK), 0);
    assert_int_equal(igtcloud__token_file_read(&back, path), IGTCLOUD_ENOTFOUND);
    igtcloud__token_dispose(&t);
    igtcloud__token_dispose(&t2);
}

static void test_token_file__replaces_symlink_and_leftovers_without_following(void **state)
{
    (void)state;
    char target[600];
    snprintf(target, sizeof(target), "%s/victim", dir);
    FILE *f = fopen(target, "w");
    fputs("precious", f);
    fclose(f);
    assert_int_equal(symlink(target, path), 0);

    igtcloud__token t = make_token("a.b.c", 4000000000LL);
    igtcloud__token_writer w = IGTCLOUD__TOKEN_WRITER_INIT;
    assert_ok(igtcloud__token_writer_create(&w, path, &t));
    struct stat st;
    assert_int_equal(lstat(path, &st), 0);
    assert_true(S_ISREG(st.st_mode));  /* the link itself was replaced */
    char buf[16] = "";
    f = fopen(target, "r");
    assert_non_null(fgets(buf, sizeof(buf), f));
    fclose(f);
    assert_string_equal(buf, "precious");
    /* Removing leaves nothing behind, and never the victim. */
    assert_ok(igtcloud__token_writer_remove(&w));
    assert_int_equal(access(target, F_OK), 0);
    unlink(target);

    /* A world-readable leftover (the reference writes 0644) is replaced by a 0600 file. */
    f = fopen(path, "w");
    fputs("old", f);
    fclose(f);
    chmod(path, 0644);
    assert_ok(igtcloud__token_writer_create(&w, path, &t));
    assert_int_equal(lstat(path, &st), 0);
    assert_int_equal(st.st_mode & 07777, 0600);
    assert_ok(igtcloud__token_writer_remove(&w));
    igtcloud__token_dispose(&t);
}

/* A second login publishing at the same path: the first one's exit leaves the new file alone. */
static void test_token_file__remove_spares_a_newer_writers_file(void **state)
{
    (void)state;
    igtcloud__token t1 = make_token("a.b.c", 4000000000LL);
    igtcloud__token t2 = make_token("d.e.f", 4000000001LL);
    igtcloud__token_writer first = IGTCLOUD__TOKEN_WRITER_INIT;
    igtcloud__token_writer second = IGTCLOUD__TOKEN_WRITER_INIT;
    assert_ok(igtcloud__token_writer_create(&first, path, &t1));
    assert_ok(igtcloud__token_writer_create(&second, path, &t2));
    /* The first one's refresh goes to its own (replaced) file, not over the second's. */
    assert_ok(igtcloud__token_writer_update(&first, &t1));
    igtcloud__token back;
    assert_ok(igtcloud__token_file_read(&back, path));
    assert_string_equal(back.jwt, "d.e.f");
    igtcloud__token_dispose(&back);
    assert_ok(igtcloud__token_writer_remove(&first));
    assert_ok(igtcloud__token_file_read(&back, path));
    assert_string_equal(back.jwt, "d.e.f");
    igtcloud__token_dispose(&back);
    assert_ok(igtcloud__token_writer_remove(&second));
    assert_int_not_equal(access(path, F_OK), 0);
    igtcloud__token_dispose(&t1);
    igtcloud__token_dispose(&t2);
}

static void write_file(const char *p, mode_t mode)
{
    igtcloud__token t = make_token("a.b.c", 4000000000LL);
    igtcloud__token_writer w = IGTCLOUD__TOKEN_WRITER_INIT;
    assert_ok(igtcloud__token_writer_create(&w, p, &t));
    /* Forget the writer without deleting the file. */
    close(w.fd);
    free(w.path);
    chmod(p, mode);
    igtcloud__token_dispose(&t);
}

static void test_token_file__hostile_files_are_refused(void **state)
{
    (void)state;
    igtcloud__token t;

    /* A symlink to a perfectly good token file. */
    char real[600];
    snprintf(real, sizeof(real), "%s/real", dir);
    write_file(real, 0600);
    assert_int_equal(symlink(real, path), 0);
    assert_int_equal(igtcloud__token_file_read(&t, path), IGTCLOUD_EPERM);
    assert_non_null(strstr(igtcloud_error_last()->message, "symbolic link"));
    unlink(path);

    /* Group- or other-accessible. */
    static const mode_t modes[] = { 0644, 0640, 0604, 0620, 0602 };
    for (size_t i = 0; i < sizeof(modes) / sizeof(modes[0]); i++) {
        write_file(path, modes[i]);
        assert_int_equal(igtcloud__token_file_read(&t, path), IGTCLOUD_EPERM);
        assert_non_null(strstr(igtcloud_error_last()->message, "other users"));
        unlink(path);
    }

    /* Owned by someone else (possible to set up only as root). */
    if (geteuid() == 0) {
        write_file(path, 0600);
        assert_int_equal(chown(path, 65534, 65534), 0);
        assert_int_equal(igtcloud__token_file_read(&t, path), IGTCLOUD_EPERM);
        assert_non_null(strstr(igtcloud_error_last()->message, "not by you"));
        unlink(path);
    }

    /* Not a regular file: a FIFO would block a naive reader forever. */
    assert_int_equal(mkfifo(path, 0600), 0);
    assert_int_equal(igtcloud__token_file_read(&t, path), IGTCLOUD_EPERM);
    assert_non_null(strstr(igtcloud_error_last()->message, "not a regular file"));
    unlink(path);
    assert_int_equal(mkdir(path, 0700), 0);
    assert_int_equal(igtcloud__token_file_read(&t, path), IGTCLOUD_EPERM);
    rmdir(path);

    /* Garbage of the right owner and mode. */
    int fd = open(path, O_WRONLY | O_CREAT | O_EXCL, 0600);
    assert_true(fd >= 0);
    assert_int_equal(write(fd, "garbage!", 8), 8);
    close(fd);
    assert_int_equal(igtcloud__token_file_read(&t, path), IGTCLOUD_EPROTO);
    assert_non_null(strstr(igtcloud_error_last()->message, "damaged"));
    unlink(path);
    unlink(real);
}

/* Many updates while a child reads: every read is one whole token, never a mix. */
static void test_token_file__readers_never_see_a_mixed_token(void **state)
{
    (void)state;
    igtcloud__token t = make_token("AAAA.AAAA.AAAA", 4000000000LL);
    igtcloud__token_writer w = IGTCLOUD__TOKEN_WRITER_INIT;
    assert_ok(igtcloud__token_writer_create(&w, path, &t));
    igtcloud__token_dispose(&t);

    pid_t child = fork();
    assert_true(child >= 0);
    if (child == 0) {
        for (int i = 0; i < 3000; i++) {
            igtcloud__token r;
            if (igtcloud__token_file_read(&r, path) != 0)
                _exit(1);
            /* Each generation repeats one letter in the jwt and in jwt_data. */
            const char *jwt = r.jwt;
            const char *inner = json_string_value(json_object_get(r.jwt_data, "jwt"));
            if (!inner || strcmp(jwt, inner) != 0)
                _exit(2);
            for (const char *p = jwt; *p; p++) {
                if (*p != '.' && *p != jwt[0])
                    _exit(3);
            }
            igtcloud__token_dispose(&r);
        }
        _exit(0);
    }
    int status = 0;
    for (int gen = 0; waitpid(child, &status, WNOHANG) == 0; gen++) {
        char jwt[64];
        char c = (char)('A' + gen % 26);
        /* Different lengths too, so a torn write would leave visible junk. */
        int n = 4 + gen % 7;
        snprintf(jwt, sizeof(jwt), "%.*s.%.*s.%.*s", n, "AAAAAAAAAAA", n, "AAAAAAAAAAA", n,
                 "AAAAAAAAAAA");
        for (char *p = jwt; *p; p++)
            if (*p != '.')
                *p = c;
        t = make_token(jwt, 4000000000LL + gen);
        assert_ok(igtcloud__token_writer_update(&w, &t));
        igtcloud__token_dispose(&t);
    }
    assert_true(WIFEXITED(status));
    assert_int_equal(WEXITSTATUS(status), 0);
    assert_ok(igtcloud__token_writer_remove(&w));
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test_setup_teardown(test_token_file__created_private_full_size, setup,
                                        teardown),
        cmocka_unit_test_setup_teardown(
            test_token_file__replaces_symlink_and_leftovers_without_following, setup, teardown),
        cmocka_unit_test_setup_teardown(test_token_file__hostile_files_are_refused, setup,
                                        teardown),
        cmocka_unit_test_setup_teardown(test_token_file__remove_spares_a_newer_writers_file,
                                        setup, teardown),
        cmocka_unit_test_setup_teardown(test_token_file__readers_never_see_a_mixed_token, setup,
                                        teardown),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
