#ifndef IGTCLOUD_CORE_SAFEPATH_H
#define IGTCLOUD_CORE_SAFEPATH_H

#include "core/buf.h"

/*
 * Names from the network (file names, study ids, institute names) become
 * paths on disk. A name is accepted only when it stays inside the target
 * folder: relative, '/'-separated, no empty, "." or ".." segment, no
 * backslash, NUL or control character. Returns 0 or IGTCLOUD_EINVALID with
 * a message naming the offending part.
 */
int igtcloud__safepath_check(const char *relative);

/*
 * Append "base/relative" to out after igtcloud__safepath_check(relative).
 * base is trusted (it comes from the user); a trailing '/' on it is fine.
 */
int igtcloud__safepath_join(igtcloud__buf *out, const char *base, const char *relative);

/*
 * Create every missing folder of `path` up to (not including) its last
 * segment, mode 0755; refuses to pass through symlinks below `base`.
 */
int igtcloud__safepath_mkdirs(const char *base, const char *path);

#endif
