#ifndef IGTCLOUD_TOOLS_CSV_H
#define IGTCLOUD_TOOLS_CSV_H

#include <jansson.h>
#include <stddef.h>

#include "core/buf.h"

/*
 * The reference client's CSV listing (PROTOCOL.md section 5): one row per
 * study (or per file), columns from the first study's flattened fields,
 * values written as Python would print them, RFC 4180 quoting, CRLF lines.
 */

typedef struct igtcloud__csv_columns {
    char **names;
    size_t count;
} igtcloud__csv_columns;

void igtcloud__csv_columns_dispose(igtcloud__csv_columns *columns);

/*
 * Flatten a study into a new object: nested objects under key k become
 * k + Title(kk) (kept as kk when kk already starts with k), recursively; the
 * order of the API is kept. *out is a new reference.
 */
int igtcloud__csv_flatten(json_t **out, const json_t *study);

/*
 * Columns for a listing: the flattened keys of `first_study` minus studyType,
 * s3Prefix and patientS3Prefix; with_files adds filename and filesize.
 */
int igtcloud__csv_columns_from_study(igtcloud__csv_columns *out, const json_t *first_study,
                                     int with_files);

/* Columns from the header line of an existing CSV file (appending). */
int igtcloud__csv_columns_parse(igtcloud__csv_columns *out, const char *header_line);

/* Append a value as the reference writes it (True/False, joined lists, dates...). */
int igtcloud__csv_format_value(igtcloud__buf *out, const json_t *value);

/* Append one field with RFC 4180 quoting when needed. */
int igtcloud__csv_put_field(igtcloud__buf *out, const char *text, size_t len);

/* Append the header line (CRLF-terminated). */
int igtcloud__csv_write_header(igtcloud__buf *out, const igtcloud__csv_columns *columns);

/*
 * Append one row for a flattened study; columns missing from it are empty,
 * fields not among the columns are dropped. file_name/file_size fill the
 * filename/filesize columns when not NULL / not negative.
 */
int igtcloud__csv_write_row(igtcloud__buf *out, const igtcloud__csv_columns *columns,
                            const json_t *flat_study, const char *file_name,
                            long long file_size);

#endif
