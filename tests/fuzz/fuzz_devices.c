/* libFuzzer target: what devices send: capture files (and their replay through every
 * driver), HID POS scale reports, CMS50 byte streams. */
#include "fw_device.h"

static void ignore(void *ctx, double at, const struct fw_decoded *r)
{
    (void)ctx;
    (void)at;
    (void)r;
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    struct fw_capture c;
    char err[200];
    if (fw_capture_parse((const char *)data, size, &c, err, sizeof err) == FW_OK) {
        for (size_t i = 0; i < fw_drivers_count; i++)
            fw_replay(fw_drivers[i], &c, ignore, NULL, err, sizeof err);
        fw_capture_free(&c);
    }
    struct fw_scale s = {0};
    struct fw_reading out[2];
    for (size_t off = 0; off + 6 <= size; off += 6)
        fw_hidpos_feed(&s, data + off, 6, out, NULL);
    struct fw_cms50 m = {0};
    for (size_t i = 0; i < size; i++)
        fw_cms50_feed(&m, data[i], out, NULL, NULL);
    return 0;
}
