#ifndef SANDBOX_FAULTS_H
#define SANDBOX_FAULTS_H

#include <stddef.h>
#include <stdint.h>
#include <jansson.h>

/*
 * Fault injection for the S3 endpoint (docs/sandbox-faults.md): rules that
 * match requests by operation, method and key glob, fire on the Nth match,
 * every Kth match or with a seeded probability, and make the response fail
 * in one of the ways real networks and real S3 do.
 */

typedef enum sandbox_fault_kind {
    SANDBOX_FAULT_NONE = 0,
    SANDBOX_FAULT_ERROR,    /* an S3 error response: status + code */
    SANDBOX_FAULT_CLOSE,    /* close the connection instead of responding */
    SANDBOX_FAULT_RESET,    /* TCP reset after `after_bytes` of the body */
    SANDBOX_FAULT_DELAY,    /* sleep `delay_ms` before headers or mid-body */
    SANDBOX_FAULT_SHORT,    /* promise Content-Length, send `after_bytes`, close */
} sandbox_fault_kind;

typedef struct sandbox_fault_effect {
    sandbox_fault_kind kind;
    int status;
    char code[64];
    char message[160];
    unsigned long long after_bytes;
    unsigned int delay_ms;
    int in_body;            /* DELAY: 1 mid-body (after after_bytes), 0 before headers */
} sandbox_fault_effect;

typedef struct sandbox_faults sandbox_faults;

int sandbox_faults_new(sandbox_faults **out);
void sandbox_faults_free(sandbox_faults *faults);

/*
 * Add rules from JSON text: one rule object, an array of rules, or
 * {"seed": N, "rules": [...]}. All or nothing: on error nothing is added and
 * err says why. Returns the number of rules added, or -1.
 */
int sandbox_faults_add_json(sandbox_faults *faults, const char *text, size_t len,
                            char *err, size_t err_size);

/* Read a rules file (same format). Returns 0 or -1 with err set. */
int sandbox_faults_load_file(sandbox_faults *faults, const char *path, char *err,
                             size_t err_size);

/* Remove every rule. */
void sandbox_faults_clear(sandbox_faults *faults);

/* {"rules": [...]} with each rule's counters "matched" and "fired" (new reference). */
json_t *sandbox_faults_list(sandbox_faults *faults);

/*
 * Count a request against the rules in order; when one fires, copy its
 * effect to *out, a label ("rule 2: error 503 SlowDown") to label, and
 * return 1. Every matching rule counts the request, firing or not, so the
 * Nth / every-K / probability sequences do not depend on other rules.
 */
int sandbox_faults_match(sandbox_faults *faults, const char *operation, const char *method,
                         const char *key, sandbox_fault_effect *out, char *label,
                         size_t label_size);

#endif
