/* libFuzzer target: what comes from printers and printer configuration: DLE EOT and ~HS status
 * answers, printer URIs, and the timing model's walk over a byte stream. */
#include "fw_printer.h"

#include <stdlib.h>
#include <string.h>

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    enum fw_printer_state s;
    if (size > 0)
        fw_escpos_paper_status(data[0], &s);
    fw_zpl_host_status(data, size, &s);
    char *uri = malloc(size + 1);
    if (!uri)
        return 0;
    memcpy(uri, data, size);
    uri[size] = '\0';
    struct fw_uri u;
    char err[200];
    fw_uri_parse(uri, &u, err, sizeof err);
    free(uri);
    bool text = false;
    fw_pace_cost(data, size, 19200, &text);
    for (size_t off = 0; off < size;) {
        size_t n = fw_pace_split(data + off, size - off, 64);
        if (n == 0 || n > size - off)
            abort(); /* must always advance, within the buffer */
        off += n;
    }
    return 0;
}
