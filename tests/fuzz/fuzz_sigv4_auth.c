/*
 * SigV4 from the network side: Authorization headers, presigned queries and
 * the canonicalisation of arbitrary requests. The input is read three ways:
 * whole, as an Authorization value and as a query; and as lines
 * "METHOD\nPATH\nQUERY\nName:value\n...", which are canonicalised, signed,
 * presigned and parsed. Whatever the signer accepts, the verifier must accept
 * too: a disagreement aborts, because client and sandbox share this code.
 */
#include <stddef.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "core/buf.h"
#include "s3/sigv4.h"

#define MAX_FUZZ_HEADERS 24
#define FUZZ_TIME ((time_t)1700000000)

static const igtcloud__sigv4_credentials creds = {
    "FUZZACCESSKEY", "fuzz/secret+key", "fuzz-token"
};

static void parse_and_verify(const igtcloud__sigv4_request *req)
{
    igtcloud__sigv4_auth auth = IGTCLOUD__SIGV4_AUTH_INIT;
    if (igtcloud__sigv4_parse_request(&auth, req) == 0) {
        igtcloud__sigv4_check_time(&auth, FUZZ_TIME, IGTCLOUD_SIGV4_MAX_SKEW);
        igtcloud__sigv4_verify(NULL, &auth, req, creds.secret_key, NULL);
    }
    igtcloud__sigv4_auth_dispose(&auth);
}

/* Sign, then verify what was signed as the sandbox would receive it. */
static void sign_round_trip(const igtcloud__sigv4_request *req, int query_is_plain)
{
    igtcloud__sigv4_signed s = IGTCLOUD__SIGV4_SIGNED_INIT;
    igtcloud__sigv4_header received[MAX_FUZZ_HEADERS + 4];
    if (igtcloud__sigv4_sign(&s, req, &creds, FUZZ_TIME, NULL) == 0 && query_is_plain) {
        size_t n = req->header_count;
        memcpy(received, req->headers, n * sizeof(*received));
        received[n++] = (igtcloud__sigv4_header){ "Authorization", s.authorization.ptr };
        received[n++] = (igtcloud__sigv4_header){ "X-Amz-Date", s.amz_date };
        received[n++] = (igtcloud__sigv4_header){ "X-Amz-Content-Sha256", s.content_sha256 };
        received[n++] = (igtcloud__sigv4_header){ "X-Amz-Security-Token", s.session_token };
        igtcloud__sigv4_request in = *req;
        in.headers = received;
        in.header_count = n;
        in.payload_hash = NULL;
        igtcloud__sigv4_auth auth = IGTCLOUD__SIGV4_AUTH_INIT;
        if (igtcloud__sigv4_parse_request(&auth, &in) != 0 ||
            igtcloud__sigv4_check_time(&auth, FUZZ_TIME, IGTCLOUD_SIGV4_MAX_SKEW) != 0 ||
            igtcloud__sigv4_verify(NULL, &auth, &in, creds.secret_key, NULL) != 0)
            abort();
        igtcloud__sigv4_auth_dispose(&auth);
    }
    igtcloud__sigv4_signed_dispose(&s);

    igtcloud__buf query = IGTCLOUD_BUF_INIT;
    igtcloud__sigv4_request unsigned_body = *req;
    unsigned_body.payload_hash = NULL;
    if (igtcloud__sigv4_presign(&query, &unsigned_body, &creds, FUZZ_TIME, 3600, NULL) == 0) {
        igtcloud__sigv4_request in = *req;
        in.query = query.ptr;
        in.payload_hash = NULL;
        igtcloud__sigv4_auth auth = IGTCLOUD__SIGV4_AUTH_INIT;
        if (igtcloud__sigv4_parse_request(&auth, &in) != 0 ||
            igtcloud__sigv4_check_time(&auth, FUZZ_TIME, IGTCLOUD_SIGV4_MAX_SKEW) != 0 ||
            igtcloud__sigv4_verify(NULL, &auth, &in, creds.secret_key, NULL) != 0)
            abort();
        igtcloud__sigv4_auth_dispose(&auth);
    }
    igtcloud__buf_dispose(&query);
}

/* Does the decoded query mention X-Amz-? Then it may read as a presigned URL. */
static int query_is_plain(const char *query)
{
    igtcloud__buf decoded = IGTCLOUD_BUF_INIT;
    int plain = igtcloud__sigv4_uri_decode(&decoded, query, strlen(query), 0) == 0;
    /* The decoded bytes may hold NULs, so no strstr. */
    for (size_t i = 0; plain && i + 6 <= decoded.size; i++)
        plain = memcmp(decoded.ptr + i, "X-Amz-", 6) != 0;
    igtcloud__buf_dispose(&decoded);
    return plain;
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    char *text = malloc(size + 1);
    if (!text)
        return 0;
    memcpy(text, data, size);
    text[size] = '\0';

    igtcloud__sigv4_auth auth = IGTCLOUD__SIGV4_AUTH_INIT;
    igtcloud__sigv4_parse_authorization(&auth, text);
    igtcloud__sigv4_parse_presigned(&auth, text);
    igtcloud__sigv4_auth_dispose(&auth);

    /* Lines: method, path, query, then headers split at the first ':'. */
    char *lines[3 + MAX_FUZZ_HEADERS];
    size_t nlines = 0;
    for (char *p = text; nlines < 3 + MAX_FUZZ_HEADERS;) {
        lines[nlines++] = p;
        char *nl = strchr(p, '\n');
        if (!nl)
            break;
        *nl = '\0';
        p = nl + 1;
    }
    if (nlines >= 3) {
        igtcloud__sigv4_header headers[MAX_FUZZ_HEADERS];
        size_t nheaders = 0;
        for (size_t i = 3; i < nlines; i++) {
            char *colon = strchr(lines[i], ':');
            if (!colon)
                continue;
            *colon = '\0';
            headers[nheaders++] = (igtcloud__sigv4_header){ lines[i], colon + 1 };
        }
        igtcloud__sigv4_request req = { lines[0], lines[1], lines[2], headers, nheaders,
                                        IGTCLOUD_SIGV4_EMPTY_SHA256 };
        igtcloud__buf creq = IGTCLOUD_BUF_INIT, list = IGTCLOUD_BUF_INIT;
        igtcloud__sigv4_options generic = IGTCLOUD__SIGV4_OPTIONS_INIT;
        generic.normalize_path = 1;
        generic.sign_all_headers = 1;
        igtcloud__sigv4_canonical_request(&creq, &list, &req, NULL, NULL);
        igtcloud__sigv4_canonical_request(&creq, &list, &req, NULL, &generic);
        igtcloud__sigv4_canonical_request(&creq, &list, &req, "host;x-amz-date", NULL);
        igtcloud__buf_dispose(&creq);
        igtcloud__buf_dispose(&list);

        sign_round_trip(&req, query_is_plain(lines[2]));

        req.payload_hash = NULL;
        parse_and_verify(&req);
    }
    free(text);
    return 0;
}
