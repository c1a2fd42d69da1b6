/* The newer CMS50 protocol (115200 8N1) on byte vectors. Vectors marked "headrotor" are the
 * CMS50D+ replies logged in headrotor/contec_data (stream_data.py), "OSCAR" the example
 * replies in OSCAR's cms50f37 loader comments, "MarkMLl" the live packet in
 * MarkMLl/Contec_cms50dplus; the others are built from the published layout
 * (firmware/doc/cms50.md). None is our own recording from hardware. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>

#include <cmocka.h>
#include <math.h>
#include <string.h>

#include "../../firmware/proto/cms50f.h"

#define LEN(a) (sizeof(a) / sizeof((a)[0]))

static void commands(void **state)
{
    (void)state;
    uint8_t out[FW_CMS50F_CMD_LEN];
    static const uint8_t live[] = {0x7d, 0x81, 0xa1, 0x80, 0x80, 0x80, 0x80, 0x80, 0x80};
    static const uint8_t model[] = {0x7d, 0x81, 0xa8, 0x80, 0x80, 0x80, 0x80, 0x80, 0x80};
    static const uint8_t stop[] = {0x7d, 0x81, 0xa2, 0x80, 0x80, 0x80, 0x80, 0x80, 0x80};
    assert_int_equal(fw_cms50f_command(FW_CMS50F_CMD_LIVE_START, out), 9);
    assert_memory_equal(out, live, 9);
    assert_int_equal(fw_cms50f_command(FW_CMS50F_CMD_MODEL, out), 9);
    assert_memory_equal(out, model, 9);
    assert_int_equal(fw_cms50f_command(FW_CMS50F_CMD_LIVE_STOP, out), 9);
    assert_memory_equal(out, stop, 9);
    /* Every command byte has bit 7 set; 0x21 is not a command. */
    memset(out, 0x55, sizeof out);
    assert_int_equal(fw_cms50f_command(0x21, out), 0);
    assert_int_equal(out[0], 0x55);
    /* OSCAR's erase: user in byte 3, session in byte 4. */
    static const uint8_t erase_args[6] = {1, 3};
    static const uint8_t erase[] = {0x7d, 0x81, 0xae, 0x81, 0x83, 0x80, 0x80, 0x80, 0x80};
    assert_int_equal(fw_cms50f_command_args(FW_CMS50F_CMD_SESSION_ERASE, erase_args, out), 9);
    assert_memory_equal(out, erase, 9);
    /* OSCAR's clock: century, year, month, day, weekday (2026-11-22 is a Sunday, 0). */
    static const uint8_t date_args[6] = {20, 26, 11, 22, 0};
    static const uint8_t date[] = {0x7d, 0x81, 0xb2, 0x94, 0x9a, 0x8b, 0x96, 0x80, 0x80};
    assert_int_equal(fw_cms50f_command_args(FW_CMS50F_CMD_SET_DATE, date_args, out), 9);
    assert_memory_equal(out, date, 9);
    /* An argument with bit 7 set travels in the high-bit byte (bit 1: byte 3). */
    static const uint8_t high_args[6] = {0x85};
    static const uint8_t high[] = {0x7d, 0x83, 0xa6, 0x85, 0x80, 0x80, 0x80, 0x80, 0x80};
    assert_int_equal(fw_cms50f_command_args(FW_CMS50F_CMD_SESSION_DATA, high_args, out), 9);
    assert_memory_equal(out, high, 9);
    /* encode: too long, no room, a type with bit 7 set. */
    uint8_t big[16], payload[8] = {0};
    assert_int_equal(fw_cms50f_encode(0x01, payload, 8, big, sizeof big), 0);
    assert_int_equal(fw_cms50f_encode(0x01, payload, 7, big, 8), 0);
    assert_int_equal(fw_cms50f_encode(0x81, payload, 7, big, sizeof big), 0);
    assert_int_equal(fw_cms50f_encode(0x0c, NULL, 0, big, sizeof big), 2);
    assert_int_equal(big[0], 0x0c);
    assert_int_equal(big[1], 0x80);
}

static void parse_ok(const uint8_t *p, size_t n, struct fw_cms50f_packet *k)
{
    int rc = fw_cms50f_parse(p, n, k);
    if (rc != (int)n)
        fail_msg("parse %02x.. (%zu bytes): %d", p[0], n, rc);
}

static void live_packets(void **state)
{
    (void)state;
    struct fw_cms50f_packet k;
    /* headrotor: a CMS50D+ (115200 firmware) with a finger in. */
    static const uint8_t hr[] = {0x01, 0xe0, 0x85, 0xb3, 0x96, 0xc1, 0xe1, 0xff, 0xff};
    parse_ok(hr, sizeof hr, &k);
    assert_int_equal(k.type, FW_CMS50F_LIVE);
    assert_int_equal(k.len, 9);
    assert_int_equal(k.live.signal, 5);
    assert_int_equal(k.live.pleth, 0x33);
    assert_int_equal(k.live.bar, 6);
    assert_false(k.live.pi_valid);
    assert_int_equal(k.live.pulse, 65);
    assert_int_equal(k.live.spo2, 97);
    assert_int_equal(k.live.pi, 0xffff);
    assert_false(k.live.finger_out || k.live.searching || k.live.search_long || k.live.beep);
    /* MarkMLl's "nominal operation" packet. */
    static const uint8_t mm[] = {0x01, 0xe0, 0x85, 0xd5, 0x9a, 0xbd, 0xe3, 0xff, 0xff};
    parse_ok(mm, sizeof mm, &k);
    assert_int_equal(k.live.pleth, 85);
    assert_int_equal(k.live.bar, 10);
    assert_int_equal(k.live.pulse, 61);
    assert_int_equal(k.live.spo2, 99);
    /* headrotor's E1 and E2 (pulse and SpO2 not valid): bit 0 finger out, bit 1 searching. */
    static const uint8_t e1[] = {0x01, 0xe1, 0x80, 0xc0, 0x90, 0xff, 0xff, 0xff, 0xff};
    parse_ok(e1, sizeof e1, &k);
    assert_true(k.live.finger_out);
    assert_false(k.live.searching);
    assert_int_equal(k.live.pleth, 64);
    static const uint8_t e2[] = {0x01, 0xe2, 0x80, 0xc0, 0x90, 0xff, 0xff, 0xff, 0xff};
    parse_ok(e2, sizeof e2, &k);
    assert_false(k.live.finger_out);
    assert_true(k.live.searching);
    assert_int_equal(k.live.pleth, 64);
    assert_int_equal(k.live.pulse, 127);
    /* Flags of byte 2: beep (6), dropping (5), searching too long (4). */
    static const uint8_t flags[] = {0x01, 0x80, 0xf3, 0xb3, 0x96, 0xc1, 0xe1, 0x80, 0x80};
    parse_ok(flags, sizeof flags, &k);
    assert_true(k.live.beep && k.live.dropping && k.live.search_long);
    assert_int_equal(k.live.signal, 3);
    assert_int_equal(k.live.pi, 0);
    /* The perfusion index, little-endian, valid when byte 4 bit 4 is clear: 0x0105. */
    static const uint8_t pi[] = {0x01, 0x80, 0x85, 0xb3, 0x86, 0xc1, 0xe1, 0x85, 0x81};
    parse_ok(pi, sizeof pi, &k);
    assert_true(k.live.pi_valid);
    assert_int_equal(k.live.pi, 261);
}

static void high_bits(void **state)
{
    (void)state;
    struct fw_cms50f_packet k;
    /* Pulse 135: byte 5 is sent as 0x87 and bit 3 of byte 1 says its bit 7 is set. */
    static const uint8_t p135[] = {0x01, 0x88, 0x85, 0xb3, 0x96, 0x87, 0xe1, 0x80, 0x80};
    parse_ok(p135, sizeof p135, &k);
    assert_int_equal(k.live.pulse, 135);
    assert_int_equal(k.raw[5], 0x87);
    assert_int_equal(k.raw[6], 0x61); /* bit 4 clear: SpO2 loses the wire's bit 7 */
    /* The same bytes without the high bit: pulse 7. */
    static const uint8_t p7[] = {0x01, 0x80, 0x85, 0xb3, 0x96, 0x87, 0xe1, 0x80, 0x80};
    parse_ok(p7, sizeof p7, &k);
    assert_int_equal(k.live.pulse, 7);
    /* Every byte position: bit i of byte 1 is bit 7 of byte i + 2. */
    for (int i = 0; i < 7; i++) {
        uint8_t p[9] = {0x13, (uint8_t)(0x80 | 1 << i), 0x80, 0x80, 0x80, 0x80, 0x80, 0x80, 0x80};
        parse_ok(p, sizeof p, &k);
        for (int j = 2; j < 9; j++)
            assert_int_equal(k.raw[j], j == i + 2 ? 0x80 : 0x00);
    }
    /* encode puts them there. */
    uint8_t out[9];
    static const uint8_t payload[] = {0x05, 0x33, 0x16, 0xc8, 0x61, 0xff, 0x00};
    assert_int_equal(fw_cms50f_encode(0x01, payload, 7, out, sizeof out), 9);
    assert_int_equal(out[1], 0x80 | 0x08 | 0x20);
    parse_ok(out, 9, &k);
    assert_int_equal(k.live.pulse, 200);
    assert_int_equal(k.live.pi, 0xff);
}

static void reply_packets(void **state)
{
    (void)state;
    struct fw_cms50f_packet k;
    /* headrotor: model (two segments of spaces), vendor (spaces), device id "user". */
    static const uint8_t model0[] = {0x02, 0x80, 0x80, 0xa0, 0xa0, 0xa0, 0xa0, 0xa0, 0xa0};
    static const uint8_t model1[] = {0x02, 0x81, 0xff, 0xa0, 0xa0, 0xa0, 0xa0, 0xa0, 0xa0};
    parse_ok(model0, 9, &k);
    assert_int_equal(k.type, FW_CMS50F_MODEL);
    assert_int_equal(k.segment, 0);
    assert_string_equal(k.text, "");
    parse_ok(model1, 9, &k);
    assert_int_equal(k.segment, 0xff);
    static const uint8_t cms50f[] = {0x02, 0x80, 0x80, 0xc3, 0xcd, 0xd3, 0xb5, 0xb0, 0xc6};
    parse_ok(cms50f, 9, &k);
    assert_string_equal(k.text, "CMS50F");
    static const uint8_t vendor[] = {0x03, 0x80, 0xc3, 0xcf, 0xce, 0xd4, 0xc5, 0xc3, 0xa0};
    parse_ok(vendor, 9, &k);
    assert_int_equal(k.type, FW_CMS50F_VENDOR);
    assert_string_equal(k.text, "CONTEC");
    static const uint8_t devid[] = {0x04, 0x80, 0xf5, 0xf3, 0xe5, 0xf2, 0xa0, 0xa0, 0xa0};
    parse_ok(devid, 9, &k);
    assert_int_equal(k.type, FW_CMS50F_DEVICE_ID);
    assert_string_equal(k.text, "user");
    /* A character outside printable ASCII (0x85 via the high bit) comes out as '?'. */
    static const uint8_t odd[] = {0x04, 0x82, 0xc1, 0x85, 0xc2, 0x80, 0x80, 0x80, 0x80};
    parse_ok(odd, 9, &k);
    assert_string_equal(k.text, "A?B");
    /* OSCAR: user info (user 0, "user"). */
    static const uint8_t user[] = {0x05, 0x80, 0x80, 0xf5, 0xf3, 0xe5, 0xf2, 0x80, 0x80};
    parse_ok(user, 9, &k);
    assert_int_equal(k.type, FW_CMS50F_USER_INFO);
    assert_int_equal(k.user, 0);
    assert_string_equal(k.text, "user");
    /* headrotor: version 7 (A0), info 1 (B0), no perfusion index (AC), stop ack (A7, A2),
     * B3's two unknown replies. */
    static const uint8_t version[] = {0x06, 0x80, 0x80, 0x87};
    parse_ok(version, 4, &k);
    assert_int_equal(k.type, FW_CMS50F_VERSION);
    assert_int_equal(k.version, 7);
    static const uint8_t info[] = {0x11, 0x80, 0x81, 0x81, 0x80, 0x80, 0x80, 0x80, 0x80};
    parse_ok(info, 9, &k);
    assert_int_equal(k.type, FW_CMS50F_INFO);
    assert_int_equal(k.info, 1);
    static const uint8_t pisup[] = {0x0e, 0x80, 0x81};
    parse_ok(pisup, 3, &k);
    assert_int_equal(k.type, FW_CMS50F_PI_SUPPORT);
    assert_int_equal(k.count, 1);
    static const uint8_t ack[] = {0x0c, 0x80};
    parse_ok(ack, 2, &k);
    assert_int_equal(k.type, FW_CMS50F_STOP_ACK);
    static const uint8_t u13[] = {0x13, 0x80, 0xa0, 0xa0, 0xa0, 0xa0, 0xa0, 0xa0, 0xa0};
    static const uint8_t u14[] = {0x14, 0x80, 0xa0, 0xa0, 0xa0, 0xa0, 0xa0, 0x80, 0x80};
    parse_ok(u13, 9, &k);
    parse_ok(u14, 9, &k);
    assert_int_equal(k.type, 0x14);
    /* OSCAR: session count (user 0, 1), duration (292 raw), date 2014-08-18, time 02:38:18,
     * user count, clock-set ack. */
    static const uint8_t count[] = {0x0a, 0x80, 0x80, 0x81};
    parse_ok(count, 4, &k);
    assert_int_equal(k.type, FW_CMS50F_SESSION_COUNT);
    assert_int_equal(k.user, 0);
    assert_int_equal(k.count, 1);
    static const uint8_t dur[] = {0x08, 0x80, 0x80, 0x80, 0xa4, 0x81, 0x80, 0x80};
    parse_ok(dur, 8, &k);
    assert_int_equal(k.type, FW_CMS50F_SESSION_DURATION);
    assert_int_equal(k.duration, 292);
    static const uint8_t big[] = {0x08, 0xbc, 0x80, 0x80, 0xff, 0xff, 0xff, 0xff};
    parse_ok(big, 8, &k);
    assert_true(k.duration == 0xffffffffLL);
    static const uint8_t date[] = {0x07, 0x80, 0x80, 0x80, 0x94, 0x8e, 0x88, 0x92};
    parse_ok(date, 8, &k);
    assert_int_equal(k.type, FW_CMS50F_SESSION_DATE);
    assert_int_equal(k.year, 2014);
    assert_int_equal(k.month, 8);
    assert_int_equal(k.day, 18);
    static const uint8_t time[] = {0x12, 0x80, 0x80, 0x80, 0x82, 0xa6, 0x92, 0x80};
    parse_ok(time, 8, &k);
    assert_int_equal(k.type, FW_CMS50F_SESSION_TIME);
    assert_int_equal(k.hour, 2);
    assert_int_equal(k.minute, 38);
    assert_int_equal(k.second, 18);
    static const uint8_t users[] = {0x10, 0x80, 0x81};
    parse_ok(users, 3, &k);
    assert_int_equal(k.type, FW_CMS50F_USER_COUNT);
    assert_int_equal(k.count, 1);
    static const uint8_t set[] = {0x0b, 0x80, 0x80, 0x80};
    parse_ok(set, 4, &k);
    assert_int_equal(k.type, FW_CMS50F_SET_ACK);
}

static void stored_packets(void **state)
{
    (void)state;
    struct fw_cms50f_packet k;
    /* OSCAR: three samples of SpO2 94, pulse 66. */
    static const uint8_t f[] = {0x0f, 0x80, 0xde, 0xc2, 0xde, 0xc2, 0xde, 0xc2};
    parse_ok(f, 8, &k);
    assert_int_equal(k.type, FW_CMS50F_STORED);
    assert_int_equal(k.nsamples, 3);
    for (int i = 0; i < 3; i++) {
        assert_int_equal(k.samples[i].spo2, 94);
        assert_int_equal(k.samples[i].pulse, 66);
        assert_int_equal(k.samples[i].pi, -1);
        assert_true(k.samples[i].valid);
    }
    /* headrotor: pulses above 127 carry their bit 7 in bits 1, 3, 5 of byte 1. */
    static const uint8_t fast[] = {0x0f, 0xaa, 0xe0, 0x82, 0xe0, 0x83, 0xe0, 0x84};
    parse_ok(fast, 8, &k);
    assert_int_equal(k.samples[0].pulse, 130);
    assert_int_equal(k.samples[1].pulse, 131);
    assert_int_equal(k.samples[2].pulse, 132);
    assert_int_equal(k.samples[2].spo2, 96);
    /* No finger: zeros (headrotor), pulse 255 (OSCAR); then a good one. */
    static const uint8_t out[] = {0x0f, 0x88, 0x80, 0x80, 0xff, 0xff, 0xe1, 0xc8};
    parse_ok(out, 8, &k);
    assert_false(k.samples[0].valid);
    assert_int_equal(k.samples[1].pulse, 255);
    assert_false(k.samples[1].valid);
    assert_true(k.samples[2].valid);
    assert_int_equal(k.samples[2].spo2, 97);
    assert_int_equal(k.samples[2].pulse, 72);
    /* OSCAR: a CMS50I sample with a perfusion index. */
    static const uint8_t pi[] = {0x09, 0x80, 0xe1, 0xc4, 0xce, 0x82};
    parse_ok(pi, 6, &k);
    assert_int_equal(k.type, FW_CMS50F_STORED_PI);
    assert_int_equal(k.nsamples, 1);
    assert_int_equal(k.samples[0].spo2, 97);
    assert_int_equal(k.samples[0].pulse, 68);
    assert_int_equal(k.samples[0].pi, 0x24e);
}

static void bad_packets(void **state)
{
    (void)state;
    struct fw_cms50f_packet k;
    static const uint8_t hr[] = {0x01, 0xe0, 0x85, 0xb3, 0x96, 0xc1, 0xe1, 0xff, 0xff, 0x01};
    /* Bytes past the packet are not looked at. */
    assert_int_equal(fw_cms50f_parse(hr, sizeof hr, &k), 9);
    /* Truncated: every known type one byte short. */
    for (int t = 0; t < 32; t++) {
        size_t len = fw_cms50f_packet_len((uint8_t)t);
        if (len == 0) {
            uint8_t p[9] = {(uint8_t)t, 0x80, 0x80, 0x80, 0x80, 0x80, 0x80, 0x80, 0x80};
            assert_int_equal(fw_cms50f_parse(p, 9, &k), FW_EINVAL);
            continue;
        }
        uint8_t p[9] = {(uint8_t)t, 0x80, 0x80, 0x80, 0x80, 0x80, 0x80, 0x80, 0x80};
        assert_int_equal(fw_cms50f_parse(p, len, &k), (int)len);
        assert_int_equal(fw_cms50f_parse(p, len - 1, &k), FW_EINVAL);
    }
    /* Cut short: a byte with bit 7 clear inside (the next packet starting). */
    static const uint8_t cut[] = {0x01, 0xe0, 0x85, 0xb3, 0x01, 0xe0, 0x85, 0xb3, 0x96};
    assert_int_equal(fw_cms50f_parse(cut, sizeof cut, &k), FW_EINVAL);
    /* A start with bit 7 set (an older-protocol packet), unknown types 0x0d and 0x15. */
    static const uint8_t old[] = {0x8f, 0x3a, 0x45, 0x07, 0x61, 0x80, 0x80, 0x80, 0x80};
    assert_int_equal(fw_cms50f_parse(old, sizeof old, &k), FW_EINVAL);
    static const uint8_t d[] = {0x0d, 0x80, 0x80, 0x80, 0x80, 0x80, 0x80, 0x80, 0x80};
    static const uint8_t x15[] = {0x15, 0x80, 0x80, 0x80, 0x80, 0x80, 0x80, 0x80, 0x80};
    assert_int_equal(fw_cms50f_parse(d, sizeof d, &k), FW_EINVAL);
    assert_int_equal(fw_cms50f_parse(x15, sizeof x15, &k), FW_EINVAL);
    assert_int_equal(fw_cms50f_parse(NULL, 9, &k), FW_EINVAL);
    assert_int_equal(fw_cms50f_parse(hr, 0, &k), FW_EINVAL);
    /* The type is the low 5 bits: 0x21 is a live packet. */
    static const uint8_t x21[] = {0x21, 0xe0, 0x85, 0xb3, 0x96, 0xc1, 0xe1, 0xff, 0xff};
    assert_int_equal(fw_cms50f_parse(x21, 9, &k), 9);
    assert_int_equal(k.type, FW_CMS50F_LIVE);
}

/* A live packet: signal 5, the given flags in byte 2 (finger out 0x80, search too long 0x10)
 * and byte 3 (searching 0x80), no perfusion index. */
static void live(uint8_t out[9], int spo2, int pulse, uint8_t b2, uint8_t b3)
{
    const uint8_t payload[7] = {(uint8_t)(0x05 | b2),
                                (uint8_t)(0x33 | b3),
                                0x16,
                                (uint8_t)pulse,
                                (uint8_t)spo2,
                                0xff,
                                0xff};
    assert_int_equal(fw_cms50f_encode(FW_CMS50F_LIVE, payload, 7, out, 9), 9);
}

static int feed(struct fw_cms50f *s, const uint8_t *p, size_t n, struct fw_reading out[2])
{
    int got = 0;
    for (size_t i = 0; i < n; i++) {
        int k = fw_cms50f_feed(s, p[i], out, NULL, NULL);
        assert_true(k == 0 || k == 2);
        got += k;
    }
    return got;
}

static void live_stream(void **state)
{
    (void)state;
    struct fw_cms50f s = {0};
    struct fw_reading out[2];
    uint8_t p[9];
    /* Bytes before the first start are skipped. */
    static const uint8_t noise[] = {0xe0, 0x85, 0xff};
    assert_int_equal(feed(&s, noise, sizeof noise, out), 0);
    assert_int_equal(s.dropped, 3);
    /* A reply to a command comes out as a packet and gives nothing. */
    static const uint8_t model[] = {0x02, 0x80, 0x80, 0xc3, 0xcd, 0xd3, 0xb5, 0xb0, 0xc6};
    struct fw_cms50f_packet k;
    bool complete = false;
    for (size_t i = 0; i < sizeof model; i++) {
        assert_int_equal(fw_cms50f_feed(&s, model[i], out, &k, &complete), 0);
        assert_true(complete == (i == sizeof model - 1));
    }
    assert_int_equal(k.type, FW_CMS50F_MODEL);
    assert_string_equal(k.text, "CMS50F");
    /* Searching (pulse 255, SpO2 127): nothing, however long. */
    for (int i = 0; i < 300; i++) {
        live(p, 127, 255, 0x00, 0x80);
        assert_int_equal(feed(&s, p, 9, out), 0);
    }
    /* Values that wander: nothing until they hold. */
    for (int i = 0; i < 100; i++) {
        live(p, 90 + i % 8, 80, 0, 0);
        assert_int_equal(feed(&s, p, 9, out), 0);
    }
    /* Held within 1 % and 3 /min: one pair after FW_CMS50F_STABLE_PACKETS packets (3 s). */
    int given = 0, at = -1;
    for (int i = 0; i < 400; i++) {
        live(p, 97 + i % 2, 72 + i % 3, 0, 0);
        if (feed(&s, p, 9, out) == 2) {
            given++;
            at = i;
        }
    }
    assert_int_equal(given, 1);
    assert_int_equal(at, FW_CMS50F_STABLE_PACKETS - 1);
    assert_string_equal(out[0].kind, "spo2");
    assert_string_equal(out[0].unit, "%");
    assert_true(out[0].value == 97 || out[0].value == 98);
    assert_string_equal(out[1].kind, "pulse");
    assert_string_equal(out[1].unit, "/min");
    assert_true(out[1].value >= 72 && out[1].value <= 74);
    assert_true(isnan(out[0].value2) && isnan(out[0].value3) && isnan(out[1].value2));
    assert_true(out[0].device_time == 0 && out[1].device_time == 0);
    /* Finger out, then a second finger with a pulse above 127 (its bit 7 in byte 1): one
     * more pair. */
    live(p, 127, 255, 0x80, 0);
    assert_int_equal(feed(&s, p, 9, out), 0);
    given = 0;
    for (int i = 0; i < FW_CMS50F_STABLE_PACKETS + 50; i++) {
        live(p, 94, 141, 0, 0);
        given += feed(&s, p, 9, out) == 2;
    }
    assert_int_equal(given, 1);
    assert_true(out[0].value == 94 && out[1].value == 141);
    assert_int_equal(s.dropped, 3);
}

static void not_readings(void **state)
{
    (void)state;
    struct fw_reading out[2];
    uint8_t p[9];
    static const struct {
        int spo2, pulse;
        uint8_t b2, b3;
        const char *why;
    } cases[] = {
        {97, 72, 0x80, 0, "finger out with good values"},
        {97, 72, 0, 0x80, "searching with good values"},
        {97, 72, 0x10, 0, "searching too long"},
        {127, 255, 0, 0, "the searching values without the flag"},
        {20, 72, 0, 0, "SpO2 below 35"},
        {101, 72, 0, 0, "SpO2 above 100"},
        {97, 24, 0, 0, "pulse below 25"},
        {97, 251, 0, 0, "pulse above 250"},
        {0, 0, 0, 0, "zeros"},
    };
    for (size_t c = 0; c < LEN(cases); c++) {
        struct fw_cms50f s = {0};
        int got = 0;
        for (int i = 0; i < 3 * FW_CMS50F_STABLE_PACKETS; i++) {
            live(p, cases[c].spo2, cases[c].pulse, cases[c].b2, cases[c].b3);
            got += feed(&s, p, 9, out);
        }
        if (got != 0)
            fail_msg("%s gave readings", cases[c].why);
        assert_int_equal(s.packets, 3 * FW_CMS50F_STABLE_PACKETS);
    }
    /* Searching in the middle of a run starts it again: 179 + searching + 179 give none. */
    struct fw_cms50f s = {0};
    int got = 0;
    for (int i = 0; i < 2 * FW_CMS50F_STABLE_PACKETS - 1; i++) {
        if (i == FW_CMS50F_STABLE_PACKETS - 1)
            live(p, 97, 72, 0, 0x80);
        else
            live(p, 97, 72, 0, 0);
        got += feed(&s, p, 9, out);
    }
    assert_int_equal(got, 0);
    live(p, 97, 72, 0, 0);
    assert_int_equal(feed(&s, p, 9, out), 2);
}

static void resync(void **state)
{
    (void)state;
    struct fw_cms50f s = {0};
    struct fw_cms50f_packet k;
    struct fw_reading out[2];
    uint8_t p[9];
    bool complete;
    live(p, 96, 70, 0, 0);
    assert_int_equal(feed(&s, p, 9, out), 0);
    assert_int_equal(s.packets, 1);
    /* A lost byte costs its packet: the next start cuts it and is decoded. */
    live(p, 96, 70, 0, 0);
    assert_int_equal(feed(&s, p, 8, out), 0);
    assert_int_equal(s.have, 8);
    live(p, 95, 71, 0, 0);
    for (int i = 0; i < 9; i++)
        fw_cms50f_feed(&s, p[i], out, &k, &complete);
    assert_true(complete);
    assert_int_equal(k.live.spo2, 95);
    assert_int_equal(k.live.pulse, 71);
    assert_int_equal(s.packets, 2);
    assert_int_equal(s.dropped, 8);
    assert_int_equal(s.cut_type, 0);
    /* A lost type byte: its eight following bytes are skipped. */
    live(p, 96, 70, 0, 0);
    assert_int_equal(feed(&s, p + 1, 8, out), 0);
    assert_int_equal(s.dropped, 16);
    assert_int_equal(s.orphans, 8);
    /* Garbage: an unknown type (0x0d), stray high bytes, a zero byte in the middle of a
     * packet. The packet after it is decoded. */
    static const uint8_t garbage[] = {0x0d, 0xff, 0xfe, 0x01, 0xe0, 0x85, 0x00, 0x9a, 0x7f};
    assert_int_equal(feed(&s, garbage, sizeof garbage, out), 0);
    long before = s.packets;
    live(p, 93, 88, 0, 0);
    for (int i = 0; i < 9; i++)
        fw_cms50f_feed(&s, p[i], out, &k, &complete);
    assert_true(complete);
    assert_int_equal(k.live.spo2, 93);
    assert_int_equal(k.live.pulse, 88);
    assert_int_equal(s.packets, before + 1);
    /* A packet lost in a run does not break it; it just does not count. */
    struct fw_cms50f t = {0};
    int got = 0, at = -1;
    for (int i = 0; i < FW_CMS50F_STABLE_PACKETS + 10; i++) {
        live(p, 97, 72, 0, 0);
        if (i == 50)
            got += feed(&t, p, 5, out); /* cut: the run goes on with the packets decoded */
        else if (feed(&t, p, 9, out) == 2) {
            got++;
            at = i;
        }
    }
    assert_int_equal(got, 1);
    assert_int_equal(at, FW_CMS50F_STABLE_PACKETS); /* one packet later for the one lost */
}

/* An older-protocol packet (firmware/doc/cms50.md). */
static void old_packet(uint8_t out[5], int spo2, int pulse)
{
    out[0] = 0x85;
    out[1] = 0x40;
    out[2] = (uint8_t)(0x03 | ((pulse & 0x80) >> 1));
    out[3] = (uint8_t)(pulse & 0x7f);
    out[4] = (uint8_t)(spo2 & 0x7f);
}

static void detect(void **state)
{
    (void)state;
    uint8_t buf[600];
    size_t n = 0;
    /* The older protocol: from mid-packet, as a port opened mid-stream gives it. */
    for (int i = 0; i < 20; i++, n += 5)
        old_packet(buf + n, 97, 72 + i % 2);
    assert_int_equal(fw_cms50_detect(buf + 3, n - 3), 1);
    assert_int_equal(fw_cms50_detect(buf, n), 1);
    /* A SpO2 of 76 (0x4c: type 0x0c, the 2-byte stop ack) is no newer packet in a row. */
    n = 0;
    for (int i = 0; i < 20; i++, n += 5)
        old_packet(buf + n, 76, 140);
    assert_int_equal(fw_cms50_detect(buf, n), 1);
    /* A few packets: FW_CMS50_DETECT_PACKETS decide, one fewer does not. */
    assert_int_equal(fw_cms50_detect(buf, 5 * FW_CMS50_DETECT_PACKETS), 1);
    assert_int_equal(fw_cms50_detect(buf, 5 * FW_CMS50_DETECT_PACKETS - 1), 0);
    /* The newer protocol: a model reply, then live data from mid-packet. */
    static const uint8_t model[] = {0x02, 0x80, 0x80, 0xa0, 0xa0, 0xa0, 0xa0, 0xa0, 0xa0,
                                    0x02, 0x81, 0xff, 0xa0, 0xa0, 0xa0, 0xa0, 0xa0, 0xa0};
    n = 0;
    memcpy(buf, model, sizeof model);
    n += sizeof model;
    for (int i = 0; i < 20; i++, n += 9)
        live(buf + n, 97, 72 + i % 2, 0, 0);
    assert_int_equal(fw_cms50_detect(buf, n), 2);
    assert_int_equal(fw_cms50_detect(buf + sizeof model + 4, n - sizeof model - 4), 2);
    assert_int_equal(fw_cms50_detect(buf, 9 * FW_CMS50_DETECT_PACKETS), 2);
    assert_int_equal(fw_cms50_detect(buf, 9 * FW_CMS50_DETECT_PACKETS - 1), 0);
    /* headrotor's replies to its start-up commands, in a row. */
    static const uint8_t replies[] = {0x0c, 0x80, 0x0c, 0x80, 0x06, 0x80, 0x80, 0x87, 0x11, 0x80,
                                      0x81, 0x81, 0x80, 0x80, 0x80, 0x80, 0x80, 0x0e, 0x80, 0x81};
    assert_int_equal(fw_cms50_detect(replies, sizeof replies), 2);
    /* Garbage: a pseudo-random stream, all-zero, all-0xff, nothing. */
    uint32_t x = 12345;
    for (size_t i = 0; i < sizeof buf; i++) {
        x = x * 1103515245u + 12345u;
        buf[i] = (uint8_t)(x >> 16);
    }
    assert_int_equal(fw_cms50_detect(buf, sizeof buf), 0);
    memset(buf, 0, sizeof buf);
    assert_int_equal(fw_cms50_detect(buf, sizeof buf), 0);
    memset(buf, 0xff, sizeof buf);
    assert_int_equal(fw_cms50_detect(buf, sizeof buf), 0);
    assert_int_equal(fw_cms50_detect(buf, 0), 0);
    assert_int_equal(fw_cms50_detect(NULL, 10), 0);
    /* ASCII text (another device on a shared CP210x id) is neither. */
    static const char text[] = "OK\r\nSYS=128 DIA=84 PUL=71\r\nOK\r\n";
    assert_int_equal(fw_cms50_detect((const uint8_t *)text, sizeof text - 1), 0);
}

static void probe(void **state)
{
    (void)state;
    char model[32];
    /* headrotor: a CMS50D+ answered A8 with spaces. */
    static const uint8_t blank[] = {0x02, 0x80, 0x80, 0xa0, 0xa0, 0xa0, 0xa0, 0xa0, 0xa0,
                                    0x02, 0x81, 0xff, 0xa0, 0xa0, 0xa0, 0xa0, 0xa0, 0xa0};
    strcpy(model, "x");
    assert_int_equal(fw_cms50f_probe_reply(blank, sizeof blank, model, sizeof model), 1);
    assert_string_equal(model, "");
    /* A name in two segments, live packets around it (streaming had not stopped). */
    uint8_t buf[64];
    size_t n = 0;
    live(buf, 97, 72, 0, 0);
    n += 9;
    static const uint8_t seg0[] = {0x02, 0x80, 0x80, 0xc3, 0xcd, 0xd3, 0xb5, 0xb0, 0xc9};
    static const uint8_t seg1[] = {0x02, 0x81, 0xff, 0xa0, 0xd7, 0xa0, 0xa0, 0xa0, 0xa0};
    memcpy(buf + n, seg0, 9);
    n += 9;
    live(buf + n, 97, 72, 0, 0);
    n += 9;
    memcpy(buf + n, seg1, 9);
    n += 9;
    assert_int_equal(fw_cms50f_probe_reply(buf, n, model, sizeof model), 1);
    assert_string_equal(model, "CMS50IW");
    /* A short buffer truncates; NULL model is fine. */
    char small[5];
    assert_int_equal(fw_cms50f_probe_reply(buf, n, small, sizeof small), 1);
    assert_string_equal(small, "CMS5");
    assert_int_equal(fw_cms50f_probe_reply(buf, n, NULL, 0), 1);
    /* One segment only. */
    assert_int_equal(fw_cms50f_probe_reply(seg0, sizeof seg0, model, sizeof model), 1);
    assert_string_equal(model, "CMS50I");
    /* Not a model reply: live data only, the older protocol, garbage, a truncated or cut
     * model packet, text that is not printable, nothing. */
    assert_int_equal(fw_cms50f_probe_reply(buf, 9, model, sizeof model), 0);
    assert_string_equal(model, "");
    uint8_t old[25];
    for (int i = 0; i < 5; i++)
        old_packet(old + 5 * i, 97, 72);
    assert_int_equal(fw_cms50f_probe_reply(old, sizeof old, model, sizeof model), 0);
    static const char text[] = "AT+MODEL?\r\nERROR\r\n";
    assert_int_equal(
        fw_cms50f_probe_reply((const uint8_t *)text, sizeof text - 1, model, sizeof model), 0);
    assert_int_equal(fw_cms50f_probe_reply(seg0, 8, model, sizeof model), 0);
    static const uint8_t cut[] = {0x02, 0x80, 0x80, 0xc3, 0x4d, 0xd3, 0xb5, 0xb0, 0xc9};
    assert_int_equal(fw_cms50f_probe_reply(cut, sizeof cut, model, sizeof model), 0);
    static const uint8_t binary[] = {0x02, 0x84, 0x80, 0xc3, 0xcd, 0x81, 0xb5, 0xb0, 0xc9};
    assert_int_equal(fw_cms50f_probe_reply(binary, sizeof binary, model, sizeof model), 0);
    assert_int_equal(fw_cms50f_probe_reply(NULL, 0, model, sizeof model), 0);
}

/* A download as the replies arrive (OSCAR's order: count, duration, date and time, data). */
static size_t download(uint8_t *buf, bool dated)
{
    static const uint8_t head[] = {
        0x0c, 0x80,                                     /* A7 */
        0x0c, 0x80,                                     /* A2 */
        0x0a, 0x80, 0x80, 0x81,                         /* A3: user 0, 1 session */
        0x08, 0x80, 0x80, 0x80, 0x9e, 0x80, 0x80, 0x80, /* A4: 30 raw (15 s) */
    };
    static const uint8_t when[] = {
        0x07, 0x80, 0x80, 0x80, 0x94, 0x9a, 0x8b, 0x96, /* A5: 2026-11-22 */
        0x12, 0x80, 0x80, 0x80, 0x89, 0x9e, 0x80, 0x80, /* 09:30:00 */
    };
    static const uint8_t nodate[] = {
        0x07, 0x80, 0x80, 0x80, 0x80, 0x80, 0x80, 0x80, /* a CMS50D+: no clock */
        0x12, 0x80, 0x80, 0x80, 0x80, 0x80, 0x80, 0x80,
    };
    size_t n = 0;
    memcpy(buf, head, sizeof head);
    n += sizeof head;
    memcpy(buf + n, dated ? when : nodate, sizeof when);
    n += sizeof when;
    /* A6: 15 samples; the first two without a finger, then 96/70, 97/71, 96/70 ... */
    int spo2[15], pulse[15];
    for (int i = 0; i < 15; i++) {
        spo2[i] = i < 2 ? 0 : 96 + i % 2;
        pulse[i] = i < 2 ? 0 : 70 + i % 2;
    }
    for (int i = 0; i < 15; i += 3) {
        const uint8_t payload[6] = {(uint8_t)spo2[i],     (uint8_t)pulse[i],
                                    (uint8_t)spo2[i + 1], (uint8_t)pulse[i + 1],
                                    (uint8_t)spo2[i + 2], (uint8_t)pulse[i + 2]};
        n += fw_cms50f_encode(FW_CMS50F_STORED, payload, 6, buf + n, 8);
    }
    return n;
}

static void stored(void **state)
{
    (void)state;
    uint8_t buf[256];
    size_t n = download(buf, true);
    struct fw_cms50f_session se;
    struct fw_cms50f_sample x[32];
    assert_int_equal(fw_cms50f_stored_decode(buf, n, &se, x, LEN(x)), 15);
    assert_true(se.have_date && se.have_time && se.have_duration && se.have_count);
    assert_int_equal(se.year, 2026);
    assert_int_equal(se.month, 11);
    assert_int_equal(se.day, 22);
    assert_int_equal(se.hour, 9);
    assert_int_equal(se.minute, 30);
    assert_int_equal(se.second, 0);
    assert_int_equal(se.duration, 30);
    assert_int_equal(se.sessions, 1);
    assert_int_equal(se.sample_type, FW_CMS50F_STORED);
    assert_int_equal(se.samples, 15);
    assert_int_equal(se.invalid, 2);
    assert_int_equal(se.lost, 0);
    for (int i = 0; i < 15; i++) {
        assert_int_equal(x[i].index, i);
        assert_int_equal(x[i].seconds, i * FW_CMS50F_STORED_SECONDS);
        assert_int_equal(x[i].pi, -1);
        assert_true(x[i].valid == (i >= 2));
    }
    assert_int_equal(x[4].spo2, 96);
    assert_int_equal(x[4].pulse, 70);
    assert_int_equal(x[5].spo2, 97);
    assert_int_equal(x[5].pulse, 71);
    /* More samples than room: the count, the first max written. */
    struct fw_cms50f_sample few[4];
    assert_int_equal(fw_cms50f_stored_decode(buf, n, NULL, few, LEN(few)), 15);
    assert_int_equal(few[3].index, 3);
    assert_int_equal(fw_cms50f_stored_decode(buf, n, NULL, NULL, 0), 15);
    /* The summary: valid samples 2-14; settled at sample 4 (three in a row from 2). */
    struct fw_cms50f_summary sum;
    struct fw_reading r[2];
    assert_int_equal(fw_cms50f_stored_summary(x, 15, &se, &sum, r), 2);
    assert_int_equal(sum.samples, 15);
    assert_int_equal(sum.valid, 13);
    assert_int_equal(sum.spo2_min, 96);
    assert_int_equal(sum.spo2_max, 97);
    assert_int_equal(sum.pulse_min, 70);
    assert_int_equal(sum.pulse_max, 71);
    assert_true(fabs(sum.spo2_mean - (96 * 7 + 97 * 6) / 13.0) < 1e-9);
    assert_true(sum.settled && sum.timed);
    assert_int_equal(sum.settled_index, 4);
    assert_string_equal(r[0].kind, "spo2");
    assert_true(r[0].value == 96);
    assert_string_equal(r[1].kind, "pulse");
    assert_true(r[1].value == 70);
    /* 2026-11-22 09:30:00 (device clock as UTC) + 4 s. */
    assert_true(r[0].device_time == 1795339800LL + 4);
    assert_true(r[1].device_time == r[0].device_time);
    assert_true(isnan(r[0].value2));
    /* No clock (a CMS50D+ sends year 0): the same values, no time. */
    n = download(buf, false);
    assert_int_equal(fw_cms50f_stored_decode(buf, n, &se, x, LEN(x)), 15);
    assert_int_equal(se.year, 0);
    assert_int_equal(fw_cms50f_stored_summary(x, 15, &se, &sum, r), 2);
    assert_false(sum.timed);
    assert_true(r[0].device_time == 0);
    assert_int_equal(fw_cms50f_stored_summary(x, 15, NULL, &sum, NULL), 2);
    /* Nothing settled: values that wander, or too few. */
    for (int i = 0; i < 15; i++)
        x[i].spo2 = 90 + (i % 3) * 3;
    assert_int_equal(fw_cms50f_stored_summary(x, 15, &se, &sum, r), 0);
    assert_false(sum.settled);
    assert_int_equal(sum.valid, 13);
    assert_int_equal(fw_cms50f_stored_summary(x, 0, NULL, &sum, r), 0);
    assert_int_equal(sum.valid, 0);
    assert_int_equal(fw_cms50f_stored_summary(NULL, 3, NULL, &sum, r), FW_EINVAL);
    assert_int_equal(fw_cms50f_stored_summary(x, 3, NULL, NULL, r), FW_EINVAL);
}

static void stored_losses(void **state)
{
    (void)state;
    uint8_t buf[256], cut[256];
    size_t n = download(buf, true);
    struct fw_cms50f_session se;
    struct fw_cms50f_sample x[32];
    /* The data starts at 32; the third sample packet (samples 6-8) is at 48. Cut it short (its
     * last byte lost): the samples after it keep their index. */
    memcpy(cut, buf, 55);
    memcpy(cut + 55, buf + 56, n - 56);
    assert_int_equal(fw_cms50f_stored_decode(cut, n - 1, &se, x, LEN(x)), 12);
    assert_int_equal(se.lost, 3);
    assert_int_equal(x[5].index, 5);
    assert_int_equal(x[6].index, 9);
    assert_int_equal(x[6].spo2, 97);
    assert_int_equal(x[6].pulse, 71);
    /* Its type byte lost: the seven bytes without a start are one lost packet. */
    memcpy(cut, buf, 48);
    memcpy(cut + 48, buf + 49, n - 49);
    assert_int_equal(fw_cms50f_stored_decode(cut, n - 1, &se, x, LEN(x)), 12);
    assert_int_equal(se.lost, 3);
    assert_int_equal(x[6].index, 9);
    /* A gap breaks a settled run: samples 0, 1 then 5 (held values) are not three in a row. */
    struct fw_cms50f_sample gap[3] = {
        {.index = 0, .spo2 = 96, .pulse = 70, .pi = -1, .valid = true},
        {.index = 1, .spo2 = 96, .pulse = 70, .pi = -1, .valid = true},
        {.index = 5, .spo2 = 96, .pulse = 70, .pi = -1, .valid = true},
    };
    struct fw_cms50f_summary sum;
    assert_int_equal(fw_cms50f_stored_summary(gap, 3, NULL, &sum, NULL), 0);
    /* CMS50I samples (0x09, one a packet, with a perfusion index), fed byte by byte. */
    struct fw_cms50f_stored s = {0};
    struct fw_cms50f_sample got[3];
    static const uint8_t pi[] = {0x09, 0x80, 0xe1, 0xc4, 0xce, 0x82,
                                 0x09, 0x80, 0xe1, 0xc5, 0x80, 0x80};
    int total = 0;
    for (size_t i = 0; i < sizeof pi; i++) {
        int k = fw_cms50f_stored_feed(&s, pi[i], got);
        if (k == 1) {
            assert_int_equal(got[0].index, total);
            assert_int_equal(got[0].spo2, 97);
            assert_int_equal(got[0].pulse, 68 + total);
            assert_int_equal(got[0].pi, total == 0 ? 0x24e : 0);
        }
        total += k;
    }
    assert_int_equal(total, 2);
    assert_int_equal(s.session.sample_type, FW_CMS50F_STORED_PI);
    /* Live data and garbage in a download give no samples. */
    uint8_t p[9];
    live(p, 97, 72, 0, 0);
    assert_int_equal(fw_cms50f_stored_decode(p, 9, &se, x, LEN(x)), 0);
    assert_int_equal(se.samples, 0);
    static const uint8_t junk[] = {0xff, 0x00, 0x0f, 0x80, 0x7f, 0x0d};
    assert_int_equal(fw_cms50f_stored_decode(junk, sizeof junk, &se, x, LEN(x)), 0);
}

static void command_parse(void **state)
{
    (void)state;
    uint8_t out[FW_CMS50F_CMD_LEN], cmd = 0, args[6];
    /* Session 2's data, and OSCAR's erase (user 1, session 3): read back as built. */
    static const uint8_t data2[6] = {0, 2};
    assert_int_equal(fw_cms50f_command_args(FW_CMS50F_CMD_SESSION_DATA, data2, out), 9);
    assert_int_equal(fw_cms50f_command_parse(out, 9, &cmd, args), 9);
    assert_int_equal(cmd, 0xa6);
    assert_memory_equal(args, data2, 6);
    static const uint8_t erase[] = {0x7d, 0x81, 0xae, 0x81, 0x83, 0x80, 0x80, 0x80, 0x80};
    assert_int_equal(fw_cms50f_command_parse(erase, 9, &cmd, args), 9);
    assert_int_equal(cmd, 0xae);
    assert_int_equal(args[0], 1);
    assert_int_equal(args[1], 3);
    /* An argument with bit 7 set travels in the high-bit byte: 0x85 -> 7d 83 a4 80 85. */
    static const uint8_t high[6] = {0, 0x85};
    assert_int_equal(fw_cms50f_command_args(FW_CMS50F_CMD_SESSION_DURATION, high, out), 9);
    assert_int_equal(out[1], 0x85);
    assert_int_equal(fw_cms50f_command_parse(out, 9, &cmd, args), 9);
    assert_int_equal(args[1], 0x85);
    /* Not commands: short, another type, a byte with bit 7 clear, no command bit. */
    assert_int_equal(fw_cms50f_command_parse(erase, 8, &cmd, args), FW_EINVAL);
    static const uint8_t live_pkt[] = {0x01, 0xe0, 0x85, 0xb3, 0x96, 0xc1, 0xe1, 0xff, 0xff};
    assert_int_equal(fw_cms50f_command_parse(live_pkt, 9, &cmd, args), FW_EINVAL);
    static const uint8_t cut[] = {0x7d, 0x81, 0xa6, 0x80, 0x0f, 0x80, 0x80, 0x80, 0x80};
    assert_int_equal(fw_cms50f_command_parse(cut, 9, &cmd, args), FW_EINVAL);
    static const uint8_t nocmd[] = {0x7d, 0x80, 0xa6, 0x80, 0x80, 0x80, 0x80, 0x80, 0x80};
    assert_int_equal(fw_cms50f_command_parse(nocmd, 9, NULL, NULL), FW_EINVAL);
    assert_int_equal(fw_cms50f_command_parse(NULL, 9, NULL, NULL), FW_EINVAL);
}

/* The replies to the driver's questions, as the device sends them. */
static void drv_feed(const struct fw_driver *d, void *st, const uint8_t *b, size_t n, double t,
                     struct fw_decoded *out)
{
    memset(out, 0, sizeof *out);
    assert_int_equal(d->decode(st, b, n, t, out), FW_OK);
}

static void expect_commands(const struct fw_decoded *out, const uint8_t *cmds, size_t n,
                            int session)
{
    assert_int_equal(out->reply_len, n * FW_CMS50F_CMD_LEN);
    for (size_t i = 0; i < n; i++) {
        uint8_t cmd, args[6];
        assert_int_equal(fw_cms50f_command_parse(out->reply + i * 9, 9, &cmd, args), 9);
        assert_int_equal(cmd, cmds[i]);
        assert_int_equal(args[1], session);
    }
}

static void driver_download(void **state)
{
    (void)state;
    const struct fw_driver *d = fw_driver_find("cms50");
    assert_non_null(d);
    assert_string_equal(d->actions, "download");
    uint8_t st_mem[8192] __attribute__((aligned(16)));
    assert_true(d->state_size <= sizeof st_mem);
    memset(st_mem, 0, sizeof st_mem);
    void *st = st_mem;
    struct fw_decoded out;
    memset(&out, 0, sizeof out);
    /* Before the protocol is known, and unknown actions: refused with why. */
    assert_int_equal(d->action(st, "download", 0, &out), FW_EINVAL);
    assert_non_null(strstr(out.why, "not known"));
    memset(&out, 0, sizeof out);
    assert_int_equal(d->action(st, "erase", 0, &out), FW_EINVAL);
    /* The host's A1 says the device speaks the newer protocol. */
    uint8_t a1[9];
    fw_cms50f_command(FW_CMS50F_CMD_LIVE_START, a1);
    d->sent(st, a1, 9, 0);
    assert_true(d->deadline(st) < 0); /* live: nothing to wait for */
    memset(&out, 0, sizeof out);
    assert_int_equal(d->action(st, "download", 10, &out), FW_OK);
    static const uint8_t start[] = {0xa7, 0xa2, 0xa3};
    expect_commands(&out, start, 3, 0);
    assert_string_equal(out.status, "downloading the memory");
    /* No keep-alive A1 while downloading (it would end the download); one at a time. */
    uint8_t hello[64];
    assert_int_equal(d->start(st, hello, sizeof hello), 0);
    memset(&out, 0, sizeof out);
    assert_int_equal(d->action(st, "download", 10.1, &out), FW_EBUSY);
    assert_true(fabs(d->deadline(st) - 13.0) < 1e-9); /* 3 s for the count */
    /* Stop acknowledged, then the count: user 0, 2 sessions -> session 0's questions. */
    static const uint8_t ack[] = {0x0c, 0x80, 0x0c, 0x80};
    drv_feed(d, st, ack, sizeof ack, 10.2, &out);
    assert_int_equal(out.reply_len, 0);
    static const uint8_t count[] = {0x0a, 0x80, 0x80, 0x82};
    drv_feed(d, st, count, sizeof count, 10.3, &out);
    static const uint8_t info[] = {0xa4, 0xa5};
    expect_commands(&out, info, 2, 0);
    /* Duration, date and time in: the data (A6 for session 0). Date 2026-11-22 09:30:00. */
    static const uint8_t facts[] = {0x08, 0x80, 0x80, 0x80, 0xf8, 0x80, 0x80, 0x80,
                                    0x07, 0x80, 0x80, 0x80, 0x94, 0x9a, 0x8b, 0x96,
                                    0x12, 0x80, 0x80, 0x80, 0x89, 0x9e, 0x80, 0x80};
    drv_feed(d, st, facts, 16, 10.4, &out); /* the time (0x12) not yet */
    assert_int_equal(out.reply_len, 0);
    drv_feed(d, st, facts + 16, 8, 10.5, &out);
    static const uint8_t data[] = {0xa6};
    expect_commands(&out, data, 1, 0);
    /* Samples: one packet without a finger, then 97 %/69 held: settled at the third. */
    static const uint8_t samples[] = {0x0f, 0xa0, 0x80, 0x80, 0x80, 0x80, 0xff, 0xff,
                                      0x0f, 0x80, 0xe1, 0xc5, 0xe1, 0xc5, 0xe1, 0xc5};
    drv_feed(d, st, samples, sizeof samples, 11.0, &out);
    assert_int_equal(out.nreadings, 0);
    assert_true(fabs(d->deadline(st) - 13.0) < 1e-9); /* 2 s of silence ends the session */
    /* The silence: session 0's readings, timed by its clock; then session 1's questions. */
    memset(&out, 0, sizeof out);
    assert_int_equal(d->timeout(st, 13.0, &out), FW_OK);
    assert_int_equal(out.nreadings, 2);
    assert_string_equal(out.readings[0].kind, "spo2");
    assert_true(out.readings[0].value == 97);
    assert_string_equal(out.readings[1].kind, "pulse");
    assert_true(out.readings[1].value == 69);
    for (int i = 0; i < 2; i++) {
        assert_true(out.readings[i].stored);
        assert_true(out.readings[i].clock_local);
        /* 2026-11-22 09:30:00 + 5 samples (index 5: the third of the held ones) */
        assert_true(out.readings[i].device_time == 1795339800LL + 5);
    }
    assert_string_equal(out.status, "downloading: session 1 of 2: 6 samples, 3 with a finger; "
                                    "SpO2 97 %, pulse 69 /min");
    expect_commands(&out, info, 2, 1);
    /* Session 1 never answers: after 3 s the download fails, and live data starts again. */
    assert_true(fabs(d->deadline(st) - 16.0) < 1e-9);
    memset(&out, 0, sizeof out);
    assert_int_equal(d->timeout(st, 16.0, &out), FW_OK);
    assert_int_equal(out.nreadings, 0);
    assert_string_equal(out.status, "download failed: no answer to the session's start (A4, A5)");
    static const uint8_t live_again[] = {0xa1};
    expect_commands(&out, live_again, 1, 0);
    assert_true(d->deadline(st) < 0);
    assert_int_equal(d->start(st, hello, sizeof hello), 9); /* keep-alive again */
    /* A device with an empty memory: done at once. */
    memset(&out, 0, sizeof out);
    assert_int_equal(d->action(st, "download", 20, &out), FW_OK);
    static const uint8_t none[] = {0x0a, 0x80, 0x80, 0x80};
    drv_feed(d, st, none, sizeof none, 20.1, &out);
    assert_string_equal(out.status, "download done: no sessions in the memory");
    expect_commands(&out, live_again, 1, 0);
    /* The older protocol has no commands: refused with why. */
    memset(st_mem, 0, sizeof st_mem);
    static const uint8_t old_pkts[] = {0xc5, 0x20, 0x06, 0x48, 0x61, 0xc5, 0x21, 0x06, 0x48,
                                       0x61, 0xc5, 0x22, 0x06, 0x48, 0x61, 0xc5, 0x23, 0x06,
                                       0x48, 0x61, 0xc5, 0x24, 0x06, 0x48, 0x61};
    drv_feed(d, st, old_pkts, sizeof old_pkts, 0, &out);
    memset(&out, 0, sizeof out);
    assert_int_equal(d->action(st, "download", 1, &out), FW_EINVAL);
    assert_non_null(strstr(out.why, "older protocol"));
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(commands),        cmocka_unit_test(live_packets),
        cmocka_unit_test(high_bits),       cmocka_unit_test(reply_packets),
        cmocka_unit_test(stored_packets),  cmocka_unit_test(bad_packets),
        cmocka_unit_test(live_stream),     cmocka_unit_test(not_readings),
        cmocka_unit_test(resync),          cmocka_unit_test(detect),
        cmocka_unit_test(probe),           cmocka_unit_test(stored),
        cmocka_unit_test(stored_losses),   cmocka_unit_test(command_parse),
        cmocka_unit_test(driver_download),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
