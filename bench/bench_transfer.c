/*
 * bench_transfer: move a folder of files up to or down from S3 through the
 * transfer engine, with fixed credentials, and print one line of figures.
 * Built and driven by bench/bench_transfer.sh (not part of CTest).
 *
 *   bench_transfer up|down DIR PREFIX
 *
 * Environment: S3_ENDPOINT, S3_BUCKET, AWS_ACCESS_KEY_ID, AWS_SECRET_ACCESS_KEY,
 * AWS_SESSION_TOKEN (optional), BENCH_REQUESTS (default: the engine's),
 * BENCH_CHECKSUM (crc32c, the engine's default; md5; sha256).
 * "down" downloads the objects named like the files of DIR into DIR.down/,
 * with their sizes known (as the CLI knows them from the API) unless
 * BENCH_UNKNOWN_SIZE is set.
 */
#include <dirent.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <time.h>

#include <igtcloud/igtcloud.h>

static double now_s(void)
{
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (double)ts.tv_sec + ts.tv_nsec / 1e9;
}

static const char *env(const char *name, const char *fallback)
{
    const char *v = getenv(name);
    return v && *v ? v : fallback;
}

int main(int argc, char **argv)
{
    if (argc != 4 || (strcmp(argv[1], "up") != 0 && strcmp(argv[1], "down") != 0)) {
        fprintf(stderr, "usage: bench_transfer up|down DIR PREFIX\n");
        return 2;
    }
    int up = strcmp(argv[1], "up") == 0;
    const char *dir = argv[2], *prefix = argv[3];
    static igtcloud_s3_credentials c;
    snprintf(c.access_key, sizeof(c.access_key), "%s", env("AWS_ACCESS_KEY_ID", ""));
    snprintf(c.secret_key, sizeof(c.secret_key), "%s", env("AWS_SECRET_ACCESS_KEY", ""));
    snprintf(c.session_token, sizeof(c.session_token), "%s", env("AWS_SESSION_TOKEN", ""));
    snprintf(c.bucket, sizeof(c.bucket), "%s", env("S3_BUCKET", ""));
    snprintf(c.endpoint, sizeof(c.endpoint), "%s", env("S3_ENDPOINT", ""));

    igtcloud_global_init();
    igtcloud_transfer_options o;
    igtcloud_transfer_options_init(&o, IGTCLOUD_TRANSFER_OPTIONS_VERSION);
    o.credentials = &c;
    o.max_requests = (unsigned int)strtoul(env("BENCH_REQUESTS", "0"), NULL, 10);
    o.server_side_encryption = strcmp(env("BENCH_SSE", "1"), "0") != 0;
    o.part_size = strtoull(env("BENCH_PART_MIB", "0"), NULL, 10) * 1024 * 1024;
    o.range_size = strtoull(env("BENCH_RANGE_MIB", "0"), NULL, 10) * 1024 * 1024;
    const char *sum = env("BENCH_CHECKSUM", "crc32c");
    if (strcmp(sum, "md5") == 0)
        o.checksum = IGTCLOUD_CHECKSUM_MD5;
    else if (strcmp(sum, "sha256") == 0)
        o.checksum = IGTCLOUD_CHECKSUM_SHA256;
    else if (strcmp(sum, "crc32c") != 0) {
        fprintf(stderr, "bench_transfer: BENCH_CHECKSUM must be md5, crc32c or sha256\n");
        return 2;
    }
    igtcloud_transfer *t = NULL;
    if (igtcloud_transfer_new(&t, &o)) {
        fprintf(stderr, "bench_transfer: %s\n", igtcloud_error_last()->message);
        return 1;
    }
    char down_dir[4096];
    snprintf(down_dir, sizeof(down_dir), "%s.down", dir);
    if (!up)
        mkdir(down_dir, 0755);
    DIR *d = opendir(dir);
    if (!d) {
        perror(dir);
        return 1;
    }
    struct dirent *e;
    uint64_t bytes = 0;
    size_t files = 0;
    while ((e = readdir(d))) {
        if (e->d_name[0] == '.')
            continue;
        char path[4096], key[4096], out[4096];
        struct stat st;
        snprintf(path, sizeof(path), "%s/%s", dir, e->d_name);
        if (stat(path, &st) || !S_ISREG(st.st_mode))
            continue;
        snprintf(key, sizeof(key), "%s%s", prefix, e->d_name);
        snprintf(out, sizeof(out), "%s/%s", down_dir, e->d_name);
        int rc = up ? igtcloud_transfer_add_upload(t, path, key, prefix, NULL, NULL)
                    : igtcloud_transfer_add_download(t, key, out, prefix,
                                                     getenv("BENCH_UNKNOWN_SIZE") ? -1 : (int64_t)st.st_size,
                                                     NULL);
        if (rc) {
            fprintf(stderr, "bench_transfer: %s\n", igtcloud_error_last()->message);
            return 1;
        }
        bytes += (uint64_t)st.st_size;
        files++;
    }
    closedir(d);
    double t0 = now_s();
    int rc = igtcloud_transfer_run(t);
    double dt = now_s() - t0;
    if (rc)
        fprintf(stderr, "bench_transfer: %s\n", igtcloud_error_last()->message);
    printf("files=%zu bytes=%llu seconds=%.3f MiBps=%.1f\n", files, (unsigned long long)bytes, dt,
           (double)bytes / (1024.0 * 1024.0) / dt);
    igtcloud_transfer_free(t);
    igtcloud_global_shutdown();
    return rc ? 1 : 0;
}
