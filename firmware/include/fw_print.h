/* mokit firmware: printer languages and printer profiles (public contract).
 *
 * The encoders append the bytes of one printer command each to a growing buffer. They do no
 * I/O: a layout is turned into bytes here, and a transport (USB, serial, file, simulated
 * printer) carries the bytes. Errors are sticky: after an allocation failure every further
 * append is ignored and fw_buf_error() reports it, so a layout checks once at the end.
 *
 * Sources: Epson ESC/POS Application Programming Guide (command pages ESC @, ESC t, ESC a,
 * ESC E, ESC d, GS !, GS V, GS v 0, GS ( k function 165-181, GS a); Zebra ZPL II Programming
 * Guide (^XA, ^XZ, ^CI, ^FO, ^A0, ^FH, ^FD, ^FS, ^BQ, ^GF). */
#pragma once

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

/* Error codes of firmware/: 0 success, negative failure; fw_strerror() gives the words. */
enum fw_err {
    FW_OK = 0,
    FW_ENOMEM = -1,    /* out of memory */
    FW_EINVAL = -2,    /* an argument outside what the command allows */
    FW_EIO = -3,       /* a file or device could not be written */
    FW_ENODEV = -4,    /* the printer is not there (unplugged, switched off) */
    FW_EBUSY = -5,     /* another program holds the printer */
    FW_ETIMEDOUT = -6, /* the printer stopped taking bytes */
    FW_EPAPER = -7,    /* the printer is out of paper */
};
const char *fw_strerror(int err);

/* A growing byte buffer. Zero-initialise or fw_buf_init(); the caller frees with
 * fw_buf_free(). */
struct fw_buf {
    uint8_t *data;
    size_t len, cap;
    int error; /* first error, sticky */
};
void fw_buf_init(struct fw_buf *b);
void fw_buf_free(struct fw_buf *b);
void fw_buf_put(struct fw_buf *b, const void *p, size_t n);
int fw_buf_error(const struct fw_buf *b);

/* A 1-bit image: rows of stride bytes, most significant bit first, 1 = black (printed). */
struct fw_bitmap {
    int width, height, stride;
    uint8_t *bits;
};

/* A new white bitmap (all zero). FW_EINVAL for a size outside 1..32767, FW_ENOMEM. */
int fw_bitmap_new(struct fw_bitmap *bm, int width, int height);
void fw_bitmap_free(struct fw_bitmap *bm);
static inline int fw_bitmap_get(const struct fw_bitmap *bm, int x, int y)
{
    return bm->bits[(size_t)y * (size_t)bm->stride + (size_t)(x >> 3)] >> (7 - (x & 7)) & 1;
}
static inline void fw_bitmap_set(struct fw_bitmap *bm, int x, int y)
{
    bm->bits[(size_t)y * (size_t)bm->stride + (size_t)(x >> 3)] |= (uint8_t)(0x80 >> (x & 7));
}

/* The smallest box holding all black dots of bm: *x, *y, *w, *h. A white bitmap gives w = h = 0. */
void fw_bitmap_ink(const struct fw_bitmap *bm, int *x, int *y, int *w, int *h);
/* A copy of the w x h region at x, y into out (caller frees). FW_EINVAL, FW_ENOMEM. */
int fw_bitmap_crop(const struct fw_bitmap *bm, int x, int y, int w, int h, struct fw_bitmap *out);

/* A QR code (model 2, libqrencode) as a bitmap: module x module dots per module, with the
 * 4-module quiet zone the standard asks for. Error correction 'L', 'M', 'Q' or 'H'. The
 * caller frees out with fw_bitmap_free(). FW_EINVAL for bad arguments or data too long for a
 * QR code, FW_ENOMEM. */
int fw_qr_bitmap(const char *data, int module, char ecc, struct fw_bitmap *out);

/* Writes bm as a 1-bit greyscale PNG at dpi (the printer's: a viewer then shows the paper's
 * real size): to PATH.tmp, then renamed, so a reader never sees a partial file. FW_EIO (errno
 * says why), FW_EINVAL, FW_ENOMEM. */
int fw_png_write(const char *path, const struct fw_bitmap *bm, int dpi);

/* ---- text ---- */

/* DejaVu Sans from fonts-dejavu-core: it has every letter of the Vietnamese alphabet. */
#define FW_FONT_DEFAULT "/usr/share/fonts/truetype/dejavu/DejaVuSans.ttf"
/* DejaVu Sans Mono: at 20 px a character is 12 dots wide, like a printer's 12 x 24 font A. */
#define FW_FONT_MONO "/usr/share/fonts/truetype/dejavu/DejaVuSansMono.ttf"

struct fw_font;

/* Opens a TrueType/OpenType font. FW_EIO when it is missing or not a font; FW_ENOMEM. */
int fw_font_open(const char *path, struct fw_font **out);
void fw_font_close(struct fw_font *f);
/* True when the font has a glyph for the Unicode code point cp. */
bool fw_font_has(struct fw_font *f, uint32_t cp);
/* Renders UTF-8 text (NFC: Vietnamese letters precomposed) px dots high, 1 bit per dot,
 * cropped to the text's width and at most max_width dots wide: a longer text is cut and ends
 * with "…" (*cut is set). The bitmap is as high as the font's ascent + descent, or more where
 * a glyph rises above or reaches below them (stacked marks on capitals): nothing is clipped. The
 * caller frees out with fw_bitmap_free(). FW_EINVAL for invalid UTF-8, empty text, px outside
 * 6-512, or a character the font lacks (never a box: the caller decides what to print instead), or
 * a max_width too narrow for "…"; FW_ENOMEM. */
int fw_font_render(struct fw_font *f, const char *utf8, int px, int max_width,
                   struct fw_bitmap *out, bool *cut);

/* ---- ESC/POS ---- */

enum fw_align { FW_ALIGN_LEFT = 0, FW_ALIGN_CENTER = 1, FW_ALIGN_RIGHT = 2 };

/* Rows per GS v 0 command: small printers (CSN-A2) have buffers of a few kilobytes, so large
 * images go out as bands. */
#define FW_ESCPOS_BAND_ROWS 24

void fw_escpos_init(struct fw_buf *b);                   /* ESC @ */
void fw_escpos_leave_kanji(struct fw_buf *b);            /* FS . (Chinese-market firmware) */
void fw_escpos_codepage(struct fw_buf *b, uint8_t page); /* ESC t n */
void fw_escpos_align(struct fw_buf *b, enum fw_align a); /* ESC a n */
void fw_escpos_bold(struct fw_buf *b, bool on);          /* ESC E n */
/* GS ! n: character width and height multipliers, 1 to 8 each; FW_EINVAL otherwise. */
int fw_escpos_size(struct fw_buf *b, int width, int height);
void fw_escpos_feed(struct fw_buf *b, uint8_t lines); /* ESC d n */
/* ESC J n: print, then feed n motion units: one dot on the profiles here (verify per model:
 * GS P changes the unit, and some Epson models use 1/360 inch). */
void fw_escpos_feed_dots(struct fw_buf *b, uint8_t dots);
void fw_escpos_cut(struct fw_buf *b, bool partial); /* GS V 0 / GS V 1 */
/* GS a 0x20: the printer raises its busy (DTR) line while its buffer is full, so a serial
 * transport can pace itself (CSN-A2 and relatives). */
void fw_escpos_busy_enable(struct fw_buf *b);
/* Text bytes in the printer's code page. Control bytes other than LF are dropped, so data
 * never turns into commands. */
void fw_escpos_text(struct fw_buf *b, const char *bytes, size_t n);
/* GS v 0 raster image, in bands of FW_ESCPOS_BAND_ROWS rows. FW_EINVAL for an empty image or
 * one wider than 65535 bytes per row. */
int fw_escpos_raster(struct fw_buf *b, const struct fw_bitmap *bm);
/* Native QR code, model 2 (GS ( k): module size 1-16 dots, error correction 'L','M','Q','H',
 * 1 to 7089 data bytes. FW_EINVAL otherwise. */
int fw_escpos_qr(struct fw_buf *b, const char *data, size_t n, int module, char ecc);

/* ---- ZPL ---- */

void fw_zpl_begin(struct fw_buf *b); /* ^XA^CI28: a label, text fields in UTF-8 */
void fw_zpl_end(struct fw_buf *b);   /* ^XZ */
/* ^PWn: the print width in dots, so centring does not depend on the printer's settings. */
void fw_zpl_width(struct fw_buf *b, int dots);
/* A text field at x,y (dots) in the scalable font 0, h dots high. The text goes through ^FH
 * hexadecimal escapes, so ^ and ~ in data are printed, never run. FW_EINVAL for h < 10. */
int fw_zpl_text(struct fw_buf *b, int x, int y, int h, const char *utf8);
/* A QR code (^BQN, model 2): the bare symbol (no quiet zone) at x,y with magnification 1-10 and
 * error correction 'L','M','Q', 'H'; data in automatic mode. Data may hold only printable ASCII
 * without ^ and ~ (a patient code is upper-case letters and digits). FW_EINVAL otherwise. */
int fw_zpl_qr(struct fw_buf *b, int x, int y, int mag, char ecc, const char *data);
/* A graphic field (^GFA, hexadecimal), for text the printer's font lacks. */
int fw_zpl_graphic(struct fw_buf *b, int x, int y, const struct fw_bitmap *bm);

/* ---- simulated printer ---- */

struct fw_profile;

/* Interprets an ESC/POS byte stream as a printer of profile p would print it, into a bitmap
 * p->dots_per_line wide and as long as the paper used (the caller frees out).
 *
 * It understands what fw_escpos_* emits: ESC @, FS ., ESC t, ESC a, ESC E, GS !, ESC d, ESC J,
 * GS V, GS a, GS v 0 and GS ( k (model, size, error correction, store, print), text and LF.
 * Text is
 * drawn with font, which stands in for the printer's 12 x 24 font A: open FW_FONT_MONO, drawn
 * 20 px high in a 24-dot cell and scaled by GS !, so a 58 mm line holds 32 characters as on
 * paper. A byte of 0x80 or more is drawn as "?" since no code page is trusted. Text lines,
 * images and QR codes follow ESC a; a line wider than the paper, or GS ( k for a profile
 * without native QR, is an error.
 * Anything else is an error (FW_EINVAL) with the offset and byte in err: our encoders never
 * emit it, so it is a bug to catch, not to guess at. FW_ENOMEM. */
int fw_sim_escpos(const uint8_t *data, size_t n, const struct fw_profile *p, struct fw_font *font,
                  struct fw_bitmap *out, char *err, size_t errlen);

/* Interprets a ZPL label (what fw_zpl_* emits: ^XA, ^CI28, ^PW, ^FO, ^A0N, ^FH, ^FD/^FS text,
 * ^BQN QR, ^GFA graphic, ^XZ) into a bitmap p->dots_per_line wide, as long as the lowest field.
 * Text fields are drawn with font (a stand-in for the printer's scalable font 0) at the ^A0
 * height; a field that runs past the label's width is an error, like anything else it does not
 * know (FW_EINVAL, with the offset in err). One label per call. */
int fw_sim_zpl(const uint8_t *data, size_t n, const struct fw_profile *p, struct fw_font *font,
               struct fw_bitmap *out, char *err, size_t errlen);

/* ---- printer profiles ---- */

enum fw_language { FW_LANG_ESCPOS, FW_LANG_ZPL };

/* What a printer model can do, as data (the idea of escpos-printer-db): a layout asks its
 * profile whether to send text or raster, native or raster QR, and how wide it may draw. */
struct fw_profile {
    const char *name;  /* stable id used in configuration: "escpos-58", "csn-a2", ... */
    const char *model; /* for people */
    enum fw_language language;
    int dots_per_line; /* printable width in dots */
    int dpi;
    int vn_codepage; /* ESC t page trusted to print Vietnamese, or -1: raster Vietnamese */
    bool native_qr;  /* GS ( k / ^BQ prints a QR code the scanners read */
    bool cutter;
    bool busy_line; /* has a busy/DTR line to pace serial output */
    int baud;       /* serial speed, 0 for USB */
};

extern const struct fw_profile fw_profiles[];
extern const size_t fw_profiles_count;
/* NULL when no profile has that name. */
const struct fw_profile *fw_profile_find(const char *name);
