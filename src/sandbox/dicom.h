#ifndef SANDBOX_DICOM_H
#define SANDBOX_DICOM_H

#include <stddef.h>

/*
 * A small DICOM Part-10 header reader, enough for the sandbox to file an
 * import into patients, studies and series (docs/sandbox-dicom.md). It reads
 * the 128-byte preamble and "DICM", the group 0002 meta information (always
 * explicit VR little endian) with the transfer syntax, then the data set in
 * explicit or implicit VR little endian as the transfer syntax says, and
 * stops before the pixel data (7FE0,0010). Sequences and items of defined
 * or undefined length are walked and skipped; only top-level elements are
 * extracted. Explicit VR big endian and deflated data sets are refused as
 * unsupported. Every length is checked against the bytes there are, so
 * hostile or truncated input gives one error line, never a read outside
 * the buffer.
 */

/* Longest value kept of a text element (PN and LO allow 64 characters of up to 4 bytes). */
#define SANDBOX_DICOM_TEXT_MAX 256
/* UIDs are at most 64 characters. */
#define SANDBOX_DICOM_UID_MAX 65

/* What the reader extracts; every field is "" when the element is absent. */
typedef struct sandbox_dicom_header {
    char transfer_syntax[SANDBOX_DICOM_UID_MAX];   /* (0002,0010) */
    int explicit_vr;                               /* 1: explicit VR LE data set */
    char patient_id[SANDBOX_DICOM_TEXT_MAX];       /* (0010,0020) */
    char patient_name[SANDBOX_DICOM_TEXT_MAX];     /* (0010,0010) */
    char study_uid[SANDBOX_DICOM_UID_MAX];         /* (0020,000D) */
    char study_date[SANDBOX_DICOM_TEXT_MAX];       /* (0008,0020) as stored (DA) */
    char study_time[SANDBOX_DICOM_TEXT_MAX];       /* (0008,0030) as stored (TM) */
    char study_id[SANDBOX_DICOM_TEXT_MAX];         /* (0020,0010) */
    char study_description[SANDBOX_DICOM_TEXT_MAX];/* (0008,1030) */
    char accession_number[SANDBOX_DICOM_TEXT_MAX]; /* (0008,0050) */
    char series_uid[SANDBOX_DICOM_UID_MAX];        /* (0020,000E) */
    char modality[SANDBOX_DICOM_TEXT_MAX];         /* (0008,0060) */
    char sop_uid[SANDBOX_DICOM_UID_MAX];           /* (0008,0018) */
    size_t data_end;      /* offset where reading stopped (pixel data or the end) */
    int has_pixel_data;   /* 1 when (7FE0,0010) was reached */
} sandbox_dicom_header;

/*
 * Read the header of a Part-10 file from its first `len` bytes. `file_size`
 * is the size of the whole file (>= len): a defined-length pixel data
 * element must fit in it, so a file cut inside its pixel data is reported
 * as truncated too. Text values are trimmed of DICOM padding (spaces, NUL);
 * a value that is not valid UTF-8 or holds control characters has those
 * bytes replaced by '?'. UIDs with characters other than digits and dots,
 * or longer than 64, are refused.
 *
 * Returns 0, or -1 with one line in err ("truncated: ...", "not a DICOM
 * Part-10 file: ...", "unsupported transfer syntax ...", ...).
 */
int sandbox_dicom_read(sandbox_dicom_header *out, const unsigned char *buf, size_t len,
                       unsigned long long file_size, char *err, size_t err_size);

/* 1 when buf (len bytes) starts with a 128-byte preamble and "DICM". */
int sandbox_dicom_is_part10(const unsigned char *buf, size_t len);

/*
 * The DICOM date (DA "YYYYMMDD", or the old "YYYY.MM.DD") and optional time
 * (TM "HHMMSS.frac", any prefix of it) as an ISO date-time
 * "YYYY-MM-DDTHH:MM:SS" into out. Returns 0, or -1 when the date is not
 * a valid date (the time is then ignored too; a bad time alone gives
 * midnight).
 */
int sandbox_dicom_iso_datetime(char *out, size_t out_size, const char *da, const char *tm);

#endif
