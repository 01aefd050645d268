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

#endif
