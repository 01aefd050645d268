#ifndef IGTCLOUD_CORE_SAFEPATH_H
#define IGTCLOUD_CORE_SAFEPATH_H

#include <stddef.h>

#include "core/buf.h"

/* The longest name of one path segment we write (NAME_MAX of Linux file systems). */
#define IGTCLOUD_SAFEPATH_SEGMENT_MAX 255

/*
 * Names from the network (file names, study ids, institute names) become
 * paths on disk. A name is accepted only when it stays inside the target
 * folder: relative, '/'-separated, no empty, "." or ".." segment, no
 * segment longer than IGTCLOUD_SAFEPATH_SEGMENT_MAX bytes, no backslash,
 * NUL or control character (C0, DEL, or C1 as UTF-8). Returns NULL when the
 * name is acceptable, else a static phrase saying why not ("has a
 * backslash", ...), to follow the name in a message.
 */
const char *igtcloud__safepath_problem(const char *relative);

/*
 * igtcloud__safepath_problem as a status: 0, or IGTCLOUD_EINVALID with a
 * one-line message naming the (shown) name and the problem.
 */
int igtcloud__safepath_check(const char *relative);

/*
 * Copy `name` into out (always terminated) so that it can be printed on one
 * line: control characters (C0, DEL, C1 as UTF-8) become '?', and a name
 * that does not fit is cut on a UTF-8 character boundary and ends in "...".
 */
void igtcloud__safepath_show(char *out, size_t size, const char *name);

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
