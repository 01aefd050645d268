#ifndef SANDBOX_S3_MD5_H
#define SANDBOX_S3_MD5_H

/*
 * The MD5 (the ETag) of a stored body, hashed side by side with the bodies
 * other connections finish at the same time (core/md5.h): a connection
 * thread that asks waits while one thread at a time hashes what is queued,
 * up to eight files at once in SIMD lanes. On 2,000 small uploads MD5 was
 * 40% of the sandbox's CPU when each connection hashed its own stream.
 */

/* MD5 of [offset, offset + len) of fd (open for reading). Returns 0 or -1 (errno set). */
int sandbox_s3_md5_file(unsigned char out[16], int fd, unsigned long long offset,
                        unsigned long long len);

#endif
