/* QR codes as bitmaps, for printers without a native QR command and for print previews.
 * The symbol comes from libqrencode; this file only scales it and adds the quiet zone. */
#include "fw_print.h"

#include <errno.h>
#include <qrencode.h>
#include <stdlib.h>
#include <string.h>

#define QUIET_ZONE 4 /* modules of white around the symbol (ISO/IEC 18004) */

int fw_bitmap_new(struct fw_bitmap *bm, int width, int height)
{
    memset(bm, 0, sizeof *bm);
    if (width < 1 || height < 1 || width > 32767 || height > 32767)
        return FW_EINVAL;
    bm->stride = (width + 7) / 8;
    bm->bits = calloc((size_t)height, (size_t)bm->stride);
    if (!bm->bits)
        return FW_ENOMEM;
    bm->width = width;
    bm->height = height;
    return FW_OK;
}

void fw_bitmap_free(struct fw_bitmap *bm)
{
    free(bm->bits);
    memset(bm, 0, sizeof *bm);
}

void fw_bitmap_ink(const struct fw_bitmap *bm, int *x, int *y, int *w, int *h)
{
    int x0 = bm->width, y0 = bm->height, x1 = -1, y1 = -1;
    for (int yy = 0; yy < bm->height; yy++)
        for (int xx = 0; xx < bm->width; xx++)
            if (fw_bitmap_get(bm, xx, yy)) {
                x0 = xx < x0 ? xx : x0;
                x1 = xx > x1 ? xx : x1;
                y0 = yy < y0 ? yy : y0;
                y1 = yy > y1 ? yy : y1;
            }
    if (x1 < 0) {
        *x = *y = *w = *h = 0;
        return;
    }
    *x = x0;
    *y = y0;
    *w = x1 - x0 + 1;
    *h = y1 - y0 + 1;
}

int fw_bitmap_crop(const struct fw_bitmap *bm, int x, int y, int w, int h, struct fw_bitmap *out)
{
    if (x < 0 || y < 0 || w < 1 || h < 1 || x + w > bm->width || y + h > bm->height) {
        memset(out, 0, sizeof *out);
        return FW_EINVAL;
    }
    int rc = fw_bitmap_new(out, w, h);
    if (rc != FW_OK)
        return rc;
    for (int yy = 0; yy < h; yy++)
        for (int xx = 0; xx < w; xx++)
            if (fw_bitmap_get(bm, x + xx, y + yy))
                fw_bitmap_set(out, xx, yy);
    return FW_OK;
}

int fw_qr_bitmap(const char *data, int module, char ecc, struct fw_bitmap *out)
{
    static const QRecLevel levels[] = {QR_ECLEVEL_L, QR_ECLEVEL_M, QR_ECLEVEL_Q, QR_ECLEVEL_H};
    const char *which = ecc ? strchr("LMQH", ecc) : NULL;
    memset(out, 0, sizeof *out);
    if (!which || !data[0] || module < 1 || module > 32)
        return FW_EINVAL;
    /* Version 0: the smallest that fits; case-sensitive, so upper-case codes use the
     * alphanumeric mode and stay small. */
    QRcode *qr = QRcode_encodeString(data, 0, levels[which - "LMQH"], QR_MODE_8, 1);
    if (!qr)
        return errno == ENOMEM ? FW_ENOMEM : FW_EINVAL;
    int side = (qr->width + 2 * QUIET_ZONE) * module;
    int rc = fw_bitmap_new(out, side, side);
    if (rc == FW_OK) {
        for (int my = 0; my < qr->width; my++)
            for (int mx = 0; mx < qr->width; mx++) {
                if (!(qr->data[my * qr->width + mx] & 1)) /* bit 0: dark module */
                    continue;
                for (int dy = 0; dy < module; dy++)
                    for (int dx = 0; dx < module; dx++)
                        fw_bitmap_set(out, (QUIET_ZONE + mx) * module + dx,
                                      (QUIET_ZONE + my) * module + dy);
            }
    }
    QRcode_free(qr);
    return rc;
}
