/* A bounds-checked DICOM Part-10 header reader (see dicom.h). */
#include "dicom.h"

#include <stdarg.h>
#include <stdio.h>
#include <string.h>

#define PREAMBLE 128
#define MAX_DEPTH 32
#define UNDEFINED_LENGTH 0xFFFFFFFFul

#define TAG(g, e) (((unsigned long)(g) << 16) | (unsigned long)(e))
#define TAG_ITEM TAG(0xFFFE, 0xE000)
#define TAG_ITEM_END TAG(0xFFFE, 0xE00D)
#define TAG_SEQ_END TAG(0xFFFE, 0xE0DD)
#define TAG_PIXEL_DATA TAG(0x7FE0, 0x0010)
#define TAG_TRANSFER_SYNTAX TAG(0x0002, 0x0010)

#define TS_IMPLICIT_LE "1.2.840.10008.1.2"
#define TS_EXPLICIT_BE "1.2.840.10008.1.2.2"
#define TS_DEFLATED_LE "1.2.840.10008.1.2.1.99"

typedef struct reader {
    const unsigned char *buf;
    size_t len;
    size_t pos;
    unsigned long long file_size;
    char *err;
    size_t err_size;
    sandbox_dicom_header *out;
} reader;

typedef struct element {
    unsigned long tag;
    char vr[3];           /* "" for implicit VR and item tags */
    unsigned long length; /* UNDEFINED_LENGTH or the value's length */
    size_t offset;        /* where the element's header starts */
} element;

/* Where a top-level element goes, and whether it is a UID. */
typedef struct wanted {
    unsigned long tag;
    const char *name;
    size_t field;         /* offsetof into sandbox_dicom_header */
    size_t size;
    int uid;
} wanted;

#define FIELD(f) offsetof(sandbox_dicom_header, f), sizeof(((sandbox_dicom_header *)0)->f)

static const wanted wanted_tags[] = {
    { TAG(0x0008, 0x0018), "SOPInstanceUID", FIELD(sop_uid), 1 },
    { TAG(0x0008, 0x0020), "StudyDate", FIELD(study_date), 0 },
    { TAG(0x0008, 0x0030), "StudyTime", FIELD(study_time), 0 },
    { TAG(0x0008, 0x0050), "AccessionNumber", FIELD(accession_number), 0 },
    { TAG(0x0008, 0x0060), "Modality", FIELD(modality), 0 },
    { TAG(0x0008, 0x1030), "StudyDescription", FIELD(study_description), 0 },
    { TAG(0x0010, 0x0010), "PatientName", FIELD(patient_name), 0 },
    { TAG(0x0010, 0x0020), "PatientID", FIELD(patient_id), 0 },
    { TAG(0x0020, 0x000D), "StudyInstanceUID", FIELD(study_uid), 1 },
    { TAG(0x0020, 0x000E), "SeriesInstanceUID", FIELD(series_uid), 1 },
    { TAG(0x0020, 0x0010), "StudyID", FIELD(study_id), 0 },
};

static int fail(reader *r, const char *fmt, ...) __attribute__((format(printf, 2, 3)));

static int fail(reader *r, const char *fmt, ...)
{
    va_list ap;
    va_start(ap, fmt);
    if (r->err && r->err_size)
        vsnprintf(r->err, r->err_size, fmt, ap);
    va_end(ap);
    return -1;
}

static unsigned int u16(const unsigned char *p)
{
    return (unsigned int)p[0] | (unsigned int)p[1] << 8;
}

static unsigned long u32(const unsigned char *p)
{
    return (unsigned long)p[0] | (unsigned long)p[1] << 8 | (unsigned long)p[2] << 16 |
           (unsigned long)p[3] << 24;
}

/* VRs whose explicit header has two reserved bytes and a 32-bit length. */
static int long_vr(const char *vr)
{
    static const char *const longs[] = {
        "OB", "OD", "OF", "OL", "OV", "OW", "SQ", "SV", "UC", "UN", "UR", "UT", "UV", NULL,
    };
    for (int i = 0; longs[i]; i++)
        if (strcmp(vr, longs[i]) == 0)
            return 1;
    return 0;
}

/*
 * A value or header that does not fit. When only part of the file was
 * read and the file itself is long enough, the header is larger than the
 * caller's buffer; otherwise the file is cut short.
 */
static int too_short(reader *r, const element *e, const char *what, unsigned long long need)
{
    size_t left = r->len - r->pos;
    if (r->len < r->file_size && (unsigned long long)r->pos + need <= r->file_size)
        return fail(r, "the header is longer than the %zu bytes read", r->len);
    if (e)
        return fail(r, "truncated: element (%04lX,%04lX) at offset %zu declares %llu bytes of "
                       "%s, only %zu left", e->tag >> 16, e->tag & 0xFFFF, e->offset, need, what,
                    left);
    return fail(r, "truncated: %s at offset %zu needs %llu bytes, only %zu left", what, r->pos,
                need, left);
}

/* Read the element header at r->pos; item and delimiter tags never carry a VR. */
static int read_header(reader *r, int explicit_vr, element *e)
{
    size_t left = r->len - r->pos;
    const unsigned char *p = r->buf + r->pos;
    e->offset = r->pos;
    e->vr[0] = '\0';
    if (left < 8)
        return too_short(r, NULL, "an element header", 8);
    e->tag = TAG(u16(p), u16(p + 2));
    if (!explicit_vr || (e->tag >> 16) == 0xFFFE) {
        e->length = u32(p + 4);
        r->pos += 8;
        return 0;
    }
    if (p[4] < 'A' || p[4] > 'Z' || p[5] < 'A' || p[5] > 'Z')
        return fail(r, "element (%04lX,%04lX) at offset %zu has no valid VR (bytes 0x%02X 0x%02X)",
                    e->tag >> 16, e->tag & 0xFFFF, e->offset, p[4], p[5]);
    e->vr[0] = (char)p[4];
    e->vr[1] = (char)p[5];
    e->vr[2] = '\0';
    if (!long_vr(e->vr)) {
        e->length = u16(p + 6);
        r->pos += 8;
        return 0;
    }
    if (left < 12)
        return too_short(r, NULL, "an element header", 12);
    e->length = u32(p + 8);
    r->pos += 12;
    return 0;
}

/* An undefined-length item or sequence that runs off the end of what was read. */
static int no_end(reader *r, const char *what, const element *e, const char *end_tag)
{
    if (r->len < r->file_size)
        return fail(r, "the header is longer than the %zu bytes read", r->len);
    return fail(r, "truncated: the %s at offset %zu has no end (%s)", what, e->offset, end_tag);
}

/* Skip a defined-length value, checking it is all there. */
static int skip_value(reader *r, const element *e)
{
    if (e->length > r->len - r->pos)
        return too_short(r, e, "value", e->length);
    r->pos += e->length;
    return 0;
}

static int is_continuation(unsigned char c)
{
    return (c & 0xC0) == 0x80;
}

/* Bytes of the valid UTF-8 sequence at s (n bytes left), or 0. */
static size_t utf8_sequence(const unsigned char *s, size_t n)
{
    unsigned char c = s[0];
    if (c >= 0xC2 && c <= 0xDF)
        return n >= 2 && is_continuation(s[1]) ? 2 : 0;
    if (c >= 0xE0 && c <= 0xEF) {
        if (n < 3 || !is_continuation(s[1]) || !is_continuation(s[2]))
            return 0;
        if ((c == 0xE0 && s[1] < 0xA0) || (c == 0xED && s[1] >= 0xA0))
            return 0;   /* overlong, or a UTF-16 surrogate */
        return 3;
    }
    if (c >= 0xF0 && c <= 0xF4) {
        if (n < 4 || !is_continuation(s[1]) || !is_continuation(s[2]) ||
            !is_continuation(s[3]))
            return 0;
        if ((c == 0xF0 && s[1] < 0x90) || (c == 0xF4 && s[1] >= 0x90))
            return 0;
        return 4;
    }
    return 0;
}

/* Trim DICOM padding: trailing spaces and NULs, leading spaces. */
static size_t trim(const unsigned char **v, size_t n)
{
    while (n && ((*v)[n - 1] == ' ' || (*v)[n - 1] == '\0'))
        n--;
    while (n && (*v)[0] == ' ') {
        (*v)++;
        n--;
    }
    return n;
}

/* Copy a text value, trimmed of padding, with unsafe bytes as '?'. */
static void copy_text(char *out, size_t size, const unsigned char *v, size_t n)
{
    n = trim(&v, n);
    size_t used = 0, i = 0;
    while (i < n && used + 1 < size) {
        unsigned char c = v[i];
        if (c < 0x80) {
            out[used++] = c < 0x20 || c == 0x7F ? '?' : (char)c;
            i++;
            continue;
        }
        size_t seq = utf8_sequence(v + i, n - i);
        if (seq == 0 || used + seq >= size) {
            out[used++] = '?';
            i++;
            continue;
        }
        memcpy(out + used, v + i, seq);
        used += seq;
        i += seq;
    }
    out[used] = '\0';
}

static int valid_uid(const char *uid)
{
    size_t n = strlen(uid);
    if (n == 0 || n > 64 || uid[0] == '.' || uid[n - 1] == '.')
        return 0;
    for (size_t i = 0; i < n; i++) {
        if (uid[i] == '.' ? uid[i + 1] == '.' : (uid[i] < '0' || uid[i] > '9'))
            return 0;
    }
    return 1;
}

/* Keep a top-level element the header wants (the value is known to fit). */
static int keep(reader *r, const element *e)
{
    for (size_t i = 0; i < sizeof(wanted_tags) / sizeof(wanted_tags[0]); i++) {
        const wanted *w = &wanted_tags[i];
        if (w->tag != e->tag)
            continue;
        char *field = (char *)r->out + w->field;
        const unsigned char *v = r->buf + r->pos;
        if (w->uid && trim(&v, e->length) >= w->size)
            return fail(r, "(%04lX,%04lX) %s at offset %zu is not a valid UID (longer than 64)",
                        e->tag >> 16, e->tag & 0xFFFF, w->name, e->offset);
        copy_text(field, w->size, r->buf + r->pos, e->length);
        /* An empty value is an absent one (type 2 elements may be empty). */
        if (w->uid && field[0] && !valid_uid(field))
            return fail(r, "(%04lX,%04lX) %s at offset %zu is not a valid UID ('%.64s')",
                        e->tag >> 16, e->tag & 0xFFFF, w->name, e->offset, field);
        return 0;
    }
    return 0;
}

static int walk_items(reader *r, int explicit_vr, int depth, const element *seq);

/* The data set of an undefined-length item, up to its Item Delimitation Item. */
static int walk_item(reader *r, int explicit_vr, int depth, const element *item)
{
    for (;;) {
        element e = { 0 };
        if (r->pos >= r->len)
            return no_end(r, "item", item, "FFFE,E00D");
        if (read_header(r, explicit_vr, &e))
            return -1;
        if (e.tag == TAG_ITEM_END)
            return 0;
        if (e.tag == TAG_SEQ_END || e.tag == TAG_ITEM)
            return fail(r, "misplaced (%04lX,%04lX) at offset %zu inside the item at offset %zu",
                        e.tag >> 16, e.tag & 0xFFFF, e.offset, item->offset);
        if (e.length == UNDEFINED_LENGTH) {
            if (walk_items(r, explicit_vr && strcmp(e.vr, "UN") != 0, depth + 1, &e))
                return -1;
        } else if (skip_value(r, &e)) {
            return -1;
        }
    }
}

/*
 * The items of an undefined-length element, up to its Sequence Delimitation
 * Item. An undefined-length UN holds implicit VR data (DICOM PS3.5 6.2.2);
 * items of encapsulated data (OB) are fragments with defined lengths.
 */
static int walk_items(reader *r, int explicit_vr, int depth, const element *seq)
{
    if (depth > MAX_DEPTH)
        return fail(r, "sequences nested deeper than %d at offset %zu", MAX_DEPTH, seq->offset);
    for (;;) {
        element e = { 0 };
        if (r->pos >= r->len)
            return no_end(r, "sequence", seq, "FFFE,E0DD");
        if (read_header(r, 0, &e))
            return -1;
        if (e.tag == TAG_SEQ_END)
            return 0;
        if (e.tag != TAG_ITEM)
            return fail(r, "expected an item (FFFE,E000) at offset %zu in the sequence at "
                           "offset %zu, found (%04lX,%04lX)", e.offset, seq->offset,
                        e.tag >> 16, e.tag & 0xFFFF);
        if (e.length == UNDEFINED_LENGTH) {
            if (walk_item(r, explicit_vr, depth, &e))
                return -1;
        } else if (skip_value(r, &e)) {
            return -1;
        }
    }
}

/* The top-level data set, up to the pixel data or the end of the file. */
static int walk_dataset(reader *r, int explicit_vr)
{
    while (r->pos < r->len) {
        element e = { 0 };
        if (read_header(r, explicit_vr, &e))
            return -1;
        if (e.tag == TAG_PIXEL_DATA) {
            /* The bytes are not read, but they must be in the file. */
            if (e.length != UNDEFINED_LENGTH &&
                (unsigned long long)r->pos + e.length > r->file_size)
                return fail(r, "truncated: pixel data at offset %zu declares %lu bytes, the file "
                               "has %llu after it", e.offset, e.length, r->file_size - r->pos);
            r->out->data_end = e.offset;
            r->out->has_pixel_data = 1;
            return 0;
        }
        if ((e.tag >> 16) == 0xFFFE)
            return fail(r, "misplaced (%04lX,%04lX) at offset %zu outside any sequence",
                        e.tag >> 16, e.tag & 0xFFFF, e.offset);
        if (e.length == UNDEFINED_LENGTH) {
            if (walk_items(r, explicit_vr && strcmp(e.vr, "UN") != 0, 1, &e))
                return -1;
            continue;
        }
        if (e.length > r->len - r->pos)
            return too_short(r, &e, "value", e.length);
        if (keep(r, &e))
            return -1;
        r->pos += e.length;
    }
    if (r->len < r->file_size)
        return fail(r, "the header is longer than the %zu bytes read", r->len);
    r->out->data_end = r->pos;
    return 0;
}

int sandbox_dicom_is_part10(const unsigned char *buf, size_t len)
{
    return buf && len >= PREAMBLE + 4 && memcmp(buf + PREAMBLE, "DICM", 4) == 0;
}

/* The group 0002 meta information: explicit VR little endian, up to the first other group. */
static int read_meta(reader *r)
{
    int seen = 0;
    while (r->len - r->pos >= 2 && u16(r->buf + r->pos) == 0x0002) {
        element e = { 0 };
        if (read_header(r, 1, &e))
            return -1;
        if (e.length == UNDEFINED_LENGTH)
            return fail(r, "file meta element (0002,%04lX) at offset %zu has an undefined length",
                        e.tag & 0xFFFF, e.offset);
        if (e.length > r->len - r->pos)
            return too_short(r, &e, "value", e.length);
        if (e.tag == TAG_TRANSFER_SYNTAX) {
            const unsigned char *v = r->buf + r->pos;
            size_t n = trim(&v, e.length);
            copy_text(r->out->transfer_syntax, sizeof(r->out->transfer_syntax), v, n);
            if (n >= SANDBOX_DICOM_UID_MAX || !valid_uid(r->out->transfer_syntax))
                return fail(r, "the transfer syntax (0002,0010) is not a valid UID");
        }
        r->pos += e.length;
        seen = 1;
    }
    if (!seen)
        return fail(r, "no file meta information (group 0002) after 'DICM'");
    if (!r->out->transfer_syntax[0])
        return fail(r, "no transfer syntax (0002,0010) in the file meta information");
    return 0;
}

int sandbox_dicom_read(sandbox_dicom_header *out, const unsigned char *buf, size_t len,
                       unsigned long long file_size, char *err, size_t err_size)
{
    reader r;
    memset(out, 0, sizeof(*out));
    memset(&r, 0, sizeof(r));
    r.buf = buf;
    r.len = buf ? len : 0;
    r.file_size = file_size < r.len ? r.len : file_size;
    r.err = err;
    r.err_size = err_size;
    r.out = out;
    if (err && err_size)
        err[0] = '\0';
    if (r.len < PREAMBLE + 4)
        return r.file_size > r.len && r.file_size >= PREAMBLE + 4
                   ? fail(&r, "the header is longer than the %zu bytes read", r.len)
                   : fail(&r, "not a DICOM Part-10 file: %zu bytes, shorter than the 128-byte "
                              "preamble and 'DICM'", r.len);
    if (!sandbox_dicom_is_part10(buf, len))
        return fail(&r, "not a DICOM Part-10 file: no 'DICM' after the 128-byte preamble");
    r.pos = PREAMBLE + 4;
    if (read_meta(&r))
        return -1;
    const char *ts = out->transfer_syntax;
    if (strcmp(ts, TS_EXPLICIT_BE) == 0)
        return fail(&r, "unsupported transfer syntax %s (explicit VR big endian)", ts);
    if (strcmp(ts, TS_DEFLATED_LE) == 0)
        return fail(&r, "unsupported transfer syntax %s (deflated explicit VR little endian)", ts);
    /* Every other transfer syntax, compressed pixel data included, is explicit VR LE. */
    out->explicit_vr = strcmp(ts, TS_IMPLICIT_LE) != 0;
    return walk_dataset(&r, out->explicit_vr);
}

static int digits(const char *s, size_t n, int *value)
{
    int v = 0;
    for (size_t i = 0; i < n; i++) {
        if (s[i] < '0' || s[i] > '9')
            return -1;
        v = v * 10 + (s[i] - '0');
    }
    *value = v;
    return 0;
}

static int days_in_month(int year, int month)
{
    static const int days[] = { 31, 28, 31, 30, 31, 30, 31, 31, 30, 31, 30, 31 };
    int leap = (year % 4 == 0 && year % 100 != 0) || year % 400 == 0;
    return month == 2 && leap ? 29 : days[month - 1];
}

int sandbox_dicom_iso_datetime(char *out, size_t out_size, const char *da, const char *tm)
{
    int y, mo, d, h = 0, mi = 0, s = 0;
    size_t n = da ? strlen(da) : 0;
    if (n == 8) {
        if (digits(da, 4, &y) || digits(da + 4, 2, &mo) || digits(da + 6, 2, &d))
            return -1;
    } else if (n == 10 && da[4] == '.' && da[7] == '.') {
        if (digits(da, 4, &y) || digits(da + 5, 2, &mo) || digits(da + 8, 2, &d))
            return -1;
    } else {
        return -1;
    }
    if (y < 1 || mo < 1 || mo > 12 || d < 1 || d > days_in_month(y, mo))
        return -1;
    if (tm && *tm) {
        /* HH, HHMM, HHMMSS[.frac], or the old HH:MM:SS[.frac]. */
        char compact[16];
        size_t used = 0;
        for (const char *p = tm; *p && *p != '.' && used < sizeof(compact) - 1; p++)
            if (*p != ':')
                compact[used++] = *p;
        compact[used] = '\0';
        int th = 0, tmi = 0, ts = 0;
        int ok = (used == 2 || used == 4 || used == 6) && digits(compact, 2, &th) == 0 &&
                 (used < 4 || digits(compact + 2, 2, &tmi) == 0) &&
                 (used < 6 || digits(compact + 4, 2, &ts) == 0) && th < 24 && tmi < 60 &&
                 ts < 60;
        if (ok) {
            h = th;
            mi = tmi;
            s = ts;
        }
    }
    snprintf(out, out_size, "%04d-%02d-%02dT%02d:%02d:%02d", y, mo, d, h, mi, s);
    return 0;
}
