/* The driver table. Add a driver: a decoder in proto/, a row here, a doc in firmware/doc/,
 * byte-vector tests and a capture with its golden readings in tests/replay/. */
#include "fw_device.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

static int scale_decode(void *state, const uint8_t *data, size_t n, struct fw_reading *out,
                        size_t max, char *err, size_t errlen)
{
    if (max < 1)
        return FW_EINVAL;
    int rc = fw_hidpos_feed(state, data, n, out, NULL);
    if (rc < 0)
        snprintf(err, errlen,
                 "not a scale report (report 3, 6 bytes, status 1-8, unit g/kg/oz/lb)");
    return rc;
}

static int cms50_decode(void *state, const uint8_t *data, size_t n, struct fw_reading *out,
                        size_t max, char *err, size_t errlen)
{
    (void)err;
    (void)errlen;
    int got = 0;
    for (size_t i = 0; i < n; i++) {
        struct fw_reading r[2];
        int k = fw_cms50_feed(state, data[i], r, NULL, NULL);
        for (int j = 0; j < k && (size_t)got < max; j++)
            out[got++] = r[j];
    }
    return got;
}

static const struct fw_usb_id scale_ids[] = {
    {0x0922, 0x8003}, /* DYMO M10 */
    {0x0922, 0x8004}, /* DYMO M25 */
    {0x0922, 0x8009}, /* DYMO S180 (verify) */
    {0x0eb8, 0xf000}, /* Mettler Toledo PS60 */
    {0x2474, 0x0550}, /* Stamps.com */
    {0x2474, 0x3550}, /* Stamps.com */
    {0x0b67, 0x555e}, /* Fairbanks */
    {0, 0},
};

static const struct fw_usb_id cp210x_ids[] = {
    {0x10c4, 0xea60}, /* CP210x bridge: shared with other cables, probe before claiming */
    {0, 0},
};

const struct fw_driver fw_drivers[] = {
    {.name = "hidpos-scale",
     .description = "USB HID point-of-sale scale (DYMO, Mettler, Stamps.com, Fairbanks)",
     .transport = "usb-hid",
     .usb_ids = scale_ids,
     .state_size = sizeof(struct fw_scale),
     .decode = scale_decode},
    {.name = "cms50",
     .description = "Contec CMS50 pulse oximeter, older firmware (19200 8O1 live data)",
     .transport = "serial",
     .usb_ids = cp210x_ids,
     .state_size = sizeof(struct fw_cms50),
     .decode = cms50_decode},
};
const size_t fw_drivers_count = sizeof fw_drivers / sizeof fw_drivers[0];

const struct fw_driver *fw_driver_find(const char *name)
{
    for (size_t i = 0; name && i < fw_drivers_count; i++)
        if (strcmp(fw_drivers[i].name, name) == 0)
            return &fw_drivers[i];
    return NULL;
}

int fw_replay(const struct fw_driver *d, const struct fw_capture *c,
              void (*cb)(void *ctx, double at, const struct fw_reading *r), void *ctx, char *err,
              size_t errlen)
{
    void *state = calloc(1, d->state_size ? d->state_size : 1);
    if (!state)
        return FW_ENOMEM;
    int rc = FW_OK;
    for (size_t i = 0; i < c->nframes && rc == FW_OK; i++) {
        const struct fw_frame *f = &c->frames[i];
        if (f->to_device)
            continue; /* what the host said: the device's answers follow */
        struct fw_reading out[FW_MAX_READINGS];
        char why[160] = "";
        int n = d->decode(state, f->data, f->len, out, FW_MAX_READINGS, why, sizeof why);
        if (n < 0) {
            snprintf(err, errlen, "frame %zu: %s", i + 1, why[0] ? why : fw_strerror(n));
            rc = n;
            break;
        }
        for (int k = 0; k < n; k++)
            cb(ctx, f->at, &out[k]);
    }
    free(state);
    return rc;
}
