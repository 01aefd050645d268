/*
 * The sandbox's JWT code reads tokens straight from X-JWT headers and login
 * bodies: parse, HS256 verification and RS256 assertion checks on arbitrary
 * bytes. Whatever parses must also survive re-signing with its claims, and
 * the re-signed payload must stay free of '-' and '_'.
 */
#include <stddef.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include <openssl/bio.h>
#include <openssl/evp.h>
#include <openssl/pem.h>

#include "jwt.h"

static const time_t now = 1700000000;
static unsigned char key[SANDBOX_JWT_SECRET_LEN];
static char *public_pem;

/* One RSA key for the whole run; only its public half is used. */
/* BIO memory is not NUL-terminated, so copy exactly len bytes (strndup may read on). */
static char *bytes_dup(const char *data, size_t len)
{
    char *copy = malloc(len + 1);
    if (copy) {
        memcpy(copy, data, len);
        copy[len] = '\0';
    }
    return copy;
}

static void init(void)
{
    for (size_t i = 0; i < sizeof(key); i++)
        key[i] = (unsigned char)(i * 7 + 1);
    EVP_PKEY *pkey = EVP_RSA_gen(2048);
    BIO *bio = BIO_new(BIO_s_mem());
    if (!pkey || !bio || PEM_write_bio_PUBKEY(bio, pkey) != 1)
        abort();
    char *data = NULL;
    long len = BIO_get_mem_data(bio, &data);
    public_pem = bytes_dup(data, (size_t)len);
    BIO_free(bio);
    EVP_PKEY_free(pkey);
    if (!public_pem)
        abort();
}

static void resign(const sandbox_jwt *jwt)
{
    igtcloud__buf token = IGTCLOUD_BUF_INIT;
    sandbox_jwt again = SANDBOX_JWT_INIT;
    if (sandbox_jwt_sign_hs256(&token, jwt->claims, key, sizeof(key)) != 0)
        goto done;
    const char *dot1 = strchr(token.ptr, '.');
    const char *dot2 = dot1 ? strchr(dot1 + 1, '.') : NULL;
    if (!dot2 || memchr(dot1 + 1, '-', (size_t)(dot2 - dot1 - 1)) ||
        memchr(dot1 + 1, '_', (size_t)(dot2 - dot1 - 1)))
        abort();
    if (sandbox_jwt_parse(&again, token.ptr, token.size) != 0 ||
        sandbox_jwt_verify_hs256(&again, key, sizeof(key)) != 0 ||
        !json_equal(again.claims, jwt->claims))
        abort();
done:
    sandbox_jwt_dispose(&again);
    igtcloud__buf_dispose(&token);
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    if (!public_pem)
        init();
    const char *text = (const char *)data;
    sandbox_jwt jwt = SANDBOX_JWT_INIT;
    if (sandbox_jwt_verify_session(&jwt, text, size, key, sizeof(key), now) == 0)
        sandbox_jwt_dispose(&jwt);
    if (sandbox_jwt_parse(&jwt, text, size) == 0) {
        const char *why = NULL;
        sandbox_jwt_check_assertion(&jwt, public_pem, "http://127.0.0.1:8080/api/auth/token",
                                    "svc", now, &why);
        sandbox_jwt_verify_hs256(&jwt, key, sizeof(key));
        sandbox_jwt_alive(&jwt, now);
        resign(&jwt);
        sandbox_jwt_dispose(&jwt);
    }
    return 0;
}
