/*
 * Every S3 XML parser on the same bytes, and the escaper: whatever
 * igtcloud__xml_escape accepts must come back unchanged through expat, since
 * the sandbox writes keys with it and the client reads them back.
 */
#include <stddef.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "core/buf.h"
#include "s3/xml.h"

static void parse_all(const char *data, size_t size)
{
    igtcloud__xml_error err = IGTCLOUD__XML_ERROR_INIT;
    igtcloud__xml_parse_error(&err, data, size);
    igtcloud__xml_error_dispose(&err);

    igtcloud__xml_initiate init = IGTCLOUD__XML_INITIATE_INIT;
    igtcloud__xml_parse_initiate(&init, data, size);
    igtcloud__xml_initiate_dispose(&init);

    igtcloud__xml_complete done = IGTCLOUD__XML_COMPLETE_INIT;
    igtcloud__xml_parse_complete(&done, data, size);
    igtcloud__xml_complete_dispose(&done);

    igtcloud__xml_parts parts = IGTCLOUD__XML_PARTS_INIT;
    if (igtcloud__xml_parse_list_parts(&parts, data, size) == 0) {
        /* What was read can be written back when it is in order. */
        igtcloud__buf out = IGTCLOUD_BUF_INIT;
        igtcloud__xml_write_complete(&out, parts.parts, parts.count);
        igtcloud__buf_dispose(&out);
    }
    igtcloud__xml_parts_dispose(&parts);

    igtcloud__xml_listing listing = IGTCLOUD__XML_LISTING_INIT;
    igtcloud__xml_parse_list_objects(&listing, data, size);
    igtcloud__xml_listing_dispose(&listing);
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    parse_all((const char *)data, size);

    igtcloud__buf doc = IGTCLOUD_BUF_INIT;
    if (igtcloud__buf_puts(&doc, "<Error><Code>") == 0 &&
        igtcloud__xml_escape(&doc, (const char *)data, size) == 0 &&
        igtcloud__buf_puts(&doc, "</Code></Error>") == 0) {
        igtcloud__xml_error err = IGTCLOUD__XML_ERROR_INIT;
        if (igtcloud__xml_parse_error(&err, doc.ptr, doc.size) != 0 ||
            strlen(err.code) != size || memcmp(err.code, data, size) != 0)
            abort();
        igtcloud__xml_error_dispose(&err);
    }
    igtcloud__buf_dispose(&doc);
    return 0;
}
