/* libFuzzer target: what an Omron HEM-790IT family monitor sends (firmware/proto/omron790.c):
 * replies gathered from input reports, records, counts, versions and clocks parsed at every
 * offset, commands built and read back, and the driver through a download whose replies,
 * host commands, timeouts and actions come from the bytes. */
#include "../../firmware/proto/omron790.h"

#include <assert.h>
#include <math.h>
#include <string.h>

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

static void check_readings(const struct fw_decoded *d)
{
    assert(d->nreadings == 0 || d->nreadings == 2);
    for (size_t i = 0; i < d->nreadings; i++) {
        const struct fw_reading *r = &d->readings[i];
        assert(r->stored && r->clock_local && isnan(r->value3));
        /* 2000-01-01 to 2099-12-31 23:59:59, as if UTC */
        assert(r->device_time >= 946684800LL && r->device_time <= 4102444799LL);
        if (strcmp(r->kind, "bp") == 0) {
            assert(r->value >= 40 && r->value <= 300);
            assert(r->value2 >= 20 && r->value2 < r->value);
        } else {
            assert(strcmp(r->kind, "pulse") == 0);
            assert(r->value >= 25 && r->value <= 250 && isnan(r->value2));
        }
    }
}

/* What a call gave: readings within their limits, whole reports, sent as the manager would. */
static void after(const struct fw_driver *d, void *st, const struct fw_decoded *dec, double t)
{
    check_readings(dec);
    assert(dec->reply_len <= sizeof dec->reply && dec->reply_len % FW_OMRON790_REPORT == 0);
    if (dec->reply_len)
        d->sent(st, dec->reply, dec->reply_len, t);
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    char why[160];
    for (size_t off = 0; off < size; off++) {
        const uint8_t *p = data + off;
        size_t n = size - off;
        if (off && p[0] != 'O' && p[0] != 'N' && p[0] != 'G' && p[0] != 'E')
            continue; /* replies start "OK", "NO", "OFF"; commands "G..", "END" */
        struct fw_omron790_record r;
        /* the lengths of the replies there are (a record, VER00, GDC, a clock, NO, OFF), the
         * empty one, and the rest of the input */
        const size_t lens[] = {0, 2, 5, 8, 10, 11, 15, 17, n < 32 ? n : 32};
        for (size_t j = 0; j < sizeof lens / sizeof lens[0]; j++) {
            size_t len = lens[j];
            if (len > n)
                continue;
            why[0] = '\0';
            int rc = fw_omron790_record_parse(p, len, &r, why, sizeof why);
            assert(rc == FW_OK || (rc == FW_EINVAL && why[0]));
            if (rc == FW_OK) {
                assert(len == FW_OMRON790_RECORD_REPLY);
                assert(r.month >= 1 && r.month <= 12 && r.day >= 1 && r.day <= 31);
                assert(r.hour < 24 && r.minute < 60 && r.second < 60 && r.truread <= 3);
                struct fw_decoded d = {0};
                d.nreadings = (size_t)fw_omron790_readings(&r, d.readings);
                check_readings(&d);
            }
            int count = -1;
            rc = fw_omron790_count_parse(p, len, &count, why, sizeof why);
            assert(rc == FW_EINVAL || (rc == FW_OK && count >= 0 && count <= 255));
            char model[8];
            rc = fw_omron790_version_parse(p, len, model, sizeof model);
            assert(rc == FW_EINVAL || (rc == FW_OK && strlen(model) < sizeof model));
            long long wall = 0;
            rc = fw_omron790_clock_parse(p, len, &wall);
            assert(rc == FW_EINVAL || (wall >= 946684800LL && wall <= 4102444799LL));
            enum fw_omron790_reply kind = fw_omron790_reply_kind(p, len);
            assert(kind >= FW_OMRON790_R_GARBLED && kind <= FW_OMRON790_R_OFF);
            struct fw_omron790_command c;
            rc = fw_omron790_command_parse(p, len, &c);
            assert(rc == FW_EINVAL ||
                   (c.cmd >= FW_OMRON790_CLEAR && c.cmd <= FW_OMRON790_OTHER && c.bank >= 0 &&
                    c.bank <= 255 && c.index >= 0 && c.index <= 255));
        }
    }

    /* Replies gathered report by report. */
    struct fw_omron790_rx rx = {0};
    for (size_t off = 0; off + FW_OMRON790_REPORT <= size; off += FW_OMRON790_REPORT) {
        if (fw_omron790_rx_feed(&rx, data + off, data[off] % 20, why, sizeof why) ==
            FW_OMRON790_RX_DONE) {
            rx.len = 0;
            rx.bad = false;
        }
        assert(rx.len <= FW_OMRON790_MAX_REPLY);
    }

    /* Commands built from the bytes read back the same. */
    if (size >= 3) {
        struct fw_omron790_command in = {.cmd = (enum fw_omron790_cmd)(data[0] % 12),
                                         .bank = data[1],
                                         .index = data[2]},
                                   back;
        uint8_t b[32], reports[48];
        size_t n = fw_omron790_command(&in, b, sizeof b);
        if (n) {
            assert(fw_omron790_command_parse(b, n, &back) == FW_OK && back.cmd == in.cmd);
            if (in.cmd == FW_OMRON790_GME || in.cmd == FW_OMRON790_GMA ||
                in.cmd == FW_OMRON790_GEA || in.cmd == FW_OMRON790_GDC)
                assert(back.bank == in.bank);
            if (in.cmd == FW_OMRON790_GME || in.cmd == FW_OMRON790_GMA || in.cmd == FW_OMRON790_GEA)
                assert(back.index == in.index);
            size_t m = fw_omron790_command_reports(&in, reports, sizeof reports);
            assert(m % FW_OMRON790_REPORT == 0 && m >= n);
        }
    }

    /* The driver, led by the bytes: each chunk is a selector byte and (1 + selector % 4) reports
     * after it: an action (selector 0-3), a timeout (4-7), reports the host sent (8-15), or
     * reports from the monitor (16-255). */
    const struct fw_driver *d = fw_driver_find("omron-hem790");
    static struct fw_omron790 st;
    assert(d && d->state_size == sizeof st);
    memset(&st, 0, sizeof st);
    struct fw_decoded dec;
    uint8_t hello[64];
    size_t h = d->start(&st, hello, sizeof hello);
    assert(h == 40);
    d->sent(&st, hello, h, 0);
    double t = 0;
    for (size_t off = 0; off < size;) {
        uint8_t sel = data[off++];
        size_t len = (size_t)(1 + sel % 4) * FW_OMRON790_REPORT;
        if (len > size - off)
            len = size - off;
        const uint8_t *p = data + off;
        t += 0.25;
        memset(&dec, 0, sizeof dec);
        if (sel < 4) {
            int rc = d->action(&st, sel & 1 ? "download" : "erase", t, &dec);
            assert(rc == FW_OK || rc == FW_EBUSY || (rc == FW_EINVAL && dec.why[0]));
            after(d, &st, &dec, t);
            len = 0;
        } else if (sel < 8) {
            double dl = d->deadline(&st);
            if (dl >= 0)
                assert(d->timeout(&st, dl, &dec) == FW_OK);
            after(d, &st, &dec, t);
            len = 0;
        } else if (sel < 0x10) {
            if (len)
                d->sent(&st, p, len, t);
        } else if (len) {
            for (size_t at = 0; at < len;) {
                memset(&dec, 0, sizeof dec);
                int rc = d->decode(&st, p + at, len - at, t, &dec);
                assert(rc == FW_OK || (rc == FW_EINVAL && dec.why[0]));
                after(d, &st, &dec, t);
                if (rc != FW_OK || !dec.consumed)
                    break;
                at += dec.consumed;
            }
        }
        assert(st.rx.len <= FW_OMRON790_MAX_REPLY && st.txlen <= sizeof st.tx);
        assert(st.tries >= 0 && st.tries <= FW_OMRON790_TRIES);
        off += len;
    }
    return 0;
}
