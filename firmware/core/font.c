/* Text to 1-bit bitmaps with FreeType, for Vietnamese on printers whose code pages cannot be
 * trusted. Glyphs are rendered in FreeType's monochrome mode (FT_LOAD_TARGET_MONO): hinted
 * for crisp dots, no grey to threshold. */
#include "fw_print.h"

#include <ft2build.h>
#include <stdlib.h>
#include <string.h>
#include FT_FREETYPE_H

struct fw_font {
    FT_Library lib;
    FT_Face face;
};

#define ELLIPSIS 0x2026

int fw_font_open(const char *path, struct fw_font **out)
{
    struct fw_font *f = calloc(1, sizeof *f);
    if (!f)
        return FW_ENOMEM;
    if (FT_Init_FreeType(&f->lib) != 0) {
        free(f);
        return FW_ENOMEM;
    }
    if (FT_New_Face(f->lib, path, 0, &f->face) != 0) {
        FT_Done_FreeType(f->lib);
        free(f);
        return FW_EIO;
    }
    *out = f;
    return FW_OK;
}

void fw_font_close(struct fw_font *f)
{
    if (!f)
        return;
    FT_Done_Face(f->face);
    FT_Done_FreeType(f->lib);
    free(f);
}

bool fw_font_has(struct fw_font *f, uint32_t cp)
{
    return FT_Get_Char_Index(f->face, cp) != 0;
}

/* Strict UTF-8 decoding (no overlongs, surrogates or code points past U+10FFFF). Returns the
 * number of code points written to cps (at most max), or -1 for invalid input. */
static int decode(const char *s, uint32_t *cps, int max)
{
    const unsigned char *p = (const unsigned char *)s;
    int n = 0;
    while (*p) {
        uint32_t c;
        int len;
        if (*p < 0x80) {
            c = *p;
            len = 1;
        } else if ((*p & 0xe0) == 0xc0) {
            c = *p & 0x1f;
            len = 2;
        } else if ((*p & 0xf0) == 0xe0) {
            c = *p & 0x0f;
            len = 3;
        } else if ((*p & 0xf8) == 0xf0) {
            c = *p & 0x07;
            len = 4;
        } else {
            return -1;
        }
        for (int i = 1; i < len; i++) {
            if ((p[i] & 0xc0) != 0x80)
                return -1;
            c = c << 6 | (p[i] & 0x3f);
        }
        static const uint32_t min[] = {0, 0, 0x80, 0x800, 0x10000};
        if (c < min[len] || c > 0x10ffff || (c >= 0xd800 && c <= 0xdfff) || n == max)
            return -1;
        cps[n++] = c;
        p += len;
    }
    return n;
}

static int advance(FT_Face face, uint32_t cp, int *out)
{
    if (FT_Load_Glyph(face, FT_Get_Char_Index(face, cp), FT_LOAD_TARGET_MONO) != 0)
        return FW_EINVAL;
    *out = (int)(face->glyph->advance.x >> 6);
    return FW_OK;
}

int fw_font_render(struct fw_font *f, const char *utf8, int px, int max_width,
                   struct fw_bitmap *out, bool *cut)
{
    uint32_t cps[256];
    int adv[257];
    memset(out, 0, sizeof *out);
    *cut = false;
    int n = decode(utf8, cps, 255);
    if (n <= 0 || px < 6 || px > 512 || max_width < 1)
        return FW_EINVAL;
    if (FT_Set_Pixel_Sizes(f->face, 0, (FT_UInt)px) != 0)
        return FW_EINVAL;
    for (int i = 0; i < n; i++)
        if (!fw_font_has(f, cps[i]))
            return FW_EINVAL;

    int width = 0;
    for (int i = 0; i < n; i++) {
        if (advance(f->face, cps[i], &adv[i]) != FW_OK)
            return FW_EINVAL;
        width += adv[i];
    }
    if (width > max_width) {
        /* Keep the longest start that leaves room for the ellipsis. */
        int ell;
        if (!fw_font_has(f, ELLIPSIS) || advance(f->face, ELLIPSIS, &ell) != FW_OK)
            return FW_EINVAL;
        if (ell > max_width) /* not even "…" fits: the layout's field is too narrow */
            return FW_EINVAL;
        int keep = 0, w = 0;
        while (keep < n && w + adv[keep] + ell <= max_width)
            w += adv[keep++];
        while (keep > 0 && cps[keep - 1] == ' ') /* no space before the "…" */
            w -= adv[--keep];
        cps[keep] = ELLIPSIS;
        adv[keep] = ell;
        n = keep + 1;
        width = w + ell;
        *cut = true;
    }
    int ascent = (int)(f->face->size->metrics.ascender >> 6);
    int descent = (int)(-f->face->size->metrics.descender >> 6);
    /* Stacked marks on capitals (Ễ, Ổ, Ẩ ...) rise above the font's ascender: grow the box to
     * the tallest glyph, or "NGUYỄN" would print as "NGUYÊN". */
    for (int i = 0; i < n; i++) {
        if (FT_Load_Glyph(f->face, FT_Get_Char_Index(f->face, cps[i]),
                          FT_LOAD_RENDER | FT_LOAD_TARGET_MONO) != 0)
            return FW_EINVAL;
        int top = f->face->glyph->bitmap_top;
        int below = (int)f->face->glyph->bitmap.rows - top;
        ascent = top > ascent ? top : ascent;
        descent = below > descent ? below : descent;
    }
    int rc = fw_bitmap_new(out, width > 0 ? width : 1, ascent + descent);
    if (rc != FW_OK)
        return rc;

    int pen = 0;
    for (int i = 0; i < n; i++) {
        if (FT_Load_Glyph(f->face, FT_Get_Char_Index(f->face, cps[i]),
                          FT_LOAD_RENDER | FT_LOAD_TARGET_MONO) != 0) {
            fw_bitmap_free(out);
            return FW_EINVAL;
        }
        FT_GlyphSlot g = f->face->glyph;
        const FT_Bitmap *gb = &g->bitmap;
        for (unsigned row = 0; row < gb->rows; row++) {
            int y = ascent - g->bitmap_top + (int)row;
            if (y < 0 || y >= out->height)
                continue;
            const unsigned char *src = gb->buffer + (long)row * gb->pitch;
            for (unsigned col = 0; col < gb->width; col++) {
                int x = pen + g->bitmap_left + (int)col;
                if (x >= 0 && x < out->width && (src[col >> 3] & (0x80 >> (col & 7))))
                    fw_bitmap_set(out, x, y);
            }
        }
        pen += adv[i];
    }
    return FW_OK;
}
