#ifndef IGTCLOUD_CORE_HASH_H
#define IGTCLOUD_CORE_HASH_H

#include <stddef.h>
#include <stdint.h>

#define IGTCLOUD_SHA256_LEN 32
#define IGTCLOUD_MD5_LEN 16

/* One-shot digests over a memory range (OpenSSL EVP underneath). */
int igtcloud__sha256(unsigned char out[IGTCLOUD_SHA256_LEN], const void *data, size_t len);
int igtcloud__md5(unsigned char out[IGTCLOUD_MD5_LEN], const void *data, size_t len);
int igtcloud__hmac_sha256(unsigned char out[IGTCLOUD_SHA256_LEN],
                          const void *key, size_t key_len,
                          const void *data, size_t len);

/*
 * CRC32C (Castagnoli), as x-amz-checksum-crc32c carries it: igtcloud__crc32c(0,
 * data, len) is the checksum of data; pass a previous result to continue over
 * the next bytes. The SSE 4.2 instruction where the CPU has it, else a table
 * (igtcloud__crc32c_portable, the same function; tests compare the two).
 */
uint32_t igtcloud__crc32c(uint32_t crc, const void *data, size_t len);
uint32_t igtcloud__crc32c_portable(uint32_t crc, const void *data, size_t len);

/*
 * Joining CRC32Cs computed apart (ranges that arrive out of order, the parts
 * of a multipart upload). A "raw" register is the CRC's state from zero
 * without its final inversion: raw registers of byte ranges combine by xor
 * once each is shifted over the bytes that follow it, in any order.
 *   shift:   the register after `zeros` more zero bytes (raw(A) -> raw(A 0^n)).
 *   raw:     the raw register of data; of_raw: the CRC32C of `len` bytes with that raw register.
 *   combine: the CRC32C of A then B from the CRC32Cs of A and of B (|B| bytes).
 */
uint32_t igtcloud__crc32c_shift(uint32_t reg, uint64_t zeros);
uint32_t igtcloud__crc32c_raw(const void *data, size_t len);
uint32_t igtcloud__crc32c_of_raw(uint32_t raw, uint64_t len);
uint32_t igtcloud__crc32c_combine(uint32_t crc_a, uint32_t crc_b, uint64_t len_b);

/*
 * A 64-bit hash of bytes for in-memory indexes (not for security): FNV-1a,
 * then murmur3's finaliser, as FNV alone leaves the low bits poorly mixed.
 */
uint64_t igtcloud__hash64(const void *data, size_t len);

/* Lower-case hex of `len` bytes into out, which holds 2 * len + 1 chars. */
void igtcloud__hex(char *out, const unsigned char *data, size_t len);

/* Compare two byte ranges in time independent of where they differ. */
int igtcloud__equal_secret(const void *a, const void *b, size_t len);

#endif
