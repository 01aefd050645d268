/*
 * Create a service identity for an institute and save its private key as
 * <service id>.pem, like the Python snippet in the reference client's README:
 *
 *     with smart_auth(domain) as auth:
 *         service = entities_service.post_services(institute_id, Service(name=service_name))
 *         save_private_key(service.private_key, f"{service.service_id}.pem")
 *
 * Usage: create_service DOMAIN INSTITUTE_ID SERVICE_NAME
 *
 * Like smart_auth it reuses the session of a running `igtcloud login`; else it
 * logs in as $CLOUD_USERNAME with a password read from standard input (no
 * echo on a terminal) and logs out at the end. Then log in as the service with
 * `igtcloud login -d DOMAIN -s <service id>.pem`.
 */
#include <igtcloud/igtcloud.h>
#include <stdio.h>
#include <string.h>
#include <termios.h>
#include <unistd.h>

static int read_password(char *buf, size_t size, const char *user, const char *host,
                         void *payload)
{
    (void)payload;
    struct termios saved, quiet;
    int terminal = isatty(STDIN_FILENO) && tcgetattr(STDIN_FILENO, &saved) == 0;
    if (terminal) {
        fprintf(stderr, "%s@%s's password: ", user, host);
        quiet = saved;
        quiet.c_lflag &= (tcflag_t)~ECHO;
        tcsetattr(STDIN_FILENO, TCSAFLUSH, &quiet);
    }
    int ok = fgets(buf, (int)size, stdin) != NULL;
    if (terminal) {
        tcsetattr(STDIN_FILENO, TCSAFLUSH, &saved);
        fputc('\n', stderr);
    }
    if (!ok)
        return IGTCLOUD_ECANCELLED;
    buf[strcspn(buf, "\r\n")] = '\0';
    return 0;
}

int main(int argc, char **argv)
{
    if (argc != 4) {
        fprintf(stderr, "usage: %s DOMAIN INSTITUTE_ID SERVICE_NAME\n", argv[0]);
        return 2;
    }
    const char *domain = argv[1], *institute_id = argv[2], *service_name = argv[3];
    igtcloud_session *auth = NULL;
    igtcloud_service *service = NULL;
    int rc = 1;

    if (igtcloud_global_init() < 0) {
        fprintf(stderr, "create_service: %s\n", igtcloud_error_last()->message);
        return 1;
    }
    igtcloud_session_options opts = IGTCLOUD_SESSION_OPTIONS_INIT;
    opts.domain = domain;
    opts.password_cb = read_password;
    if (igtcloud_session_open(&auth, &opts) < 0)
        goto done;
    if (igtcloud_service_create(&service, auth, institute_id, service_name) < 0)
        goto done;

    char path[1024];
    snprintf(path, sizeof(path), "%s.pem", igtcloud_service_id(service));
    if (igtcloud_private_key_save(igtcloud_service_private_key(service), path) < 0)
        goto done;
    printf("%s\n", path);
    rc = 0;
done:
    if (rc)
        fprintf(stderr, "create_service: %s\n", igtcloud_error_last()->message);
    igtcloud_service_free(service);
    igtcloud_session_free(auth);
    igtcloud_global_shutdown();
    return rc;
}
