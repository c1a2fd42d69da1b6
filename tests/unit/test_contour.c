/* Contour glucometers (firmware/proto/contour.c) on byte vectors. Vectors marked
 * "glucometerutils" are the header frame in its test_contourusb.py (a Contour USB, Bayer7390),
 * "glucodump" the frames and records in its test_contourusb.py (Contour USB and Contour
 * Bayer7150), "Tidepool" the records quoted in the Tidepool uploader's bayerContourNext.js;
 * the others are built from the published layout (firmware/doc/contour.md). None is our own
 * recording from hardware. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>

#include <cmocka.h>
#include <math.h>
#include <stdio.h>
#include <string.h>

#include "../../firmware/proto/contour.h"

#define LEN(a) (sizeof(a) / sizeof((a)[0]))

/* glucometerutils: EOT, the header frame (ETB, checksum D7) and ENQ, as one message. */
static const char gu_header[] =
    "H|\\^&||7w3LBL|Bayer7390^01.24\\01.04\\09.02.20^7390-2336773^7403-|A=1^C=63^G=1^I=0200^R="
    "0^S=1^U=0^V=10600^X=070070070070180130150250^Y=360126090050099050300089^Z=1|1714||||||1|"
    "201909221304";

/* What a run of reports gave, summed. */
struct got {
    struct fw_reading r[64];
    size_t n;
    long long clock;
    int refused;
    uint8_t last_reply; /* the byte in the last reply, 0 when none */
    int replies;
    char status[224];
};

static void take(struct got *g, const struct fw_decoded *d)
{
    for (size_t i = 0; i < d->nreadings && g->n < LEN(g->r); i++)
        g->r[g->n++] = d->readings[i];
    if (d->device_clock) {
        assert_true(d->device_clock_local);
        g->clock = d->device_clock;
    }
    if (d->reply_len) {
        assert_int_equal(d->reply_len, FW_CONTOUR_REPORT);
        assert_memory_equal(d->reply, "ABC\x01", 4);
        g->last_reply = d->reply[4];
        g->replies++;
        for (size_t i = 5; i < FW_CONTOUR_REPORT; i++)
            assert_int_equal(d->reply[i], 0);
    }
    if (d->status)
        snprintf(g->status, sizeof g->status, "%s", d->status);
}

/* Sends msg as the meter does: reports of 60 bytes while there is more, the last shorter (an
 * empty one when msg fills its reports exactly). */
static void message(struct fw_contour *s, const uint8_t *msg, size_t n, double t, struct got *g)
{
    size_t off = 0;
    do {
        size_t k = n - off > FW_CONTOUR_PAYLOAD ? FW_CONTOUR_PAYLOAD : n - off;
        uint8_t rep[FW_CONTOUR_REPORT];
        assert_int_equal(fw_contour_report_make(msg + off, k, rep, sizeof rep), 64);
        struct fw_decoded d;
        memset(&d, 0, sizeof d);
        int rc = fw_contour_decode(s, rep, sizeof rep, t, &d);
        if (rc != FW_OK)
            g->refused++;
        take(g, &d);
        off += k;
        if (k == FW_CONTOUR_PAYLOAD && off == n) { /* a full last report: then an empty one */
            memset(&d, 0, sizeof d);
            fw_contour_report_make(NULL, 0, rep, sizeof rep);
            assert_int_equal(fw_contour_decode(s, rep, sizeof rep, t, &d), FW_OK);
            take(g, &d);
        }
    } while (off < n);
}

/* A frame of text (a record: its CR is added) as one message. */
static void frame_msg(struct fw_contour *s, int fn, const char *rec, bool last, double t,
                      struct got *g)
{
    char text[FW_CONTOUR_TEXT_MAX];
    int k = snprintf(text, sizeof text, "%s\r", rec);
    uint8_t f[FW_CONTOUR_TEXT_MAX + 8];
    size_t n = fw_contour_frame_make(fn, text, (size_t)k, last, f, sizeof f);
    assert_true(n > 0);
    message(s, f, n, t, g);
}

static void one_byte(struct fw_contour *s, uint8_t b, double t, struct got *g)
{
    message(s, &b, 1, t, g);
}

static void reports(void **state)
{
    (void)state;
    const uint8_t *p;
    size_t len;
    char why[160];
    static const uint8_t good[] = {'A', 'B', 'C', 3, 0x02, '1', 'H', 0, 0};
    assert_int_equal(fw_contour_report_parse(good, sizeof good, &p, &len, why, sizeof why), 0);
    assert_int_equal(len, 3);
    assert_ptr_equal(p, good + 4);
    /* 64 bytes with padding, as a real report; an empty one; a full one. */
    uint8_t rep[64];
    assert_int_equal(fw_contour_report_make((const uint8_t *)"\x06", 1, rep, sizeof rep), 64);
    assert_memory_equal(rep, "ABC\x01\x06\x00\x00", 7);
    assert_int_equal(fw_contour_report_parse(rep, 64, &p, &len, why, sizeof why), 0);
    assert_int_equal(len, 1);
    assert_int_equal(fw_contour_report_make(NULL, 0, rep, sizeof rep), 64);
    assert_int_equal(rep[3], 0);
    uint8_t sixty[60];
    memset(sixty, 'x', sizeof sixty);
    assert_int_equal(fw_contour_report_make(sixty, 60, rep, sizeof rep), 64);
    assert_int_equal(rep[3], 60);
    assert_int_equal(fw_contour_report_make(sixty, 61, rep, sizeof rep), 0);
    assert_int_equal(fw_contour_report_make(sixty, 1, rep, 63), 0);

    /* Foreign reports, each with its reason. */
    static const struct {
        uint8_t r[8];
        size_t n;
        const char *reason;
    } bad[] = {
        {{'A', 'B'}, 2, "shorter than its 4-byte head"},
        {{'A', 'B', 'D', 1, 6}, 5, "does not start with \"ABC\""},
        {{0, 0, 0, 1, 6}, 5, "does not start with \"ABC\""},
        {{'A', 'B', 'C', 61}, 8, "above 60"},
        {{'A', 'B', 'C', 5, 1, 2}, 6, "shorter than its length byte says"},
    };
    for (size_t i = 0; i < LEN(bad); i++) {
        why[0] = '\0';
        assert_int_equal(fw_contour_report_parse(bad[i].r, bad[i].n, &p, &len, why, sizeof why),
                         FW_EINVAL);
        assert_non_null(strstr(why, "not a Contour report"));
        assert_non_null(strstr(why, bad[i].reason));
    }
    uint8_t big[65] = {'A', 'B', 'C', 1, 6};
    assert_int_equal(fw_contour_report_parse(big, 65, &p, &len, why, sizeof why), FW_EINVAL);
    assert_non_null(strstr(why, "longer than 64"));
    assert_int_equal(fw_contour_report_parse(big, 65, &p, &len, NULL, 0), FW_EINVAL);
}

static void checksums(void **state)
{
    (void)state;
    /* Published frames (text with the record's CR, then ETB) and their checksums. */
    static const struct {
        int fn;
        const char *text, *sum;
    } v[] = {
        {1, gu_header, "D7"},                                       /* glucometerutils */
        {1, "R|67|^^^Glucose|7.9|mmol/L^P||B||201011281949", "04"}, /* glucodump */
        {1, "H|\\^&||-7880|Bayer7150^1.05\\0.00^7150-SAM2193|||||||P|1|200305121635", "AE"},
        {1,
         "H|\\^&||uvmjq4|Bayer7390^01.20\\01.04\\04.02.19^7390-1163170^7396-|A=1^C=63^G=1^I="
         "0200^R=0^S=1^U=1^V=10600^X=070070070099180135180248^Y=360126090050099050300089^Z=1|"
         "209||||||1|201102142249",
         "65"},                                                        /* glucodump */
        {5, "R|3|^^^Glucose|93|mg/dL^P||A/M0/T1||201505261150", "74"}, /* Tidepool */
        {1, "G", "9C"},                                                /* glucodump */
        {2, "F", "9C"},
    };
    for (size_t i = 0; i < LEN(v); i++) {
        char text[FW_CONTOUR_TEXT_MAX];
        int k = snprintf(text, sizeof text, "%s\r", v[i].text);
        uint8_t f[FW_CONTOUR_TEXT_MAX + 8];
        size_t n = fw_contour_frame_make(v[i].fn, text, (size_t)k, false, f, sizeof f);
        assert_int_equal(n, (size_t)k + 7);
        assert_int_equal(f[0], FW_CONTOUR_STX);
        assert_int_equal(f[1], '0' + v[i].fn);
        assert_int_equal(f[n - 5], FW_CONTOUR_ETB);
        assert_memory_equal(f + n - 4, v[i].sum, 2);
        assert_memory_equal(f + n - 2, "\r\n", 2);
        /* over FN .. ETB */
        char hex[3];
        snprintf(hex, sizeof hex, "%02X", fw_contour_checksum(f + 1, n - 5));
        assert_string_equal(hex, v[i].sum);
    }
    uint8_t f[300];
    char long_text[FW_CONTOUR_TEXT_MAX + 1];
    memset(long_text, 'x', sizeof long_text);
    assert_int_equal(fw_contour_frame_make(8, "x", 1, true, f, sizeof f), 0);
    assert_int_equal(fw_contour_frame_make(1, long_text, sizeof long_text, true, f, sizeof f), 0);
    assert_int_equal(fw_contour_frame_make(1, "x", 1, true, f, 7), 0);
    assert_int_equal(fw_contour_frame_make(1, "x", 1, true, f, 8), 8);
    assert_int_equal(f[3], FW_CONTOUR_ETX);
}

static void datetimes(void **state)
{
    (void)state;
    long long t = 0;
    assert_int_equal(fw_contour_datetime("201909221304", 12, &t), 0);
    assert_int_equal(t, 1569157440); /* 2019-09-22 13:04 */
    assert_int_equal(fw_contour_datetime("20261122094512", 14, &t), 0);
    assert_int_equal(t, 1795340712);
    assert_int_equal(fw_contour_datetime("202402291200", 12, &t), 0); /* a leap day */
    static const char *const bad[] = {
        "202502291200", "202613011200", "202600011200",   "202611310000",
        "202611222400", "202611221260", "2026112212",     "2026112212000",
        "20261122120a", "199912312359", "21000101000000", "20261122120060",
    };
    for (size_t i = 0; i < LEN(bad); i++) {
        t = 7;
        assert_int_equal(fw_contour_datetime(bad[i], strlen(bad[i]), &t), FW_EINVAL);
        assert_int_equal(t, 7);
    }
}

static void header_record(void **state)
{
    (void)state;
    struct fw_contour_header h;
    assert_int_equal(fw_contour_header_parse(gu_header, strlen(gu_header), &h), 0);
    assert_int_equal(h.d.field, '|');
    assert_int_equal(h.d.repeat, '\\');
    assert_int_equal(h.d.component, '^');
    assert_int_equal(h.d.escape, '&');
    assert_string_equal(h.product, "Bayer7390");
    assert_string_equal(h.model, "Contour USB");
    assert_string_equal(h.versions, "01.24\\01.04\\09.02.20");
    assert_string_equal(h.serial, "7390-2336773");
    assert_int_equal(h.records, 1714);
    assert_int_equal(h.clock, 1569157440);

    /* glucodump's Contour (7150): field 12 "P", no count; Tidepool's 7350 header. */
    static const char h7150[] = "H|\\^&||-7880|Bayer7150^1.05\\0.00^7150-SAM2193|||||||P|1|"
                                "200305121635";
    assert_int_equal(fw_contour_header_parse(h7150, strlen(h7150), &h), 0);
    assert_string_equal(h.model, "Contour");
    assert_string_equal(h.serial, "7150-SAM2193");
    assert_int_equal(h.records, -1);
    assert_int_equal(h.clock, 1052757300); /* 2003-05-12 16:35 */
    static const char h7350[] =
        "H|\\^&||qvqOi8|Bayer7350^01.14\\01.03\\04.18^7358-1611135^0000-|A=1^C=00^G=es,en\\es\\"
        "it\\de\\fr\\hr\\da\\nl\\fi\\el\\no\\pt\\sl\\sv^I=0200^R=0^S=01^U=0^V=20600^X="
        "070070070180130180070130^Y=120054252099^Z=1|4|||||P|1|201505291248";
    assert_int_equal(fw_contour_header_parse(h7350, strlen(h7350), &h), 0);
    assert_string_equal(h.model, "Contour Next");
    assert_int_equal(h.records, 4);
    assert_int_equal(h.clock, 1432903680); /* 2015-05-29 12:48 */
    /* The Contour Next One's header ends with a field delimiter and has seconds. */
    static const char h7800[] = "H|\\^&||abcdef|Contour7800^01.10\\01.00\\01.00^7800-1234567|A=1^"
                                "C=0^R=0^S=0^U=1^V=10600^X=070130180250^a=0^J=0|5|||||P|1|"
                                "20261122094507|";
    assert_int_equal(fw_contour_header_parse(h7800, strlen(h7800), &h), 0);
    assert_string_equal(h.model, "Contour Next One");
    assert_int_equal(h.clock, 1795340707);
    /* An unknown product keeps its code; a header without a clock has none. */
    assert_int_equal(fw_contour_header_parse("H|\\^&||x|Bayer9999^1^9999-1", 27, &h), 0);
    assert_string_equal(h.model, "");
    assert_string_equal(h.product, "Bayer9999");
    assert_int_equal(h.clock, 0);
    /* Not headers. */
    assert_int_equal(fw_contour_header_parse("P|1", 3, &h), FW_EINVAL);
    assert_int_equal(fw_contour_header_parse("H|\\^", 4, &h), FW_EINVAL);
    assert_int_equal(fw_contour_header_parse("H|||&|", 6, &h), FW_EINVAL);  /* not distinct */
    assert_int_equal(fw_contour_header_parse("H|\\^a|", 6, &h), FW_EINVAL); /* a letter */
    assert_int_equal(fw_contour_header_parse("H|\\^&x", 6, &h), FW_EINVAL); /* no field sep */
    assert_int_equal(fw_contour_header_parse("H|\\^&", 5, &h), 0);
}

static const struct fw_contour_delims dl = {'|', '\\', '^', '&'};

static void result(const char *rec, enum fw_contour_kind kind, double mmol, long long time)
{
    struct fw_contour_result r;
    assert_int_equal(fw_contour_result_parse(rec, strlen(rec), &dl, &r), 0);
    if (r.kind != kind)
        fail_msg("%s: kind %d, expected %d (%s)", rec, r.kind, kind, r.why);
    if (kind == FW_CONTOUR_GLUCOSE) {
        assert_true(fabs(r.value_mmol - mmol) < 1e-9);
        assert_int_equal(r.time, time);
    }
    if (kind == FW_CONTOUR_BAD)
        assert_true(r.why[0]);
}

static void result_records(void **state)
{
    (void)state;
    struct fw_contour_result r;
    /* glucometerutils: 133 mg/dL, plasma, markers B/X. */
    const char *gu = "R|8|^^^Glucose|133|mg/dL^P||B/X||201202052034";
    assert_int_equal(fw_contour_result_parse(gu, strlen(gu), &dl, &r), 0);
    assert_int_equal(r.kind, FW_CONTOUR_GLUCOSE);
    assert_int_equal(r.seq, 8);
    assert_string_equal(r.test, "Glucose");
    assert_true(r.value == 133);
    assert_string_equal(r.unit, "mg/dL");
    assert_string_equal(r.markers, "B/X");
    assert_true(fabs(r.value_mmol - 7.38) < 1e-9); /* 133 / 18.016 = 7.3823 */
    assert_int_equal(r.time, 1328474040);          /* 2012-02-05 20:34 */
    /* glucodump, mmol/L meters: as sent. */
    result("R|67|^^^Glucose|7.9|mmol/L^P||B||201011281949", FW_CONTOUR_GLUCOSE, 7.9, 1290973740);
    result("R|1|^^^Glucose|2.8|mmol/L^P||B||201012142048", FW_CONTOUR_GLUCOSE, 2.8, 1292359680);
    result("R|5|^^^Glucose|10.1|mmol/L^P||||201011131409", FW_CONTOUR_GLUCOSE, 10.1, 1289657340);
    result("R|81|^^^Glucose|11.5|mmol/L^P||A/Z1||201012272001", FW_CONTOUR_GLUCOSE, 11.5,
           1293480060);
    /* Tidepool: markers with hex digits. */
    result("R|3|^^^Glucose|93|mg/dL^P||A/M0/T1||201505261150", FW_CONTOUR_GLUCOSE, 5.16,
           1432641000);
    /* Contour Next One: seconds in the time. */
    result("R|1|^^^Glucose|104|mg/dL^P||F||20261122081530", FW_CONTOUR_GLUCOSE, 5.77, 1795335330);
    /* the units' case is not trusted to be exact */
    result("R|2|^^^Glucose|6.2|mmol/l^P||||202611220815", FW_CONTOUR_GLUCOSE, 6.2, 1795335300);
    /* Not readings. */
    result("R|9|^^^Glucose|121|mg/dL^P||C||202611211010", FW_CONTOUR_CONTROL, 0, 0);
    result("R|9|^^^Glucose|121|mg/dL^P||B/C||202611211010", FW_CONTOUR_CONTROL, 0, 0);
    result("R|9|^^^Glucose|10|mg/dL^P||<||202611211010", FW_CONTOUR_LOW, 0, 0);
    result("R|9|^^^Glucose|600|mg/dL^P||>/A||202611211010", FW_CONTOUR_HIGH, 0, 0);
    result("R|9|^^^Insulin|40|1^||||202611220700", FW_CONTOUR_NOT_GLUCOSE, 0, 0);
    result("R|9|^^^Carb|45|1^||||202611220730", FW_CONTOUR_NOT_GLUCOSE, 0, 0);
    result("R|9|Glucose|5.5|mmol/L^P||||202611220730", FW_CONTOUR_NOT_GLUCOSE, 0, 0);
    result("R|9", FW_CONTOUR_NOT_GLUCOSE, 0, 0);
    /* Glucose results that cannot be taken. */
    result("R|9|^^^Glucose|5.5|g/L^P||||202611220730", FW_CONTOUR_BAD, 0, 0);
    result("R|9|^^^Glucose||mmol/L^P||||202611220730", FW_CONTOUR_BAD, 0, 0);
    result("R|9|^^^Glucose|5,5|mmol/L^P||||202611220730", FW_CONTOUR_BAD, 0, 0);
    result("R|9|^^^Glucose|-5|mmol/L^P||||202611220730", FW_CONTOUR_BAD, 0, 0);
    result("R|9|^^^Glucose|5.5|mmol/L^P||||202613220730", FW_CONTOUR_BAD, 0, 0);
    result("R|9|^^^Glucose|5.5|mmol/L^P", FW_CONTOUR_BAD, 0, 0);
    result("R|9|^^^Glucose|1000|mg/dL^P||||202611220730", FW_CONTOUR_BAD, 0, 0); /* 55.5 */
    result("R|9|^^^Glucose|0.3|mmol/L^P||||202611220730", FW_CONTOUR_BAD, 0, 0);
    result("R|9|^^^Glucose|9|mg/dL^P||||202611220730", FW_CONTOUR_BAD, 0, 0); /* 0.4996 */
    result("R|9|^^^Glucose|10|mg/dL^P||||202611220730", FW_CONTOUR_GLUCOSE, 0.56, 1795332600);
    assert_int_equal(fw_contour_result_parse("P|1", 3, &dl, &r), FW_EINVAL);
    assert_int_equal(fw_contour_result_parse("R", 1, &dl, &r), FW_EINVAL);
    /* Other delimiters, as a header may declare them. */
    struct fw_contour_delims other = {'!', '~', '*', '%'};
    const char *o = "R!4!***Glucose!99!mg/dL*P!!B!!202611220815";
    assert_int_equal(fw_contour_result_parse(o, strlen(o), &other, &r), 0);
    assert_int_equal(r.kind, FW_CONTOUR_GLUCOSE);
    assert_true(fabs(r.value_mmol - 5.5) < 1e-9);
}

/* The header of glucometerutils across four reports (EOT, frame, ENQ), then the conversation
 * of a whole transfer through the decoder. */
static void whole_transfer(void **state)
{
    (void)state;
    struct fw_contour s;
    memset(&s, 0, sizeof s);
    struct got g;
    memset(&g, 0, sizeof g);
    fw_contour_sent(&s, (const uint8_t *)"ABC\x01\x06", 5, 0.0);
    assert_int_equal(s.phase, FW_CONTOUR_ASKED);

    char text[FW_CONTOUR_TEXT_MAX];
    int k = snprintf(text, sizeof text, "%s\r", gu_header);
    uint8_t msg[300];
    msg[0] = FW_CONTOUR_EOT;
    size_t n = 1 + fw_contour_frame_make(1, text, (size_t)k, false, msg + 1, sizeof msg - 1);
    msg[n++] = FW_CONTOUR_ENQ;
    assert_int_equal(n, 196); /* 3 full reports, then 16 bytes */
    /* Report by report: no answer while the message goes on. */
    for (size_t off = 0; off < n; off += 60) {
        size_t len = n - off > 60 ? 60 : n - off;
        uint8_t rep[64];
        fw_contour_report_make(msg + off, len, rep, sizeof rep);
        struct fw_decoded d;
        memset(&d, 0, sizeof d);
        assert_int_equal(fw_contour_decode(&s, rep, sizeof rep, 0.1, &d), 0);
        if (len == 60) {
            assert_int_equal(d.reply_len, 0);
            assert_true(s.more);
            assert_true(fabs(fw_contour_deadline(&s) - (0.1 + FW_CONTOUR_HOLD)) < 1e-9);
        } else {
            assert_int_equal(d.reply_len, 64);
            assert_int_equal(d.reply[4], FW_CONTOUR_ACK); /* the answer to ENQ */
            assert_int_equal(d.device_clock, 1569157440);
            assert_true(d.device_clock_local);
            assert_non_null(d.status);
            assert_non_null(strstr(d.status, "Contour USB (Bayer7390), serial 7390-2336773"));
            assert_non_null(strstr(d.status, "1714 records"));
        }
    }
    assert_int_equal(s.phase, FW_CONTOUR_DATA);
    /* the header again, P, results, L, EOT */
    frame_msg(&s, 1, gu_header, false, 0.2, &g);
    assert_int_equal(g.last_reply, FW_CONTOUR_ACK);
    assert_int_equal(g.clock, 1569157440);
    frame_msg(&s, 2, "P|1", false, 0.3, &g);
    frame_msg(&s, 3, "R|1|^^^Glucose|133|mg/dL^P||B/X||201909200745", false, 0.4, &g);
    assert_int_equal(g.n, 1);
    assert_string_equal(g.r[0].kind, "glucose");
    assert_string_equal(g.r[0].unit, "mmol/L");
    assert_true(fabs(g.r[0].value - 7.38) < 1e-9);
    assert_true(isnan(g.r[0].value2) && isnan(g.r[0].value3));
    assert_true(g.r[0].stored && g.r[0].clock_local);
    assert_int_equal(g.r[0].device_time, 1568965500);
    frame_msg(&s, 4, "R|2|^^^Glucose|121|mg/dL^P||C||201909201010", false, 0.5, &g);
    frame_msg(&s, 5, "R|3|^^^Glucose|10|mg/dL^P||<||201909210700", false, 0.6, &g);
    frame_msg(&s, 6, "R|4|^^^Glucose|600|mg/dL^P||>||201909220712", false, 0.7, &g);
    frame_msg(&s, 7, "R|5|^^^Insulin|40|1^||||201909220715", false, 0.8, &g);
    frame_msg(&s, 0, "R|6|^^^Glucose|x|mg/dL^P||||201909220716", false, 0.9, &g);
    assert_non_null(strstr(g.status, "result 6: no value: skipped"));
    frame_msg(&s, 1, "R|7|^^^Glucose|98|mg/dL^P||||201909221300", false, 1.0, &g);
    frame_msg(&s, 2, "L|1||N", true, 1.1, &g);
    assert_int_equal(g.n, 2);
    assert_int_equal(g.replies, 10); /* one per frame */
    assert_int_equal(g.last_reply, FW_CONTOUR_ACK);
    g.last_reply = 0;
    one_byte(&s, FW_CONTOUR_EOT, 1.2, &g);
    assert_int_equal(g.last_reply, 0); /* nothing answers EOT */
    assert_string_equal(g.status,
                        "download done: 2 glucose readings; not readings: 1 control solution, 1 "
                        "below the meter's range (LO), 1 above the meter's range (HI), 1 not "
                        "glucose (insulin, carbohydrates), 1 unreadable (the last LO/HI at "
                        "2019-09-22 07:12)");
    assert_int_equal(s.phase, FW_CONTOUR_IDLE);
    assert_true(fw_contour_deadline(&s) < 0);
    assert_int_equal(g.refused, 0);
}

static void bad_checksum(void **state)
{
    (void)state;
    struct fw_contour s;
    memset(&s, 0, sizeof s);
    struct got g;
    memset(&g, 0, sizeof g);
    one_byte(&s, FW_CONTOUR_ENQ, 0, &g);
    assert_int_equal(g.last_reply, FW_CONTOUR_ACK);
    /* glucodump's frame with one digit changed: 7.9 -> 7.8 under 7.9's checksum (04). */
    const char *good = "\x02"
                       "1R|67|^^^Glucose|7.9|mmol/L^P||B||201011281949\r\x17"
                       "04\r\n";
    char bad[80];
    snprintf(bad, sizeof bad, "%s", good);
    strstr(bad, "7.9")[2] = '8';
    message(&s, (const uint8_t *)bad, strlen(bad), 1, &g);
    assert_int_equal(g.n, 0);
    assert_int_equal(g.last_reply, FW_CONTOUR_NAK);
    assert_string_equal(g.status, "frame 1: checksum 04, computed 03: asked again (NAK)");
    /* the meter sends it again: taken */
    message(&s, (const uint8_t *)good, strlen(good), 2, &g);
    assert_int_equal(g.n, 1);
    assert_true(fabs(g.r[0].value - 7.9) < 1e-9);
    assert_int_equal(g.last_reply, FW_CONTOUR_ACK);
    /* a checksum in lower case is read (contour-next accepts it) */
    const char *lower = "\x02"
                        "2R|60|^^^Glucose|7.9|mmol/L^P||B||201011281949\r\x17"
                        "fe\r\n";
    message(&s, (const uint8_t *)lower, strlen(lower), 3, &g);
    assert_int_equal(g.n, 2);
    /* a checksum that is not hex: the frame is broken */
    const char *nohex = "\x02"
                        "3R|69|^^^Glucose|7.9|mmol/L^P||B||201011281949\r\x17"
                        "0G\r\n";
    message(&s, (const uint8_t *)nohex, strlen(nohex), 4, &g);
    assert_int_equal(g.n, 2);
    assert_int_equal(g.last_reply, FW_CONTOUR_NAK);
    assert_non_null(strstr(g.status, "without its checksum"));
}

static void etb_continuation(void **state)
{
    (void)state;
    struct fw_contour s;
    memset(&s, 0, sizeof s);
    struct got g;
    memset(&g, 0, sizeof g);
    one_byte(&s, FW_CONTOUR_ENQ, 0, &g);
    frame_msg(&s, 1, gu_header, false, 0, &g);
    /* A result split over two frames: the first (ETB) ends without the record's CR. */
    const char *a = "R|1|^^^Glucose|1", *b = "33|mg/dL^P||B||202611220815\r";
    uint8_t f[300];
    size_t n = fw_contour_frame_make(2, a, strlen(a), false, f, sizeof f);
    message(&s, f, n, 1, &g);
    assert_int_equal(g.n, 0);
    assert_int_equal(g.last_reply, FW_CONTOUR_ACK);
    n = fw_contour_frame_make(3, b, strlen(b), false, f, sizeof f);
    message(&s, f, n, 2, &g);
    assert_int_equal(g.n, 1);
    assert_true(fabs(g.r[0].value - 7.38) < 1e-9);
    assert_int_equal(g.r[0].device_time, 1795335300);
    /* Two records in one frame; the last part of a message ends with ETX (no CR needed). */
    const char *two = "R|2|^^^Glucose|5.5|mmol/L^P||||202611220816\rR|3|^^^Glucose|6.5|mmol/"
                      "L^P||||202611220817\rL|1||N";
    n = fw_contour_frame_make(4, two, strlen(two), true, f, sizeof f);
    message(&s, f, n, 3, &g);
    assert_int_equal(g.n, 3);
    assert_true(fabs(g.r[2].value - 6.5) < 1e-9);
    assert_int_equal(s.term, 'N');
    /* A record cut short by ENQ (the meter starts again) is dropped, not joined. */
    n = fw_contour_frame_make(5, "R|4|^^^Glucose|9", 16, false, f, sizeof f);
    message(&s, f, n, 4, &g);
    one_byte(&s, FW_CONTOUR_ENQ, 5, &g);
    frame_msg(&s, 1, "R|4|^^^Glucose|7.1|mmol/L^P||||202611220818", false, 6, &g);
    assert_int_equal(g.n, 4);
    assert_true(fabs(g.r[3].value - 7.1) < 1e-9);
}

/* The O record of glucodump: report type Q marks the results after it as control. */
static void order_and_terminator(void **state)
{
    (void)state;
    struct fw_contour s;
    memset(&s, 0, sizeof s);
    struct got g;
    memset(&g, 0, sizeof g);
    one_byte(&s, FW_CONTOUR_ENQ, 0, &g);
    frame_msg(&s, 1, "H|\\^&||x|Bayer7150^1.05\\0.00^7150-SAM2193|||||||P|1|200305121635", false, 0,
              &g);
    frame_msg(&s, 2, "P|1", false, 0, &g);
    frame_msg(&s, 3, "O|2||||||||||Q", false, 0, &g);
    frame_msg(&s, 4, "R|1|^^^Glucose|5.5|mmol/L^P||||200305121000", false, 0, &g);
    assert_int_equal(g.n, 0);
    assert_int_equal(s.control, 1);
    frame_msg(&s, 5, "O|3", false, 0, &g);
    frame_msg(&s, 6, "R|1|^^^Glucose|5.6|mmol/L^P||||200305121010", false, 0, &g);
    assert_int_equal(g.n, 1);
    frame_msg(&s, 7, "O|4||||||||||Q", false, 0, &g);
    frame_msg(&s, 0, "P|2", false, 0, &g); /* a new patient: the order is over */
    frame_msg(&s, 1, "R|1|^^^Glucose|5.7|mmol/L^P||||200305121020", false, 0, &g);
    assert_int_equal(g.n, 2);
    frame_msg(&s, 2, "C|1|comment", false, 0, &g); /* comments are nothing to take */
    frame_msg(&s, 3, "L|1||Q", true, 0, &g);
    one_byte(&s, FW_CONTOUR_EOT, 0, &g);
    assert_non_null(strstr(g.status, "download done: 2 glucose readings; not readings: 1 "
                                     "control solution"));
    assert_non_null(strstr(g.status, "the meter ended abnormally (code Q)"));
}

static void foreign_report(void **state)
{
    (void)state;
    struct fw_contour s, before;
    memset(&s, 0, sizeof s);
    struct got g;
    memset(&g, 0, sizeof g);
    one_byte(&s, FW_CONTOUR_ENQ, 0, &g);
    /* half a frame, then a report from something else: refused, nothing changes */
    message(&s,
            (const uint8_t *)"\x02"
                             "1H|\\^&",
            7, 0, &g);
    memcpy(&before, &s, sizeof s);
    static const uint8_t scale[] = {0x03, 0x04, 0x03, 0xff, 0x70, 0x02};
    struct fw_decoded d;
    memset(&d, 0, sizeof d);
    assert_int_equal(fw_contour_decode(&s, scale, sizeof scale, 1, &d), FW_EINVAL);
    assert_non_null(strstr(d.why, "not a Contour report"));
    assert_non_null(strstr(d.why, "starting 03 04 03 ff"));
    assert_int_equal(d.nreadings, 0);
    assert_int_equal(d.reply_len, 0);
    assert_memory_equal(&s, &before, sizeof s);
}

static void resync(void **state)
{
    (void)state;
    struct fw_contour s;
    memset(&s, 0, sizeof s);
    struct got g;
    memset(&g, 0, sizeof g);
    /* Noise before anything was asked gets no answer (a NAK there can switch the meter to
     * its command mode). */
    message(&s, (const uint8_t *)"\x00\x13zz", 4, 0, &g);
    assert_int_equal(g.replies, 0);
    one_byte(&s, FW_CONTOUR_ENQ, 0, &g);
    assert_int_equal(g.last_reply, FW_CONTOUR_ACK);
    /* during the transfer, noise alone: NAK, so that the meter sends its frame again */
    message(&s, (const uint8_t *)"garbage", 7, 0, &g);
    assert_int_equal(g.last_reply, FW_CONTOUR_NAK);
    /* a frame without a number, one cut by the next STX, one cut by the message's end */
    uint8_t f[200];
    const char *rec = "R|1|^^^Glucose|5.5|mmol/L^P||||202611220816\r";
    size_t n = fw_contour_frame_make(1, rec, strlen(rec), false, f, sizeof f);
    uint8_t msg[400];
    size_t k = 0;
    msg[k++] = FW_CONTOUR_STX;
    msg[k++] = 'x';
    memcpy(msg + k, f, 20);
    k += 20;
    memcpy(msg + k, f, n); /* the whole frame after the cut one */
    k += n;
    g.last_reply = 0;
    message(&s, msg, k, 1, &g);
    assert_int_equal(g.n, 1);
    assert_int_equal(g.last_reply, FW_CONTOUR_ACK);
    n = fw_contour_frame_make(2, rec, strlen(rec), false, f, sizeof f);
    message(&s, f, n - 3, 2, &g); /* no checksum's end, no CR LF */
    assert_int_equal(g.n, 1);
    assert_int_equal(g.last_reply, FW_CONTOUR_NAK);
    assert_non_null(strstr(g.status, "cut short"));
    /* a frame whose text runs on past 240 characters: dropped, then found again */
    uint8_t longf[300];
    longf[0] = FW_CONTOUR_STX;
    longf[1] = '2';
    memset(longf + 2, 'y', 260);
    message(&s, longf, 262, 3, &g);
    assert_int_equal(g.last_reply, FW_CONTOUR_NAK);
    assert_non_null(strstr(g.status, "longer than 240"));
    /* CR LF missing after the checksum; an LF inside the text */
    memcpy(msg, f, n);
    msg[n - 2] = 'x';
    message(&s, msg, n, 4, &g);
    assert_int_equal(g.last_reply, FW_CONTOUR_NAK);
    memcpy(msg, f, n);
    msg[10] = '\n';
    message(&s, msg, n, 5, &g);
    assert_int_equal(g.last_reply, FW_CONTOUR_NAK);
    assert_int_equal(g.n, 1);
    message(&s, f, n, 6, &g);
    assert_int_equal(g.n, 2);
    assert_int_equal(g.last_reply, FW_CONTOUR_ACK);
    /* a repeat of the last frame (our ACK went astray): ACKed, not taken twice */
    message(&s, f, n, 7, &g);
    assert_int_equal(g.n, 2);
    assert_int_equal(g.last_reply, FW_CONTOUR_ACK);
    /* a frame number that is neither the last nor the next: NAK */
    n = fw_contour_frame_make(5, rec, strlen(rec), false, f, sizeof f);
    message(&s, f, n, 8, &g);
    assert_int_equal(g.n, 2);
    assert_int_equal(g.last_reply, FW_CONTOUR_NAK);
    assert_string_equal(g.status, "frame 5 came where 3 was due: asked again (NAK)");
    assert_int_equal(g.refused, 0);
}

/* More results in one report than a call gives: the rest come at once from the timeout. */
static void many_in_one_frame(void **state)
{
    (void)state;
    struct fw_contour s;
    memset(&s, 0, sizeof s);
    struct got g;
    memset(&g, 0, sizeof g);
    one_byte(&s, FW_CONTOUR_ENQ, 0, &g);
    char text[FW_CONTOUR_TEXT_MAX];
    size_t k = 0;
    for (int i = 0; i < 5; i++) /* 42 characters each: 210 in the frame */
        k += (size_t)snprintf(text + k, sizeof text - k,
                              "R|%d|^^^Glucose|%d|mg/dL^P||||20261122081%d\r", i + 1, 90 + i, i);
    uint8_t f[300];
    size_t n = fw_contour_frame_make(1, text, k, false, f, sizeof f);
    assert_int_equal(n, 217);
    message(&s, f, n, 10, &g);
    assert_int_equal(g.n, 4);
    assert_int_equal(s.nqueue, 1);
    assert_true(fabs(fw_contour_deadline(&s) - 10) < 1e-9);
    struct fw_decoded d;
    memset(&d, 0, sizeof d);
    assert_int_equal(fw_contour_timeout(&s, 10, &d), 0);
    take(&g, &d);
    assert_int_equal(g.n, 5);
    for (int i = 0; i < 5; i++)
        assert_int_equal(g.r[i].device_time, 1795335000 + 60 * i);
    assert_int_equal(s.nqueue, 0);
}

/* A message that fills its last report exactly: the answer waits FW_CONTOUR_HOLD, then goes. */
static void full_last_report(void **state)
{
    (void)state;
    struct fw_contour s;
    memset(&s, 0, sizeof s);
    struct got g;
    memset(&g, 0, sizeof g);
    one_byte(&s, FW_CONTOUR_ENQ, 0, &g);
    /* a frame of exactly 60 bytes: 53 characters of text */
    char rec[64];
    snprintf(rec, sizeof rec, "%s", "R|1|^^^Glucose|133|mg/dL^P||B/X/Z8/D/S||202611220815\r");
    assert_int_equal(strlen(rec), 53);
    uint8_t f[80], rep[64];
    assert_int_equal(fw_contour_frame_make(1, rec, 53, false, f, sizeof f), 60);
    fw_contour_report_make(f, 60, rep, sizeof rep);
    struct fw_decoded d;
    memset(&d, 0, sizeof d);
    assert_int_equal(fw_contour_decode(&s, rep, 64, 5, &d), 0);
    assert_int_equal(d.nreadings, 1);
    assert_int_equal(d.reply_len, 0);
    assert_true(fabs(fw_contour_deadline(&s) - 5.5) < 1e-9);
    memset(&d, 0, sizeof d);
    assert_int_equal(fw_contour_timeout(&s, 5.5, &d), 0);
    assert_int_equal(d.reply_len, 64);
    assert_int_equal(d.reply[4], FW_CONTOUR_ACK);
    assert_false(s.more);
}

static void driver_row(void **state)
{
    (void)state;
    const struct fw_driver *d = fw_driver_find("contour");
    assert_non_null(d);
    assert_string_equal(d->transport, "usb-hid");
    assert_ptr_equal(fw_driver_for_usb(0x1a79, 0x6002, "usb-hid"), d);
    assert_ptr_equal(fw_driver_for_usb(0x1a79, 0x7410, "usb-hid"), d);
    assert_true(d->state_size >= sizeof(struct fw_contour));
    static struct fw_contour s;
    memset(&s, 0, sizeof s);
    uint8_t out[64];
    assert_int_equal(d->start(&s, out, sizeof out), 64);
    assert_memory_equal(out, "ABC\x01\x06\x00", 6);
    d->sent(&s, out, 64, 100); /* the manager tells the driver what it sent */
    assert_int_equal(s.phase, FW_CONTOUR_ASKED);
    assert_true(fabs(d->deadline(&s) - (100 + FW_CONTOUR_SILENCE)) < 1e-9);
    struct fw_decoded o;
    memset(&o, 0, sizeof o);
    assert_int_equal(d->action(&s, "download", 101, &o), FW_EBUSY);
    assert_int_equal(d->action(&s, "erase", 101, &o), FW_EINVAL);
    assert_non_null(strstr(o.why, "download"));
    /* no answer: given up, and said so */
    memset(&o, 0, sizeof o);
    assert_int_equal(d->timeout(&s, 130, &o), 0);
    assert_non_null(o.status);
    assert_non_null(strstr(o.status, "did not answer"));
    assert_int_equal(s.phase, FW_CONTOUR_IDLE);
    assert_true(d->deadline(&s) < 0);
    /* then a download: EOT */
    memset(&o, 0, sizeof o);
    assert_int_equal(d->action(&s, "download", 140, &o), FW_OK);
    assert_int_equal(o.reply_len, 64);
    assert_memory_equal(o.reply, "ABC\x01\x04", 5);
    assert_int_equal(s.phase, FW_CONTOUR_ASKED);
    /* a transfer that stops in the middle */
    struct got g;
    memset(&g, 0, sizeof g);
    one_byte(&s, FW_CONTOUR_ENQ, 141, &g);
    frame_msg(&s, 1, gu_header, false, 141, &g);
    frame_msg(&s, 2, "R|1|^^^Glucose|133|mg/dL^P||||202611220815", false, 142, &g);
    memset(&o, 0, sizeof o);
    assert_int_equal(d->timeout(&s, 142 + FW_CONTOUR_SILENCE, &o), 0);
    assert_non_null(strstr(o.status, "fell silent (1 glucose readings so far)"));
    /* the host entering the meter's command mode (ENQ) is not a transfer: no noise NAKs */
    d->sent(&s, (const uint8_t *)"\0\0\0\x01\x05", 5, 200);
    assert_int_equal(s.phase, FW_CONTOUR_IDLE);
    memset(&g, 0, sizeof g);
    message(&s, (const uint8_t *)"D|0|\r\n\x06", 7, 200, &g);
    assert_int_equal(g.replies, 0);
    /* host reports that are not ones are ignored */
    d->sent(&s, (const uint8_t *)"ABC", 3, 201);
    d->sent(&s, (const uint8_t *)"ABC\x3d\x06", 5, 201);
    assert_int_equal(s.phase, FW_CONTOUR_IDLE);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(reports),
        cmocka_unit_test(checksums),
        cmocka_unit_test(datetimes),
        cmocka_unit_test(header_record),
        cmocka_unit_test(result_records),
        cmocka_unit_test(whole_transfer),
        cmocka_unit_test(bad_checksum),
        cmocka_unit_test(etb_continuation),
        cmocka_unit_test(order_and_terminator),
        cmocka_unit_test(foreign_report),
        cmocka_unit_test(resync),
        cmocka_unit_test(many_in_one_frame),
        cmocka_unit_test(full_last_report),
        cmocka_unit_test(driver_row),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
