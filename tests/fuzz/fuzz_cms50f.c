/* libFuzzer target: what a CMS50 with the newer protocol sends (firmware/proto/cms50f.c):
 * packets parsed at every offset, the live stream, protocol detection, the model probe, a
 * stored-data download and its summary, commands, and the driver following a download. */
#include "../../firmware/proto/cms50f.h"

#include <assert.h>
#include <math.h>
#include <string.h>

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    struct fw_cms50f_packet k;
    for (size_t off = 0; off < size; off++) {
        int rc = fw_cms50f_parse(data + off, size - off, &k);
        assert(rc == FW_EINVAL || (rc >= 2 && rc <= FW_CMS50F_MAX_PACKET));
        if (rc > 0) {
            assert(k.len == (size_t)rc && strlen(k.text) < sizeof k.text);
            assert(k.nsamples >= 0 && k.nsamples <= 3);
        }
    }

    struct fw_cms50f s = {0};
    struct fw_reading out[2];
    long readings = 0;
    for (size_t i = 0; i < size; i++) {
        bool complete;
        int n = fw_cms50f_feed(&s, data[i], out, &k, &complete);
        assert(n == 0 || n == 2);
        if (n == 2) {
            assert(out[0].value >= 35 && out[0].value <= 100);
            assert(out[1].value >= 25 && out[1].value <= 250);
            assert(isnan(out[0].value2) && out[0].device_time == 0);
            readings++;
        }
        assert(s.have <= FW_CMS50F_MAX_PACKET);
    }
    assert(readings * FW_CMS50F_STABLE_PACKETS * 9 <= (long)size);

    int p = fw_cms50_detect(data, size);
    assert(p >= 0 && p <= 2);

    char model[16];
    int m = fw_cms50f_probe_reply(data, size, model, sizeof model);
    assert((m == 0 || m == 1) && strlen(model) < sizeof model);

    static struct fw_cms50f_sample samples[1024];
    struct fw_cms50f_session session;
    long n = fw_cms50f_stored_decode(data, size, &session, samples, 1024);
    assert(n >= 0 && n == session.samples && session.invalid <= n);
    struct fw_cms50f_summary summary;
    size_t kept = n < 1024 ? (size_t)n : 1024;
    int r = fw_cms50f_stored_summary(samples, kept, &session, &summary, out);
    assert(r == 0 || r == 2);
    assert(summary.valid <= summary.samples && summary.samples == (long)kept);
    if (summary.valid > 0)
        assert(summary.spo2_min <= summary.spo2_mean && summary.spo2_mean <= summary.spo2_max);

    uint8_t cmd[FW_CMS50F_CMD_LEN];
    if (size >= 7) {
        size_t len = fw_cms50f_command_args(data[0], data + 1, cmd);
        assert(len == 0 || (len == 9 && cmd[0] == 0x7d && cmd[2] == (data[0] | 0x80)));
        if (len == 9) { /* what is built reads back the same */
            uint8_t c, args[6];
            assert(fw_cms50f_command_parse(cmd, len, &c, args) == 9);
            assert(c == data[0] && memcmp(args, data + 1, 6) == 0);
        }
    }
    for (size_t off = 0; off < size; off++) {
        uint8_t c, args[6];
        int rc = fw_cms50f_command_parse(data + off, size - off, &c, args);
        assert(rc == FW_EINVAL || (rc == 9 && (c & 0x80)));
    }

    /* The driver through a download led by the bytes: a byte below 0x08 in the first position
     * of a chunk is a host action (its low bits: which), else the chunk is the device's. */
    const struct fw_driver *d = fw_driver_find("cms50");
    static uint64_t st[4096];
    assert(d && d->state_size <= sizeof st);
    memset(st, 0, d->state_size);
    struct fw_decoded dec;
    double t = 0;
    uint8_t a1[9];
    fw_cms50f_command(FW_CMS50F_CMD_LIVE_START, a1);
    d->sent(st, a1, 9, t);
    for (size_t off = 0; off < size;) {
        size_t len = 1 + data[off] % 32;
        if (len > size - off)
            len = size - off;
        memset(&dec, 0, sizeof dec);
        t += 0.5;
        if (data[off] < 4) {
            int rc = d->action(st, "download", t, &dec);
            assert(rc == FW_OK || rc == FW_EBUSY || rc == FW_EINVAL);
        } else if (data[off] < 8) {
            double dl = d->deadline(st);
            if (dl >= 0)
                assert(d->timeout(st, dl, &dec) == FW_OK);
        } else {
            assert(d->decode(st, data + off, len, t, &dec) == FW_OK);
        }
        assert(dec.nreadings <= FW_MAX_READINGS && dec.reply_len <= sizeof dec.reply);
        for (size_t i = 0; i < dec.nreadings; i++)
            assert(dec.readings[i].value >= 25 && dec.readings[i].value <= 250);
        if (dec.reply_len)
            d->sent(st, dec.reply, dec.reply_len, t);
        off += len;
    }
    return 0;
}
