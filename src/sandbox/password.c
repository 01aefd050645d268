#include "password.h"
#include "core/base64.h"
#include "core/error.h"
#include "core/hash.h"
#include "core/random.h"

#include <errno.h>
#include <openssl/evp.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

/* OWASP's 2023 figure for PBKDF2-HMAC-SHA256. */
#define ITERATIONS 600000
#define MIN_ITERATIONS 1000

/*
 * New hashes use ITERATIONS unless IGTCLOUD_SANDBOX_PASSWORD_ITERATIONS asks
 * for fewer: the test suite logs in thousands of times, and 0.3 s of CPU per
 * login (held under the store lock) dominated its run time. Verification
 * always uses the count stored in the hash.
 */
static long hash_iterations(void)
{
    const char *text = getenv("IGTCLOUD_SANDBOX_PASSWORD_ITERATIONS");
    if (!text || !*text)
        return ITERATIONS;
    char *end = NULL;
    errno = 0;
    long v = strtol(text, &end, 10);
    if (errno || *end || v < MIN_ITERATIONS || v > ITERATIONS)
        return ITERATIONS;
    return v;
}
#define SALT_LEN 16
#define HASH_LEN 32

static int derive(unsigned char out[HASH_LEN], const char *password,
                  const unsigned char *salt, size_t salt_len, long iterations)
{
    return PKCS5_PBKDF2_HMAC(password, (int)strlen(password), salt, (int)salt_len,
                             (int)iterations, EVP_sha256(), HASH_LEN, out) == 1 ? 0 : -1;
}

int sandbox_password_hash(char out[SANDBOX_PASSWORD_HASH_MAX], const char *password)
{
    unsigned char salt[SALT_LEN], hash[HASH_LEN];
    igtcloud__buf salt_b64 = IGTCLOUD_BUF_INIT, hash_b64 = IGTCLOUD_BUF_INIT;
    int rc = -1;
    long iterations = hash_iterations();
    if (igtcloud__random_bytes(salt, sizeof(salt)) ||
        derive(hash, password, salt, sizeof(salt), iterations) ||
        igtcloud__base64_encode(&salt_b64, salt, sizeof(salt)) ||
        igtcloud__base64_encode(&hash_b64, hash, sizeof(hash)))
        goto done;
    snprintf(out, SANDBOX_PASSWORD_HASH_MAX, "pbkdf2-sha256$%ld$%s$%s", iterations,
             salt_b64.ptr, hash_b64.ptr);
    rc = 0;
done:
    igtcloud__buf_dispose(&salt_b64);
    igtcloud__buf_dispose(&hash_b64);
    return rc;
}

/*
 * Base64 decoders ignore the unused low bits of the last character, so two
 * spellings decode to the same bytes; a stored hash must be the one we wrote.
 */
static int decode_canonical(igtcloud__buf *out, const char *text, size_t len)
{
    igtcloud__buf again = IGTCLOUD_BUF_INIT;
    int rc = igtcloud__base64_decode(out, text, len);
    if (!rc)
        rc = igtcloud__base64_encode(&again, out->ptr, out->size);
    if (!rc && (again.size != len || memcmp(again.ptr, text, len) != 0))
        rc = IGTCLOUD_EINVALID;
    igtcloud__buf_dispose(&again);
    return rc;
}

int sandbox_password_verify(const char *stored, const char *password)
{
    static const char scheme[] = "pbkdf2-sha256$";
    igtcloud__buf salt = IGTCLOUD_BUF_INIT, expected = IGTCLOUD_BUF_INIT;
    unsigned char hash[HASH_LEN];
    int ok = 0;
    if (!stored || !password || strncmp(stored, scheme, sizeof(scheme) - 1) != 0)
        return 0;
    const char *p = stored + sizeof(scheme) - 1;
    char *end = NULL;
    errno = 0;
    long iterations = strtol(p, &end, 10);
    if (errno || end == p || *end != '$' || iterations < 1 || iterations > 10000000)
        return 0;
    const char *salt_b64 = end + 1;
    const char *dollar = strchr(salt_b64, '$');
    if (!dollar)
        return 0;
    if (decode_canonical(&salt, salt_b64, (size_t)(dollar - salt_b64)) ||
        decode_canonical(&expected, dollar + 1, strlen(dollar + 1)) ||
        expected.size != HASH_LEN)
        goto done;
    if (derive(hash, password, (unsigned char *)salt.ptr, salt.size, iterations))
        goto done;
    ok = igtcloud__equal_secret(hash, expected.ptr, HASH_LEN);
done:
    igtcloud__buf_dispose(&salt);
    igtcloud__buf_dispose(&expected);
    return ok;
}
