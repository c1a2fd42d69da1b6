/* The pure parts of the printer transports: URIs, status answers, resynchronisation bytes and
 * the printer timing model, on real byte vectors. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>

#include <cmocka.h>
#include <string.h>

#include "fw_printer.h"

static void uri_valid(void **state)
{
    (void)state;
    struct fw_uri u;
    char err[200];
    assert_int_equal(fw_uri_parse("usb:", &u, err, sizeof err), FW_OK);
    assert_int_equal(u.kind, FW_URI_USB);
    assert_int_equal(u.vid, 0);
    assert_int_equal(fw_uri_parse("usb", &u, err, sizeof err), FW_OK);
    assert_int_equal(fw_uri_parse("usb:0416:5011", &u, err, sizeof err), FW_OK);
    assert_int_equal(u.vid, 0x0416);
    assert_int_equal(u.pid, 0x5011);
    assert_string_equal(u.serial, "");
    assert_int_equal(fw_uri_parse("usb:04b8:0e15:J7YF012345", &u, err, sizeof err), FW_OK);
    assert_int_equal(u.vid, 0x04b8);
    assert_int_equal(u.pid, 0x0e15);
    assert_string_equal(u.serial, "J7YF012345");
    assert_int_equal(fw_uri_parse("lp:/dev/usb/lp0", &u, err, sizeof err), FW_OK);
    assert_int_equal(u.kind, FW_URI_LP);
    assert_string_equal(u.path, "/dev/usb/lp0");
    assert_int_equal(
        fw_uri_parse("serial:/dev/ttyAMA0?baud=19200&busy=gpiochip0:17", &u, err, sizeof err),
        FW_OK);
    assert_int_equal(u.kind, FW_URI_SERIAL);
    assert_string_equal(u.path, "/dev/ttyAMA0");
    assert_int_equal(u.baud, 19200);
    assert_string_equal(u.gpio_chip, "gpiochip0");
    assert_int_equal(u.gpio_line, 17);
    assert_int_equal(fw_uri_parse("serial:/dev/serial0", &u, err, sizeof err), FW_OK);
    assert_int_equal(u.baud, 0);
    assert_string_equal(u.gpio_chip, "");
    assert_int_equal(fw_uri_parse("file:out/printer.bin", &u, err, sizeof err), FW_OK);
    assert_int_equal(u.kind, FW_URI_FILE);
    assert_string_equal(u.path, "out/printer.bin");
    assert_int_equal(fw_uri_parse("sim:prints/ticket?bps=1920", &u, err, sizeof err), FW_OK);
    assert_int_equal(u.kind, FW_URI_SIM);
    assert_string_equal(u.path, "prints/ticket");
    assert_int_equal(u.bps, 1920);
}

static void uri_invalid(void **state)
{
    (void)state;
    static const char *const bad[] = {
        "",
        "http://printer",
        "usb:zz:1",
        "usb:0416",
        "usb:0416:",
        "usb:00000:1",
        "usb:0000:0000",
        "usb:0416:5011:",
        "lp:",
        "lp:dev/usb/lp0",
        "lp:/dev/usb/lp0?baud=9600",
        "serial:ttyS0",
        "serial:/dev/ttyS0?baud=fast",
        "serial:/dev/ttyS0?baud=10",
        "serial:/dev/ttyS0?baud=14400", /* not a speed termios has */
        "serial:/dev/ttyS0?busy=gpiochip0",
        "serial:/dev/ttyS0?busy=:17",
        "serial:/dev/ttyS0?busy=gpiochip0:x",
        "serial:/dev/ttyS0?parity=even",
        "serial:/dev/ttyS0?baud",
        "file:",
        "file:a?b=c",
        "sim:x?bps=0",
        "sim:x?baud=9600",
        "sim:a\nb",
    };
    for (size_t i = 0; i < sizeof bad / sizeof bad[0]; i++) {
        struct fw_uri u;
        char err[200] = "";
        if (fw_uri_parse(bad[i], &u, err, sizeof err) != FW_EINVAL)
            fail_msg("accepted \"%s\"", bad[i]);
        assert_true(err[0] != '\0');
    }
    struct fw_uri u;
    char err[200];
    assert_int_equal(fw_uri_parse(NULL, &u, err, sizeof err), FW_EINVAL);
}

static void escpos_status(void **state)
{
    (void)state;
    enum fw_printer_state s = FW_PRINTER_OFFLINE;
    /* DLE EOT 4 answers of an Epson TM-T20: paper present; near end (bits 2-3) is still ready;
     * paper end (bits 5-6). */
    assert_int_equal(fw_escpos_paper_status(0x12, &s), FW_OK);
    assert_int_equal(s, FW_PRINTER_READY);
    assert_int_equal(fw_escpos_paper_status(0x1e, &s), FW_OK);
    assert_int_equal(s, FW_PRINTER_READY);
    assert_int_equal(fw_escpos_paper_status(0x72, &s), FW_OK);
    assert_int_equal(s, FW_PRINTER_PAPER_OUT);
    assert_int_equal(fw_escpos_paper_status(0x7e, &s), FW_OK);
    assert_int_equal(s, FW_PRINTER_PAPER_OUT);
    /* Not an answer: fixed bits wrong (a stray text byte, a XOFF). */
    assert_int_equal(fw_escpos_paper_status(0x00, &s), FW_EINVAL);
    assert_int_equal(fw_escpos_paper_status(0x41, &s), FW_EINVAL);
    assert_int_equal(fw_escpos_paper_status(0x13, &s), FW_EINVAL);
    assert_int_equal(fw_escpos_paper_status(0x92, &s), FW_EINVAL);
}

static void zpl_status(void **state)
{
    (void)state;
    enum fw_printer_state s = FW_PRINTER_UNKNOWN;
    static const char ok[] = "\x02"
                             "030,0,0,0245,000,0,0,0,000,0,0,0\x03\r\n"
                             "\x02"
                             "000,0,0,0,1,2,4,0,00000000,1,000\x03\r\n"
                             "\x02"
                             "1234,0\x03\r\n";
    assert_int_equal(fw_zpl_host_status((const uint8_t *)ok, sizeof ok - 1, &s), FW_OK);
    assert_int_equal(s, FW_PRINTER_READY);
    static const char paper[] = "\x02"
                                "030,1,0,0245,000,0,0,0,000,0,0,0\x03\r\n";
    assert_int_equal(fw_zpl_host_status((const uint8_t *)paper, sizeof paper - 1, &s), FW_OK);
    assert_int_equal(s, FW_PRINTER_PAPER_OUT);
    static const char paused[] = "\x02"
                                 "030,0,1,0245,000,0,0,0,000,0,0,0\x03\r\n";
    assert_int_equal(fw_zpl_host_status((const uint8_t *)paused, sizeof paused - 1, &s), FW_OK);
    assert_int_equal(s, FW_PRINTER_OFFLINE);
    static const char *const bad[] = {"", "030,0,0,0245,000,0,0,0,000,0,0,0",
                                      "\x02"
                                      "030,0,0,0245\x03",
                                      "\x02"
                                      "030,0,0,0245,000,0,0,0,000,0,0,0,9\x03",
                                      "\x02"
                                      "030,x,0,0245,000,0,0,0,000,0,0,0\x03",
                                      "\x02"
                                      "030,0,0,0245,000,0,0,0,000,0,0,0",
                                      /* 13 fields (found by the fuzzer: it wrote past 12) */
                                      "\x02"
                                      "03045,000,0,0,0,000,0,,1,0,0245,000,0\x03"};
    for (size_t i = 0; i < sizeof bad / sizeof bad[0]; i++)
        assert_int_equal(fw_zpl_host_status((const uint8_t *)bad[i], strlen(bad[i]), &s),
                         FW_EINVAL);
}

static void status_query_and_resync(void **state)
{
    (void)state;
    const struct fw_profile *escpos = fw_profile_find("escpos-58");
    const struct fw_profile *zpl = fw_profile_find("zebra-hc100");
    struct fw_buf b;
    fw_buf_init(&b);
    fw_status_query(escpos, &b);
    assert_int_equal(b.len, 3);
    assert_memory_equal(b.data, "\x10\x04\x04", 3);
    b.len = 0;
    fw_status_query(zpl, &b);
    assert_int_equal(b.len, 3);
    assert_memory_equal(b.data, "~HS", 3);
    /* 58 mm: a band of 24 rows of 48 bytes may be waiting; then ESC @. */
    b.len = 0;
    fw_resync_bytes(escpos, &b);
    assert_int_equal(b.len, 48 * 24 + 2);
    for (size_t i = 0; i < 48 * 24; i++)
        assert_int_equal(b.data[i], 0);
    assert_memory_equal(b.data + 48 * 24, "\x1b@", 2);
    b.len = 0;
    fw_resync_bytes(fw_profile_find("escpos-80"), &b);
    assert_int_equal(b.len, 72 * 24 + 2);
    b.len = 0;
    fw_resync_bytes(zpl, &b);
    assert_int_equal(b.len, 9);
    assert_memory_equal(b.data, "~JA^XA^XZ", 9);
    fw_buf_free(&b);
}

static void pace_cost(void **state)
{
    (void)state;
    /* 11 bits at 19200 baud: 573 µs a byte. */
    assert_int_equal(fw_pace_cost((const uint8_t *)"\x1b@", 2, 19200, NULL), 2 * 573);
    /* A text line: 24 dot rows printed, 6 fed. */
    assert_int_equal(fw_pace_cost((const uint8_t *)"A\n", 2, 19200, NULL),
                     2 * 573 + 24 * FW_PACE_DOT_PRINT_US + 6 * FW_PACE_DOT_FEED_US);
    /* An empty line is fed, not printed. */
    assert_int_equal(fw_pace_cost((const uint8_t *)"\n", 1, 19200, NULL),
                     573 + 30 * FW_PACE_DOT_FEED_US);
    /* ESC d 3: three lines fed. */
    assert_int_equal(fw_pace_cost((const uint8_t *)"\x1b\x64\x03", 3, 19200, NULL),
                     3 * 573 + 90 * FW_PACE_DOT_FEED_US);
    /* ESC J 40 after text: the text line prints, then 40 dots. */
    assert_int_equal(fw_pace_cost((const uint8_t *)"AB\x1bJ\x28", 5, 19200, NULL),
                     5 * 573 + 24 * FW_PACE_DOT_PRINT_US + 40 * FW_PACE_DOT_FEED_US);
    /* GS v 0: one byte wide, two rows. */
    static const uint8_t raster[] = {0x1d, 'v', '0', 0, 1, 0, 2, 0, 0xff, 0x81};
    assert_int_equal(fw_pace_cost(raster, sizeof raster, 19200, NULL),
                     10 * 573 + 2 * FW_PACE_DOT_PRINT_US);
    /* Native QR print (GS ( k, cn 49, fn 81): a fixed guess of 200 rows. */
    static const uint8_t qr[] = {0x1d, '(', 'k', 3, 0, 49, 81, 48};
    assert_int_equal(fw_pace_cost(qr, sizeof qr, 19200, NULL),
                     8 * 573 + 200 * FW_PACE_DOT_PRINT_US);
    /* Text waiting from an earlier call prints at this LF. */
    bool text = false;
    assert_int_equal(fw_pace_cost((const uint8_t *)"AB", 2, 19200, &text), 2 * 573);
    assert_true(text);
    assert_int_equal(fw_pace_cost((const uint8_t *)"\n", 1, 19200, &text),
                     573 + 24 * FW_PACE_DOT_PRINT_US + 6 * FW_PACE_DOT_FEED_US);
    assert_false(text);
    /* A lone GS or ESC at the end (a job cut short) costs its byte, nothing more (the fuzzer
     * found this read past the buffer). */
    assert_int_equal(fw_pace_cost((const uint8_t *)"\x1d", 1, 19200, NULL), 573);
    assert_int_equal(fw_pace_cost((const uint8_t *)"A\x1b", 2, 19200, NULL), 2 * 573);
    /* No baud (USB): only the printing. */
    assert_int_equal(fw_pace_cost((const uint8_t *)"A\n", 2, 0, NULL),
                     24 * FW_PACE_DOT_PRINT_US + 6 * FW_PACE_DOT_FEED_US);
}

static void pace_split(void **state)
{
    (void)state;
    static const uint8_t job[] = {0x1b, '@', 'H',  'i',  0x1d, 'v',  '0', 0,  1, 0,
                                  2,    0,   0xff, 0x81, '\n', 0x1d, 'V', 66, 0};
    /* One command at a time. */
    assert_int_equal(fw_pace_split(job, sizeof job, 1), 2);           /* ESC @ */
    assert_int_equal(fw_pace_split(job + 2, sizeof job - 2, 1), 1);   /* H */
    assert_int_equal(fw_pace_split(job + 4, sizeof job - 4, 1), 10);  /* the whole image */
    assert_int_equal(fw_pace_split(job + 15, sizeof job - 15, 1), 4); /* GS V 66 0 */
    /* Up to max bytes, at a command boundary. */
    assert_int_equal(fw_pace_split(job, sizeof job, 5), 4);
    assert_int_equal(fw_pace_split(job, sizeof job, 14), 14);
    assert_int_equal(fw_pace_split(job, sizeof job, 100), sizeof job);
    /* A command cut off at the end is taken whole (what is left of it). */
    assert_int_equal(fw_pace_split(job + 4, 5, 1), 5);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(uri_valid),
        cmocka_unit_test(uri_invalid),
        cmocka_unit_test(escpos_status),
        cmocka_unit_test(zpl_status),
        cmocka_unit_test(status_query_and_resync),
        cmocka_unit_test(pace_cost),
        cmocka_unit_test(pace_split),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
