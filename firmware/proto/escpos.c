/* ESC/POS encoder (Epson ESC/POS Application Programming Guide). Pure: bytes out, no I/O. */
#include "fw_print.h"

#define ESC 0x1b
#define GS  0x1d
#define FS  0x1c

static void put3(struct fw_buf *b, uint8_t a, uint8_t c, uint8_t d)
{
    uint8_t s[3] = {a, c, d};
    fw_buf_put(b, s, 3);
}

void fw_escpos_init(struct fw_buf *b)
{
    uint8_t s[2] = {ESC, '@'};
    fw_buf_put(b, s, 2);
}

void fw_escpos_leave_kanji(struct fw_buf *b)
{
    uint8_t s[2] = {FS, '.'};
    fw_buf_put(b, s, 2);
}

void fw_escpos_codepage(struct fw_buf *b, uint8_t page)
{
    put3(b, ESC, 't', page);
}

void fw_escpos_align(struct fw_buf *b, enum fw_align a)
{
    put3(b, ESC, 'a', (uint8_t)a);
}

void fw_escpos_bold(struct fw_buf *b, bool on)
{
    put3(b, ESC, 'E', on ? 1 : 0);
}

int fw_escpos_size(struct fw_buf *b, int width, int height)
{
    if (width < 1 || width > 8 || height < 1 || height > 8)
        return FW_EINVAL;
    /* GS ! n: bits 4-6 width - 1, bits 0-2 height - 1. */
    put3(b, GS, '!', (uint8_t)((width - 1) << 4 | (height - 1)));
    return FW_OK;
}

void fw_escpos_feed(struct fw_buf *b, uint8_t lines)
{
    put3(b, ESC, 'd', lines);
}

void fw_escpos_feed_dots(struct fw_buf *b, uint8_t dots)
{
    put3(b, ESC, 'J', dots);
}

void fw_escpos_cut(struct fw_buf *b, bool partial)
{
    uint8_t s[4] = {GS, 'V', partial ? 66 : 65, 0};
    fw_buf_put(b, s, 4);
}

void fw_escpos_busy_enable(struct fw_buf *b)
{
    put3(b, GS, 'a', 1 << 5);
}

void fw_escpos_text(struct fw_buf *b, const char *bytes, size_t n)
{
    size_t start = 0;
    for (size_t i = 0; i < n; i++) {
        unsigned char c = (unsigned char)bytes[i];
        if ((c < 0x20 && c != '\n') || c == 0x7f) {
            fw_buf_put(b, bytes + start, i - start);
            start = i + 1;
        }
    }
    fw_buf_put(b, bytes + start, n - start);
}

int fw_escpos_raster(struct fw_buf *b, const struct fw_bitmap *bm)
{
    int row_bytes = (bm->width + 7) / 8;
    if (bm->width <= 0 || bm->height <= 0 || row_bytes > 0xffff || bm->stride < row_bytes)
        return FW_EINVAL;
    for (int y = 0; y < bm->height; y += FW_ESCPOS_BAND_ROWS) {
        int rows = bm->height - y < FW_ESCPOS_BAND_ROWS ? bm->height - y : FW_ESCPOS_BAND_ROWS;
        /* GS v 0 m xL xH yL yH: m = 0 normal density; x in bytes, y in dots. */
        uint8_t h[8] = {GS,
                        'v',
                        '0',
                        0,
                        (uint8_t)(row_bytes & 0xff),
                        (uint8_t)(row_bytes >> 8),
                        (uint8_t)(rows & 0xff),
                        (uint8_t)(rows >> 8)};
        fw_buf_put(b, h, sizeof h);
        for (int r = 0; r < rows; r++)
            fw_buf_put(b, bm->bits + (size_t)(y + r) * (size_t)bm->stride, (size_t)row_bytes);
    }
    return FW_OK;
}

/* GS ( k pL pH cn fn [parameters]: cn 49 is the QR code symbol. */
static void qr_function(struct fw_buf *b, uint8_t fn, const uint8_t *params, size_t n)
{
    size_t len = n + 2; /* cn and fn count in pL pH */
    uint8_t h[7] = {GS, '(', 'k', (uint8_t)(len & 0xff), (uint8_t)(len >> 8), 49, fn};
    fw_buf_put(b, h, sizeof h);
    fw_buf_put(b, params, n);
}

int fw_escpos_qr(struct fw_buf *b, const char *data, size_t n, int module, char ecc)
{
    static const char levels[] = "LMQH";
    int level = -1;
    for (int i = 0; i < 4; i++)
        if (levels[i] == ecc)
            level = i;
    if (n < 1 || n > 7089 || module < 1 || module > 16 || level < 0)
        return FW_EINVAL;
    uint8_t model[2] = {50, 0};                      /* fn 65: model 2 */
    uint8_t size[1] = {(uint8_t)module};             /* fn 67: module size in dots */
    uint8_t correction[1] = {(uint8_t)(48 + level)}; /* fn 69: 48 L, 49 M, 50 Q, 51 H */
    uint8_t print[1] = {48};                         /* fn 81: print the stored symbol */
    qr_function(b, 65, model, sizeof model);
    qr_function(b, 67, size, sizeof size);
    qr_function(b, 69, correction, sizeof correction);
    /* fn 80, store the data: m = 48 follows fn, and cn, fn and m count in pL pH. */
    size_t len = n + 3;
    uint8_t h[8] = {GS, '(', 'k', (uint8_t)(len & 0xff), (uint8_t)(len >> 8), 49, 80, 48};
    fw_buf_put(b, h, sizeof h);
    fw_buf_put(b, data, n);
    qr_function(b, 81, print, sizeof print);
    return FW_OK;
}
