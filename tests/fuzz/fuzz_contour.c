/* libFuzzer target: what a Contour glucometer sends (firmware/proto/contour.c): reports,
 * records parsed at every offset, and the driver through a conversation led by the bytes,
 * both as whole reports of its own making and as raw reports that may be foreign. */
#include "../../firmware/proto/contour.h"

#include <assert.h>
#include <math.h>
#include <string.h>

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

static void check(const struct fw_decoded *d, int rc)
{
    assert(rc == FW_OK || rc == FW_EINVAL);
    if (rc == FW_EINVAL) { /* refused: a reason, and nothing else */
        assert(d->why[0] && strlen(d->why) < sizeof d->why);
        assert(d->nreadings == 0 && d->reply_len == 0 && !d->device_clock);
        return;
    }
    assert(d->nreadings <= FW_MAX_READINGS);
    for (size_t i = 0; i < d->nreadings; i++) {
        const struct fw_reading *r = &d->readings[i];
        assert(strcmp(r->kind, "glucose") == 0 && strcmp(r->unit, "mmol/L") == 0);
        assert(r->value >= 0.5 && r->value <= 50);
        assert(isnan(r->value2) && isnan(r->value3));
        assert(r->stored && r->clock_local);
        /* 2000-01-01 .. 2099-12-31 23:59:59, as if UTC */
        assert(r->device_time >= 946684800LL && r->device_time <= 4102444799LL);
    }
    if (d->device_clock) {
        assert(d->device_clock_local);
        assert(d->device_clock >= 946684800LL && d->device_clock <= 4102444799LL);
    }
    /* an answer is one output report: ABC, 1, ACK or NAK, zeros */
    assert(d->reply_len == 0 || d->reply_len == FW_CONTOUR_REPORT);
    if (d->reply_len) {
        assert(memcmp(d->reply, "ABC\x01", 4) == 0);
        assert(d->reply[4] == FW_CONTOUR_ACK || d->reply[4] == FW_CONTOUR_NAK ||
               d->reply[4] == FW_CONTOUR_EOT);
        for (size_t i = 5; i < FW_CONTOUR_REPORT; i++)
            assert(d->reply[i] == 0);
    }
    if (d->status)
        assert(strlen(d->status) < 224);
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    /* The record parsers on every line of the input (split at CR), as a header and a result. */
    struct fw_contour_delims dl = {'|', '\\', '^', '&'};
    for (size_t a = 0; a < size;) {
        size_t b = a;
        while (b < size && data[b] != '\r')
            b++;
        const char *rec = (const char *)data + a;
        struct fw_contour_header h;
        if (fw_contour_header_parse(rec, b - a, &h) == FW_OK) {
            assert(strlen(h.product) < sizeof h.product && strlen(h.serial) < sizeof h.serial);
            assert(h.d.field != h.d.component);
            dl = h.d;
        }
        struct fw_contour_result r;
        int rc = fw_contour_result_parse(rec, b - a, &dl, &r);
        assert(rc == FW_OK || rc == FW_EINVAL);
        if (rc == FW_OK && r.kind == FW_CONTOUR_GLUCOSE)
            assert(r.value_mmol >= 0.5 && r.value_mmol <= 50 && r.time > 0);
        if (rc == FW_OK && r.kind == FW_CONTOUR_BAD)
            assert(r.why[0]);
        long long t;
        if (fw_contour_datetime(rec, b - a, &t) == FW_OK)
            assert(t >= 946684800LL && t <= 4102444799LL);
        a = b + 1;
    }

    /* The driver: the first byte of each chunk leads. Below 0x08 the host speaks or time
     * passes; otherwise the chunk is the meter's data, put in a report of the right form
     * (bit 0x80 of the lead set) or passed as the raw report it is. */
    const struct fw_driver *drv = fw_driver_find("contour");
    static uint64_t st[(sizeof(struct fw_contour) + 7) / 8 + 1];
    assert(drv && drv->state_size <= sizeof st);
    memset(st, 0, drv->state_size);
    struct fw_decoded d;
    double now = 0;
    uint8_t hello[FW_CONTOUR_REPORT];
    size_t hn = drv->start(st, hello, sizeof hello);
    assert(hn == FW_CONTOUR_REPORT);
    drv->sent(st, hello, hn, now);
    long readings = 0;
    for (size_t off = 0; off < size;) {
        uint8_t lead = data[off++];
        size_t len = lead & 0x3f;
        if (len > size - off)
            len = size - off;
        memset(&d, 0, sizeof d);
        now += (lead & 0x40) ? 0.6 : 0.01;
        int rc = FW_OK;
        if (lead < 4) {
            rc = drv->action(st, "download", now, &d);
            assert(rc == FW_OK || rc == FW_EBUSY);
            if (rc == FW_EBUSY)
                rc = FW_OK;
            else
                drv->sent(st, d.reply, d.reply_len, now);
        } else if (lead < 8) {
            double dl = drv->deadline(st);
            if (dl >= 0)
                rc = drv->timeout(st, dl > now ? dl : now, &d);
            if (dl > now)
                now = dl;
        } else if (lead & 0x80) {
            uint8_t rep[FW_CONTOUR_REPORT];
            size_t k = len > FW_CONTOUR_PAYLOAD ? FW_CONTOUR_PAYLOAD : len;
            assert(fw_contour_report_make(data + off, k, rep, sizeof rep) == FW_CONTOUR_REPORT);
            rc = drv->decode(st, rep, sizeof rep, now, &d);
            assert(rc == FW_OK); /* a report of the right form is never refused */
            len = k;
        } else {
            rc = drv->decode(st, data + off, len, now, &d);
        }
        check(&d, rc);
        readings += (long)d.nreadings;
        if (d.reply_len) /* the manager tells the driver what it sent */
            drv->sent(st, d.reply, d.reply_len, now);
        off += len;
    }
    /* every reading needs a frame of at least "R|||Glucose|1|mg/dL" and its frame's 7 bytes */
    assert(readings * 20 <= (long)size + 20);
    return 0;
}
