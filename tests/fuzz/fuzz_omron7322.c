/* libFuzzer target: what an Omron HEM-7322U / HEM-7131U sends (firmware/proto/omron7322.c):
 * replies parsed at every offset, records and the settings block from every window, commands
 * built and read back, the order of the reads, and the driver through a download led by the
 * bytes (its replies, timeouts, actions and the host's commands). */
#include "../../firmware/proto/omron7322.h"

#include <assert.h>
#include <math.h>
#include <string.h>

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

#define Y2000 946684800LL  /* 2000-01-01: the records' years are 2000 + one byte */
#define Y2256 9025257600LL /* 2256-01-01 */

static void check_reading(const struct fw_reading *r)
{
    assert(r->stored && r->clock_local);
    assert(r->device_time >= Y2000 && r->device_time < Y2256);
    assert(isnan(r->value3));
    if (strcmp(r->kind, "bp") == 0) {
        assert(strcmp(r->unit, "mm[Hg]") == 0);
        assert(r->value >= 40 && r->value <= 300);
        assert(r->value2 >= 20 && r->value2 < r->value);
    } else {
        assert(strcmp(r->kind, "pulse") == 0 && strcmp(r->unit, "/min") == 0);
        assert(r->value >= 25 && r->value <= 250 && isnan(r->value2));
    }
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    char why[160];
    for (size_t off = 0; off < size; off++) {
        struct fw_omron7322_reply r;
        size_t n = size - off;
        why[0] = '\0';
        int rc = fw_omron7322_reply_parse(data + off, n, &r, why, sizeof why);
        assert(rc == 1 || rc == 0 || rc == FW_EINVAL);
        if (rc == FW_EINVAL || rc == 0)
            assert(why[0]);
        if (rc >= 0) {
            assert(r.type == FW_OMRON7322_R_START || r.type == FW_OMRON7322_R_READ ||
                   r.type == FW_OMRON7322_R_END);
            assert(r.data == data + off + 7 && 9 + r.size <= n && n <= FW_OMRON7322_REPORT);
        }
    }

    for (size_t off = 0; off + FW_OMRON7322_RECORD_LEN <= size; off++) {
        struct fw_omron7322_record rec;
        why[0] = '\0';
        int rc = fw_omron7322_record_parse(data + off, &rec, why, sizeof why);
        assert(rc == 1 || rc == 0 || rc == FW_EINVAL);
        if (rc == FW_EINVAL)
            assert(why[0]);
        if (rc == 1) {
            assert(rec.month >= 1 && rec.month <= 12 && rec.day >= 1 && rec.day <= 31);
            assert(rec.hour <= 23 && rec.minute <= 59 && rec.second <= 59);
            struct fw_reading out[2];
            size_t k = fw_omron7322_readings(&rec, out);
            assert(k == 1 || k == 2);
            for (size_t i = 0; i < k; i++)
                check_reading(&out[i]);
        }
    }

    struct fw_omron7322_settings st;
    int rc = fw_omron7322_settings_parse(data, size, 100, &st);
    assert(rc == (size < 4 ? FW_EINVAL : FW_OK));
    if (rc == FW_OK) {
        assert(st.cursor[0] >= -1 && st.cursor[0] < 100 && st.cursor[1] >= -1 &&
               st.cursor[1] < 100);
        if (st.clock_ok)
            assert(st.clock >= Y2000 && st.clock < Y2256);
    }

    /* Commands: built ones read back the same; whatever parses is one of the four. */
    if (size >= 4) {
        struct fw_omron7322_command c = {.kind = (enum fw_omron7322_kind)(data[0] % 6),
                                         .address = (unsigned)(data[1] << 8 | data[2]),
                                         .size = data[3]};
        uint8_t b[FW_OMRON7322_CMD_LEN], again[FW_OMRON7322_CMD_LEN];
        size_t n = fw_omron7322_command(&c, b);
        assert(n == 0 || n == FW_OMRON7322_CMD_LEN);
        if (n) {
            struct fw_omron7322_command back;
            assert(fw_omron7322_command_parse(b, n, &back) == FW_OMRON7322_CMD_LEN);
            assert(back.kind == c.kind);
            assert(fw_omron7322_command(&back, again) == n && memcmp(b, again, n) == 0);
        }
    }
    for (size_t off = 0; off < size; off++) {
        struct fw_omron7322_command c;
        int k = fw_omron7322_command_parse(data + off, size - off, &c);
        assert(k == FW_EINVAL || (k == FW_OMRON7322_CMD_LEN && c.kind >= FW_OMRON7322_START &&
                                  c.kind <= FW_OMRON7322_ABORT));
    }

    /* The order of the reads: every block once, then 0. */
    const struct fw_omron7322_layout *l = size && data[0] & 1 ? &fw_omron7322_m3 : &fw_omron7322_m6;
    int cursor[2] = {size > 1 ? data[1] - 1 : -1, size > 2 ? data[2] - 1 : -1};
    int a = fw_omron7322_next_read(l, cursor, FW_OMRON7322_SETTINGS), steps = 0;
    while (a > 0) {
        assert(a >= (int)l->base[0] && (a - (int)l->base[0]) % FW_OMRON7322_BLOCK == 0);
        a = fw_omron7322_next_read(l, cursor, (unsigned)a);
        assert(++steps <= 70);
    }
    assert(a == 0 && steps == l->users * l->slots * FW_OMRON7322_RECORD_LEN / FW_OMRON7322_BLOCK);

    /* The driver: each chunk is a byte that says what happens and up to 65 bytes after it
     * (selector below 0x08: an action, a timeout, start() or a command from the host; else the
     * bytes are a report from the monitor). */
    const struct fw_driver *d = fw_driver_find("omron-hem7322");
    static struct fw_omron7322 s;
    assert(d && d->state_size == sizeof s);
    memset(&s, 0, sizeof s);
    if (l == &fw_omron7322_m3)
        s.layout = l;
    struct fw_decoded dec;
    double t = 0;
    for (size_t off = 0; off < size;) {
        uint8_t sel = data[off];
        size_t len = 1 + sel % 66;
        if (len > size - off)
            len = size - off;
        const uint8_t *p = data + off + 1;
        size_t plen = len - 1;
        t += 0.25;
        memset(&dec, 0, sizeof dec);
        switch (sel) {
        case 0:
        case 1:
            rc = d->action(&s, sel ? "download" : "erase", t, &dec);
            assert(rc == FW_OK || rc == FW_EBUSY || rc == FW_EINVAL);
            if (rc == FW_EINVAL)
                assert(dec.why[0]);
            break;
        case 2:
        case 3: {
            double dl = d->deadline(&s);
            if (dl >= 0)
                assert(d->timeout(&s, dl > t ? dl : t, &dec) == FW_OK);
            break;
        }
        case 4:
            dec.reply_len = d->start(&s, dec.reply, sizeof dec.reply);
            break;
        case 5:
        case 6:
        case 7:
            d->sent(&s, p, plen, t);
            break;
        default: {
            size_t at = 0, calls = 0;
            for (;;) { /* as the manager: again with the rest while `consumed` says so */
                rc = d->decode(&s, p + at, plen - at, t, &dec);
                assert(rc == FW_OK || rc == FW_EINVAL);
                if (rc == FW_EINVAL)
                    assert(dec.why[0] && dec.nreadings == 0 && !dec.consumed);
                assert(dec.nreadings <= FW_MAX_READINGS);
                for (size_t i = 0; i < dec.nreadings; i++)
                    check_reading(&dec.readings[i]);
                if (dec.device_clock)
                    assert(dec.device_clock_local && dec.device_clock >= Y2000 &&
                           dec.device_clock < Y2256);
                if (!dec.consumed)
                    break;
                assert(dec.consumed < plen - at);
                at += dec.consumed;
                assert(++calls < 64);
                if (dec.reply_len)
                    d->sent(&s, dec.reply, dec.reply_len, t);
                memset(&dec, 0, sizeof dec);
            }
            break;
        }
        }
        assert(dec.nreadings <= FW_MAX_READINGS);
        assert(dec.reply_len == 0 || dec.reply_len == FW_OMRON7322_CMD_LEN);
        for (size_t i = 0; i < dec.nreadings; i++)
            check_reading(&dec.readings[i]);
        if (dec.reply_len)
            d->sent(&s, dec.reply, dec.reply_len, t);
        assert(s.next[0] >= 0 && s.next[0] <= 100 && s.next[1] >= 0 && s.next[1] <= 100);
        off += len;
    }
    return 0;
}
