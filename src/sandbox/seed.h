#ifndef SANDBOX_SEED_H
#define SANDBOX_SEED_H

#include "sandbox.h"

/*
 * Fill an empty sandbox: `spec` is "demo" for the documented demo world or
 * the path of a seed file (format in docs/sandbox-seed.md). A data folder
 * that was seeded before is left as it is. Returns 0, or -1 after printing
 * one line to stderr.
 */
int sandbox_seed(sandbox *sb, const char *spec);

/*
 * Parse and validate a seed document without touching a store or the disk
 * (the fuzz target drives this). Date fields of studies are normalised in
 * place. Returns 0 and the document in *out, or -1 with a one-line message
 * naming the problem and where it is.
 */
int sandbox_seed_parse(json_t **out, const char *text, size_t len, char *msg, size_t msg_size);

/*
 * Create what a validated document describes: rows in the store (inside the
 * caller's transaction, lock held) and object files under sb->data_dir.
 * Returns 0 or -1 with a message.
 */
int sandbox_seed_apply(sandbox *sb, json_t *doc, char *msg, size_t msg_size);

/* The demo world as a seed document (seed_demo.c). */
extern const char sandbox_seed_demo_json[];

#endif
