/* ZPL II encoder (Zebra ZPL II Programming Guide). Pure: bytes out, no I/O. */
#include "fw_print.h"

#include <stdio.h>
#include <string.h>

static void puts_buf(struct fw_buf *b, const char *s)
{
    fw_buf_put(b, s, strlen(s));
}

void fw_zpl_begin(struct fw_buf *b)
{
    puts_buf(b, "^XA^CI28"); /* ^CI28: field data is UTF-8 */
}

void fw_zpl_width(struct fw_buf *b, int dots)
{
    char s[24];
    snprintf(s, sizeof s, "^PW%d", dots);
    puts_buf(b, s);
}

void fw_zpl_end(struct fw_buf *b)
{
    puts_buf(b, "^XZ");
}

static int origin(struct fw_buf *b, int x, int y)
{
    char s[32];
    if (x < 0 || y < 0 || x > 32000 || y > 32000)
        return FW_EINVAL;
    snprintf(s, sizeof s, "^FO%d,%d", x, y);
    puts_buf(b, s);
    return FW_OK;
}

int fw_zpl_text(struct fw_buf *b, int x, int y, int h, const char *utf8)
{
    char s[48];
    if (h < 10 || h > 32000 || origin(b, x, y) != FW_OK)
        return FW_EINVAL;
    snprintf(s, sizeof s, "^A0N,%d,%d^FH_^FD", h, h);
    puts_buf(b, s);
    /* ^FH_ makes "_hh" a byte in hexadecimal: escape the three characters that would
     * otherwise be read as commands or escapes. Other bytes (UTF-8) go as they are. */
    for (const char *p = utf8; *p; p++) {
        if (*p == '^' || *p == '~' || *p == '_') {
            snprintf(s, sizeof s, "_%02X", (unsigned char)*p);
            puts_buf(b, s);
        } else if ((unsigned char)*p >= 0x20) {
            fw_buf_put(b, p, 1);
        }
    }
    puts_buf(b, "^FS");
    return FW_OK;
}

int fw_zpl_qr(struct fw_buf *b, int x, int y, int mag, char ecc, const char *data)
{
    char s[48];
    if (mag < 1 || mag > 10 || !strchr("LMQH", ecc) || ecc == '\0' || !data[0])
        return FW_EINVAL;
    for (const char *p = data; *p; p++)
        if (*p < 0x20 || *p > 0x7e || *p == '^' || *p == '~')
            return FW_EINVAL;
    if (origin(b, x, y) != FW_OK)
        return FW_EINVAL;
    /* ^BQN,2,mag: normal orientation, model 2; ^FD<ecc>A,<data>: error correction, then
     * automatic input mode. */
    snprintf(s, sizeof s, "^BQN,2,%d^FD%cA,", mag, ecc);
    puts_buf(b, s);
    puts_buf(b, data);
    puts_buf(b, "^FS");
    return FW_OK;
}

int fw_zpl_graphic(struct fw_buf *b, int x, int y, const struct fw_bitmap *bm)
{
    static const char hex[] = "0123456789ABCDEF";
    char s[64];
    int row_bytes = (bm->width + 7) / 8;
    if (bm->width <= 0 || bm->height <= 0 || bm->stride < row_bytes || origin(b, x, y) != FW_OK)
        return FW_EINVAL;
    long total = (long)row_bytes * bm->height;
    /* ^GFA,b,c,d,data: ASCII hexadecimal, b = c = bytes in all, d = bytes per row. */
    snprintf(s, sizeof s, "^GFA,%ld,%ld,%d,", total, total, row_bytes);
    puts_buf(b, s);
    for (int r = 0; r < bm->height; r++) {
        const uint8_t *row = bm->bits + (size_t)r * (size_t)bm->stride;
        for (int i = 0; i < row_bytes; i++) {
            char pair[2] = {hex[row[i] >> 4], hex[row[i] & 15]};
            fw_buf_put(b, pair, 2);
        }
    }
    puts_buf(b, "^FS");
    return FW_OK;
}
