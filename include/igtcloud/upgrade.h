#ifndef IGTCLOUD_UPGRADE_H
#define IGTCLOUD_UPGRADE_H

/**
 * @file igtcloud/upgrade.h
 * @brief Replace the running igtcloud program with a released version.
 *
 * Releases are described by a JSON feed (docs/upgrade.md) that names each
 * version with, per platform, the download URL of the program and its SHA-256.
 * igtcloud_upgrade() picks the latest release (or a named one), downloads it
 * beside the program, checks the SHA-256, keeps the old program as
 * "<program>.bak" and moves the new one into place with one rename(), so the
 * program is always either the old or the new one.
 */

#include <stddef.h>

#include "igtcloud/common.h"

#ifdef __cplusplus
extern "C" {
#endif

/** Longest version string, path or URL igtcloud_upgrade_result holds (with NUL). */
#define IGTCLOUD_UPGRADE_VERSION_MAX 64
#define IGTCLOUD_UPGRADE_PATH_MAX 4096

/** What igtcloud_upgrade() should do. Initialise with IGTCLOUD_UPGRADE_OPTIONS_INIT. */
typedef struct igtcloud_upgrade_options {
    unsigned int version;        /**< IGTCLOUD_UPGRADE_OPTIONS_VERSION */
    /** Feed URL; NULL: $IGTCLOUD_UPGRADE_FEED, else the one set at build time. */
    const char *feed_url;
    /** Version to install (downgrades allowed); NULL: the latest stable release. */
    const char *target_version;
    /** Program to replace; NULL: the running program (/proc/self/exe). */
    const char *program_path;
    /** Version of that program; NULL: igtcloud_version(). */
    const char *current_version;
    /** Platform name in the feed; NULL: igtcloud_version_info()->platform. */
    const char *platform;
    /** PEM bundle to trust instead of the system's, or NULL. */
    const char *ca_file;
    /** Non-zero: look up the release but download and replace nothing. */
    int check_only;
} igtcloud_upgrade_options;

#define IGTCLOUD_UPGRADE_OPTIONS_VERSION 1
#define IGTCLOUD_UPGRADE_OPTIONS_INIT { IGTCLOUD_UPGRADE_OPTIONS_VERSION, NULL, NULL, NULL, NULL, NULL, NULL, 0 }

/** What igtcloud_upgrade() found or did. */
typedef enum {
    IGTCLOUD_UPGRADE_UP_TO_DATE = 0, /**< Already at that version; nothing changed. */
    IGTCLOUD_UPGRADE_AVAILABLE = 1,  /**< check_only: a different version is available. */
    IGTCLOUD_UPGRADE_REPLACED = 2    /**< The program was replaced. */
} igtcloud_upgrade_outcome;

/** Filled by igtcloud_upgrade(); plain strings, nothing to free. */
typedef struct igtcloud_upgrade_result {
    igtcloud_upgrade_outcome outcome;
    char from_version[IGTCLOUD_UPGRADE_VERSION_MAX]; /**< the program's version before */
    char to_version[IGTCLOUD_UPGRADE_VERSION_MAX];   /**< the release chosen from the feed */
    char program_path[IGTCLOUD_UPGRADE_PATH_MAX];    /**< the program replaced (or to replace) */
    char backup_path[IGTCLOUD_UPGRADE_PATH_MAX];     /**< the old program, when replaced */
    char url[IGTCLOUD_UPGRADE_PATH_MAX];             /**< where the release was downloaded from */
    unsigned long long size;                         /**< bytes downloaded, when replaced */
} igtcloud_upgrade_result;

/**
 * Move the program to the latest or the named release of the feed.
 *
 * Nothing is replaced unless the download has the feed's SHA-256. The new
 * program gets the old one's permission bits; the old one is kept as
 * "<program>.bak" (an older backup is overwritten).
 *
 * @param[out] out   what was found or done; filled on success.
 * @param opts       options, or NULL for the defaults.
 * @return 0 (see out->outcome), or:
 *         IGTCLOUD_EINVALID no feed URL is configured, or a bad option;
 *         IGTCLOUD_EPROTO the feed is not valid (malformed JSON, a missing or
 *         wrong field) or the download does not have the feed's SHA-256;
 *         IGTCLOUD_ENOTFOUND the feed has no such version, or no build for
 *         this platform;
 *         IGTCLOUD_EIO no permission to write the program's folder or to
 *         replace the program (the message says which), or another local
 *         file error;
 *         IGTCLOUD_ENET, IGTCLOUD_ETIMEOUT, IGTCLOUD_ETLS fetching failed.
 */
IGTCLOUD_EXTERN int igtcloud_upgrade(igtcloud_upgrade_result *out,
                                     const igtcloud_upgrade_options *opts);

/**
 * The feed URL igtcloud_upgrade() uses when none is given:
 * $IGTCLOUD_UPGRADE_FEED, else the one set at build time (CMake cache variable
 * IGTCLOUD_UPGRADE_FEED_URL).
 *
 * @return a borrowed string, "" when neither is set; never NULL.
 */
IGTCLOUD_EXTERN const char *igtcloud_upgrade_default_feed(void);

/**
 * Compare two semantic versions (MAJOR.MINOR.PATCH[-PRERELEASE][+BUILD]) by
 * semver 2.0 precedence; build metadata is ignored.
 *
 * @param[out] out  negative, zero or positive as a sorts before, with or after b.
 * @return 0, or IGTCLOUD_EINVALID when either is not a semantic version.
 */
IGTCLOUD_EXTERN int igtcloud_semver_compare(int *out, const char *a, const char *b);

#ifdef __cplusplus
}
#endif

#endif
