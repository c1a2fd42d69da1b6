/* Device protocol decoders on byte vectors: HID POS scale reports, CMS50 live packets, and
 * capture files. The vectors follow the published protocols (firmware/doc/); none is a
 * recording from hardware yet. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>

#include <cmocka.h>
#include <math.h>
#include <string.h>

#include "fw_device.h"

static void scale_reports(void **state)
{
    (void)state;
    struct fw_scale_report r;
    /* 62.4 kg: unit kg, exponent -1, raw 624 = 0x0270. */
    static const uint8_t kg[] = {0x03, 0x04, 0x03, 0xff, 0x70, 0x02};
    assert_int_equal(fw_hidpos_parse(kg, sizeof kg, &r), FW_OK);
    assert_int_equal(r.status, FW_SCALE_STABLE);
    assert_int_equal(r.raw, 624);
    assert_int_equal(r.exponent, -1);
    assert_true(fabs(r.kg - 62.4) < 1e-9);
    /* 1250 g. */
    static const uint8_t g[] = {0x03, 0x04, 0x02, 0x00, 0xe2, 0x04};
    assert_int_equal(fw_hidpos_parse(g, sizeof g, &r), FW_OK);
    assert_true(fabs(r.kg - 1.25) < 1e-9);
    /* 13.7 lb (DYMO in pounds: exponent -1). */
    static const uint8_t lb[] = {0x03, 0x04, 0x0c, 0xff, 0x89, 0x00};
    assert_int_equal(fw_hidpos_parse(lb, sizeof lb, &r), FW_OK);
    assert_true(fabs(r.kg - 13.7 * 0.45359237) < 1e-9);
    /* 35.2 oz. */
    static const uint8_t oz[] = {0x03, 0x04, 0x0b, 0xff, 0x60, 0x01};
    assert_int_equal(fw_hidpos_parse(oz, sizeof oz, &r), FW_OK);
    assert_true(fabs(r.kg - 35.2 * 0.028349523125) < 1e-9);
    /* Every status 1-8 parses; 0 and 9 do not. */
    for (int st = 0; st <= 9; st++) {
        uint8_t x[] = {0x03, (uint8_t)st, 0x03, 0x00, 0x00, 0x00};
        assert_int_equal(fw_hidpos_parse(x, sizeof x, &r), st >= 1 && st <= 8 ? FW_OK : FW_EINVAL);
    }
    /* Wrong report id, short report, unknown unit, absurd exponent. */
    static const uint8_t id4[] = {0x04, 0x04, 0x03, 0x00, 0x01, 0x00};
    static const uint8_t unit9[] = {0x03, 0x04, 0x09, 0x00, 0x01, 0x00};
    static const uint8_t exp[] = {0x03, 0x04, 0x03, 0x40, 0x01, 0x00};
    assert_int_equal(fw_hidpos_parse(id4, sizeof id4, &r), FW_EINVAL);
    assert_int_equal(fw_hidpos_parse(kg, 5, &r), FW_EINVAL);
    assert_int_equal(fw_hidpos_parse(NULL, 0, &r), FW_EINVAL);
    assert_int_equal(fw_hidpos_parse(unit9, sizeof unit9, &r), FW_EINVAL);
    assert_int_equal(fw_hidpos_parse(exp, sizeof exp, &r), FW_EINVAL);
}

static void scale_stream(void **state)
{
    (void)state;
    struct fw_scale s = {0};
    struct fw_reading out;
    enum fw_scale_status st;
    static const uint8_t stale[] = {0x03, 0x04, 0x03, 0xff, 0x10, 0x02}; /* 52.8: old */
    static const uint8_t zero[] = {0x03, 0x02, 0x03, 0xff, 0x00, 0x00};
    static const uint8_t moving[] = {0x03, 0x03, 0x03, 0xff, 0x00, 0x02};
    static const uint8_t w624[] = {0x03, 0x04, 0x03, 0xff, 0x70, 0x02};
    static const uint8_t over[] = {0x03, 0x06, 0x03, 0xff, 0xff, 0xff};
    static const uint8_t garbage[] = {0x01, 0x02};
    /* The first report after opening is stale, even a stable one. */
    assert_int_equal(fw_hidpos_feed(&s, stale, 6, &out, &st), 0);
    assert_int_equal(st, FW_SCALE_STABLE);
    assert_int_equal(fw_hidpos_feed(&s, zero, 6, &out, &st), 0);
    assert_int_equal(fw_hidpos_feed(&s, moving, 6, &out, &st), 0);
    assert_int_equal(st, FW_SCALE_MOTION);
    /* Settles: one reading, however many stable reports follow. */
    assert_int_equal(fw_hidpos_feed(&s, w624, 6, &out, NULL), 1);
    assert_string_equal(out.kind, "weight");
    assert_string_equal(out.unit, "kg");
    assert_true(fabs(out.value - 62.4) < 1e-9);
    for (int i = 0; i < 5; i++)
        assert_int_equal(fw_hidpos_feed(&s, w624, 6, &out, NULL), 0);
    /* Garbage changes nothing. */
    assert_int_equal(fw_hidpos_feed(&s, garbage, 2, &out, NULL), FW_EINVAL);
    assert_int_equal(fw_hidpos_feed(&s, w624, 6, &out, NULL), 0);
    /* Over capacity is no reading. */
    assert_int_equal(fw_hidpos_feed(&s, over, 6, &out, &st), 0);
    assert_int_equal(st, FW_SCALE_OVER);
    /* The next person of the same weight: the scale went back to zero between them. */
    assert_int_equal(fw_hidpos_feed(&s, zero, 6, &out, NULL), 0);
    assert_int_equal(fw_hidpos_feed(&s, moving, 6, &out, NULL), 0);
    assert_int_equal(fw_hidpos_feed(&s, w624, 6, &out, NULL), 1);
}

/* A CMS50 live packet for SpO2 and pulse with the given flags in byte 0 and byte 2. */
static void packet(uint8_t out[5], int spo2, int pulse, uint8_t b0, uint8_t b2)
{
    out[0] = (uint8_t)(0x80 | b0);
    out[1] = 0x40; /* waveform */
    out[2] = (uint8_t)(b2 | ((pulse & 0x80) >> 1));
    out[3] = (uint8_t)(pulse & 0x7f);
    out[4] = (uint8_t)(spo2 & 0x7f);
}

static int feed_packet(struct fw_cms50 *s, const uint8_t p[5], struct fw_reading out[2])
{
    int got = 0;
    for (int i = 0; i < 5; i++) {
        int n = fw_cms50_feed(s, p[i], out, NULL, NULL);
        assert_true(n == 0 || n == 2);
        got += n;
    }
    return got;
}

static void cms50_packets(void **state)
{
    (void)state;
    struct fw_cms50_packet k;
    /* atbrask's layout: pulse 135 has its bit 7 in byte 2 bit 6. */
    static const uint8_t p135[] = {0x8f, 0x3a, 0x45, 0x07, 0x61};
    assert_int_equal(fw_cms50_parse(p135, &k), FW_OK);
    assert_int_equal(k.signal, 15);
    assert_int_equal(k.pleth, 0x3a);
    assert_int_equal(k.bar, 5);
    assert_int_equal(k.pulse, 135);
    assert_int_equal(k.spo2, 97);
    assert_false(k.finger_out || k.searching || k.probe_error);
    /* Finger out, searching (pulse 255, SpO2 127). */
    static const uint8_t search[] = {0x90, 0x00, 0x60, 0x7f, 0x7f};
    assert_int_equal(fw_cms50_parse(search, &k), FW_OK);
    assert_true(k.finger_out && k.searching);
    assert_int_equal(k.pulse, 255);
    assert_int_equal(k.spo2, 127);
    /* Sync bits wrong. */
    static const uint8_t nosync[] = {0x0f, 0x3a, 0x45, 0x07, 0x61};
    static const uint8_t twosync[] = {0x8f, 0xba, 0x45, 0x07, 0x61};
    assert_int_equal(fw_cms50_parse(nosync, &k), FW_EINVAL);
    assert_int_equal(fw_cms50_parse(twosync, &k), FW_EINVAL);
}

static void cms50_stream(void **state)
{
    (void)state;
    struct fw_cms50 s = {0};
    struct fw_reading out[2];
    uint8_t p[5];
    /* Noise before the first start byte is skipped. */
    assert_int_equal(fw_cms50_feed(&s, 0x12, out, NULL, NULL), 0);
    assert_int_equal(fw_cms50_feed(&s, 0x34, out, NULL, NULL), 0);
    assert_int_equal(s.dropped, 2);
    /* Searching: no readings however long. */
    for (int i = 0; i < 300; i++) {
        packet(p, 127, 255, 0x00, 0x20);
        assert_int_equal(feed_packet(&s, p, out), 0);
    }
    /* Valid but wandering values: no reading until they hold. */
    for (int i = 0; i < 100; i++) {
        packet(p, 90 + i % 8, 80, 0x05, 0x03);
        assert_int_equal(feed_packet(&s, p, out), 0);
    }
    /* Held within 1 % / 3 per min: one reading after FW_CMS50_STABLE_PACKETS packets. */
    int given = 0, at = -1;
    for (int i = 0; i < 400; i++) {
        packet(p, 97 + i % 2, 72 + i % 3, 0x05, 0x03);
        if (feed_packet(&s, p, out) == 2) {
            given++;
            at = i;
        }
    }
    assert_int_equal(given, 1);
    assert_int_equal(at, FW_CMS50_STABLE_PACKETS - 1);
    assert_string_equal(out[0].kind, "spo2");
    assert_string_equal(out[0].unit, "%");
    assert_true(out[0].value == 97 || out[0].value == 98);
    assert_string_equal(out[1].kind, "pulse");
    assert_string_equal(out[1].unit, "/min");
    assert_true(out[1].value >= 72 && out[1].value <= 74);
    /* A lost byte costs one packet; the decoder finds the next start. */
    long before = s.packets;
    packet(p, 97, 72, 0x05, 0x03);
    for (int i = 0; i < 4; i++) /* the last byte is lost */
        fw_cms50_feed(&s, p[i], out, NULL, NULL);
    feed_packet(&s, p, out);
    assert_int_equal(s.packets, before + 1);
    /* Finger out, then in again: a new measurement. */
    packet(p, 127, 255, 0x10, 0x20);
    feed_packet(&s, p, out);
    given = 0;
    for (int i = 0; i < FW_CMS50_STABLE_PACKETS; i++) {
        packet(p, 94, 101, 0x05, 0x03);
        given += feed_packet(&s, p, out) == 2;
    }
    assert_int_equal(given, 1);
    assert_true(out[0].value == 94 && out[1].value == 101);
    /* Out-of-range values (a probe on the table) are not readings. */
    struct fw_cms50 t = {0};
    for (int i = 0; i < 400; i++) {
        packet(p, 20, 300 & 0xff, 0x05, 0x03);
        assert_int_equal(feed_packet(&t, p, out), 0);
    }
}

static void captures(void **state)
{
    (void)state;
    struct fw_capture c;
    char err[200];
    static const char ok[] = "# device: hidpos-scale\n"
                             "# model: DYMO M10\n"
                             "# transport: usb-hid\n"
                             "# who: test\n"
                             "\n"
                             "@0.000 < 03 02 03 ff 00 00\r\n"
                             "@0.250 < 03 04 03 FF 70 02\n"
                             "> f5 f5\n"
                             "  < 80 00 00 00 00";
    assert_int_equal(fw_capture_parse(ok, sizeof ok - 1, &c, err, sizeof err), FW_OK);
    assert_string_equal(c.device, "hidpos-scale");
    assert_string_equal(c.model, "DYMO M10");
    assert_string_equal(c.transport, "usb-hid");
    assert_int_equal(c.nframes, 4);
    assert_false(c.frames[0].to_device);
    assert_true(c.frames[0].at == 0.0);
    assert_true(c.frames[1].at == 0.25);
    assert_int_equal(c.frames[1].len, 6);
    assert_memory_equal(c.frames[1].data, "\x03\x04\x03\xff\x70\x02", 6);
    assert_true(c.frames[2].to_device);
    assert_true(c.frames[2].at < 0);
    assert_int_equal(c.frames[3].len, 5);
    fw_capture_free(&c);
    static const struct {
        const char *text, *why;
    } bad[] = {
        {"< 0g\n", "line 1: expected hex pairs"},
        {"# x\n< 012\n", "line 2: expected hex pairs"},
        {"< 01 02\n03 04\n", "line 2: a frame starts with <"},
        {"@1 < 01\n@0.5 < 02\n", "line 2: time goes backwards"},
        {"@x < 01\n", "line 1: @ needs seconds"},
        {"@-1 < 01\n", "line 1: @ needs seconds"},
        {"<\n", "line 1: a frame with no bytes"},
        {"< 0102\n", "line 1: expected hex pairs"},
    };
    for (size_t i = 0; i < sizeof bad / sizeof bad[0]; i++) {
        err[0] = '\0';
        assert_int_equal(fw_capture_parse(bad[i].text, strlen(bad[i].text), &c, err, sizeof err),
                         FW_EINVAL);
        if (strncmp(err, bad[i].why, strlen(bad[i].why)) != 0)
            fail_msg("\"%s\": %s", bad[i].text, err);
        assert_int_equal(c.nframes, 0);
    }
    /* A frame longer than the limit, and a NUL byte. */
    static char big[3 * (FW_CAPTURE_MAX_FRAME + 1) + 4];
    strcpy(big, "<");
    for (int i = 0; i <= FW_CAPTURE_MAX_FRAME; i++)
        strcat(big, " 00");
    assert_int_equal(fw_capture_parse(big, strlen(big), &c, err, sizeof err), FW_EINVAL);
    assert_non_null(strstr(err, "longer than"));
    assert_int_equal(fw_capture_parse("< 01\0 02\n", 9, &c, err, sizeof err), FW_EINVAL);
    assert_non_null(strstr(err, "NUL"));
    /* Empty is a capture with no frames. */
    assert_int_equal(fw_capture_parse("", 0, &c, err, sizeof err), FW_OK);
    assert_int_equal(c.nframes, 0);
    fw_capture_free(&c);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(scale_reports), cmocka_unit_test(scale_stream),
        cmocka_unit_test(cms50_packets), cmocka_unit_test(cms50_stream),
        cmocka_unit_test(captures),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
