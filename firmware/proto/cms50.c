/* Contec CMS50 pulse oximeters, older firmware: 5-byte live packets at 19200 8O1. Pure. */
#include "fw_device.h"

#include <math.h>

#include <stdlib.h>

int fw_cms50_parse(const uint8_t p[5], struct fw_cms50_packet *out)
{
    if (!(p[0] & 0x80) || (p[1] & 0x80) || (p[2] & 0x80) || (p[3] & 0x80) || (p[4] & 0x80))
        return FW_EINVAL;
    out->signal = p[0] & 0x0f;
    out->finger_out = p[0] & 0x10;
    out->dropping = p[0] & 0x20;
    out->beep = p[0] & 0x40;
    out->pleth = p[1] & 0x7f;
    out->bar = p[2] & 0x0f;
    out->probe_error = p[2] & 0x10;
    out->searching = p[2] & 0x20;
    out->pulse = (p[2] & 0x40) << 1 | (p[3] & 0x7f);
    out->spo2 = p[4] & 0x7f;
    return FW_OK;
}

static bool valid(const struct fw_cms50_packet *k)
{
    return !k->finger_out && !k->searching && !k->probe_error && k->spo2 >= 35 && k->spo2 <= 100 &&
           k->pulse >= 25 && k->pulse <= 250;
}

int fw_cms50_feed(struct fw_cms50 *s, uint8_t byte, struct fw_reading out[2],
                  struct fw_cms50_packet *packet, bool *complete)
{
    struct fw_cms50_packet k;
    if (complete)
        *complete = false;
    if (byte & 0x80) { /* a packet starts here */
        if (s->have > 0)
            s->dropped += s->have; /* the one before was cut short */
        s->buf[0] = byte;
        s->have = 1;
        return 0;
    }
    if (s->have == 0) { /* no start seen yet */
        s->dropped++;
        return 0;
    }
    s->buf[s->have++] = byte;
    if (s->have < 5)
        return 0;
    s->have = 0;
    if (fw_cms50_parse(s->buf, &k) != FW_OK)
        return 0;
    s->packets++;
    if (packet)
        *packet = k;
    if (complete)
        *complete = true;
    if (k.finger_out) { /* the next finger is a new measurement */
        s->given = false;
        s->run = 0;
        return 0;
    }
    if (!valid(&k)) {
        s->run = 0;
        return 0;
    }
    if (s->run > 0 && abs(k.spo2 - s->run_spo2) <= 1 && abs(k.pulse - s->run_pulse) <= 3) {
        s->run++;
    } else {
        s->run = 1;
        s->run_spo2 = k.spo2;
        s->run_pulse = k.pulse;
    }
    if (s->given || s->run < FW_CMS50_STABLE_PACKETS)
        return 0;
    s->given = true;
    out[0] = (struct fw_reading){
        .kind = "spo2", .unit = "%", .value = k.spo2, .value2 = NAN, .value3 = NAN};
    out[1] = (struct fw_reading){
        .kind = "pulse", .unit = "/min", .value = k.pulse, .value2 = NAN, .value3 = NAN};
    return 2;
}
