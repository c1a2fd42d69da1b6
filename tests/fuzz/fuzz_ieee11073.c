/* libFuzzer target: what an IEEE 11073-20601 agent sends (firmware/proto/ieee11073.c): the
 * byte stream through the manager in transfers of varying size (the first input byte picks the
 * size), with its timeouts, after a standard and after an unknown configuration; the AARQ and
 * ConfigReport parsers on the raw input. What must hold: no crash, readings of known kinds with
 * finite values and their units, answers that are whole APDUs. */
#include "../../firmware/proto/ieee11073.h"

#include <assert.h>
#include <math.h>
#include <stdlib.h>
#include <string.h>

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

static void check(const struct fw_decoded *out)
{
    assert(out->nreadings <= FW_MAX_READINGS);
    for (size_t i = 0; i < out->nreadings; i++) {
        const struct fw_reading *r = &out->readings[i];
        assert(r->kind && r->unit && isfinite(r->value));
        assert(!strcmp(r->kind, "bp") ? !isnan(r->value2) : isnan(r->value2));
    }
    if (out->reply_len) { /* whole APDUs, back to back */
        size_t off = 0;
        while (off < out->reply_len) {
            assert(out->reply_len - off >= 4);
            off += 4 + (size_t)fw_mder_u16(out->reply + off + 2);
        }
        assert(off == out->reply_len);
    }
}

static void run(const uint8_t *prefix, size_t plen, const uint8_t *data, size_t size)
{
    struct fw_phd *s = calloc(1, sizeof *s);
    if (!s)
        return;
    size_t chunk = size ? (size_t)(data[0] % 64) + 1 : 1;
    double t = 0;
    for (int pass = 0; pass < 2; pass++) {
        const uint8_t *p = pass ? data : prefix;
        size_t n = pass ? size : plen;
        for (size_t off = 0; off < n; off += chunk, t += 0.01) {
            size_t k = n - off < chunk ? n - off : chunk, used = 0;
            do {
                struct fw_decoded out;
                memset(&out, 0, sizeof out);
                assert(fw_drv_ieee11073.decode(s, p + off + used, k - used, t, &out) == FW_OK);
                check(&out);
                used += out.consumed;
                if (!out.consumed)
                    break;
            } while (used < k);
            for (int i = 0; i < 8 && fw_drv_ieee11073.deadline(s) >= 0; i++) {
                struct fw_decoded out;
                memset(&out, 0, sizeof out);
                fw_drv_ieee11073.timeout(s, t, &out);
                check(&out);
            }
        }
    }
    free(s);
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    /* an association with the blood-pressure standard configuration first, then the input */
    static const uint8_t aarq_bp[] = {
        0xe2, 0x00, 0x00, 0x32, 0x80, 0x00, 0x00, 0x00, 0x00, 0x01, 0x00, 0x2a, 0x50, 0x79,
        0x00, 0x26, 0x80, 0x00, 0x00, 0x00, 0x80, 0x00, 0x80, 0x00, 0x00, 0x00, 0x00, 0x00,
        0x00, 0x00, 0x00, 0x80, 0x00, 0x00, 0x00, 0x08, 0x11, 0x22, 0x33, 0x44, 0x55, 0x66,
        0x77, 0x88, 0x02, 0xbc, 0x01, 0x00, 0x01, 0x00, 0x00, 0x00, 0x00, 0x00};
    run(aarq_bp, sizeof aarq_bp, data, size);
    run(NULL, 0, data, size);

    struct fw_phd_config cfg;
    char why[120];
    if (fw_phd_config_parse(data, size, &cfg, why, sizeof why) == FW_OK)
        assert(cfg.nobjs >= 0 && cfg.nobjs <= FW_PHD_MAX_OBJS);
    else
        assert(why[0]);
    struct fw_phd *s = calloc(1, sizeof *s);
    if (s) {
        uint8_t out[128];
        size_t len;
        enum fw_phd_assoc res;
        uint16_t id;
        if (fw_phd_associate(s, data, size, out, sizeof out, &len, &res, &id) == FW_OK)
            assert(len >= 10 && fw_mder_u16(out + 2) == len - 4);
        free(s);
    }
    return 0;
}
