/* Writing 1-bit bitmaps as PNG files (libpng): print previews of the simulated printer. */
#include "fw_print.h"

#include <errno.h>
#include <png.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

/* libpng reports errors by longjmp; everything that must be undone lives outside. */
static int write_png(FILE *f, const struct fw_bitmap *bm, int dpi)
{
    png_structp png = png_create_write_struct(PNG_LIBPNG_VER_STRING, NULL, NULL, NULL);
    png_infop info = png ? png_create_info_struct(png) : NULL;
    if (!png || !info) {
        png_destroy_write_struct(&png, &info);
        return FW_ENOMEM;
    }
    if (setjmp(png_jmpbuf(png))) { /* libpng failed to write: a file error */
        png_destroy_write_struct(&png, &info);
        return FW_EIO;
    }
    png_init_io(png, f);
    png_set_IHDR(png, info, (png_uint_32)bm->width, (png_uint_32)bm->height, 1, PNG_COLOR_TYPE_GRAY,
                 PNG_INTERLACE_NONE, PNG_COMPRESSION_TYPE_DEFAULT, PNG_FILTER_TYPE_DEFAULT);
    /* Pixels per metre at the printer's resolution: a viewer shows the paper's real size. */
    png_uint_32 ppm = (png_uint_32)(dpi / 0.0254 + 0.5);
    png_set_pHYs(png, info, ppm, ppm, PNG_RESOLUTION_METER);
    png_write_info(png, info);
    png_set_invert_mono(png); /* our 1 is black; PNG grey 1 is white */
    for (int y = 0; y < bm->height; y++)
        png_write_row(png, bm->bits + (size_t)y * (size_t)bm->stride);
    png_write_end(png, info);
    png_destroy_write_struct(&png, &info);
    return FW_OK;
}

int fw_png_write(const char *path, const struct fw_bitmap *bm, int dpi)
{
    char tmp[4096];
    if (bm->width < 1 || bm->height < 1 || dpi < 72 || dpi > 2400 ||
        (size_t)snprintf(tmp, sizeof tmp, "%s.tmp", path) >= sizeof tmp)
        return FW_EINVAL;
    FILE *f = fopen(tmp, "wb");
    if (!f)
        return FW_EIO;
    int rc = write_png(f, bm, dpi);
    if (fflush(f) != 0 || fsync(fileno(f)) != 0)
        rc = rc ? rc : FW_EIO;
    if (fclose(f) != 0)
        rc = rc ? rc : FW_EIO;
    /* Written whole or not at all: a reader never sees half a PNG. */
    if (rc == FW_OK && rename(tmp, path) != 0)
        rc = FW_EIO;
    if (rc != FW_OK)
        unlink(tmp);
    return rc;
}
