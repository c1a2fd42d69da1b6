/* The kit's Wi-Fi settings file (app/print/wifi.c): the file first boot writes, what an editor
 * may add to it, and every way a file is refused, each with its line; the Wi-Fi QR payload
 * as exact strings. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>

#include <cmocka.h>
#include <stdio.h>
#include <string.h>

#include "../../app/common/err.h"
#include "../../app/print/wifi.h"

static char err[300];

/* Parses the n bytes of s (NUL bytes included when n says so). */
static int parse_n(const char *s, size_t n, struct wifi_conf *w)
{
    err[0] = '\0';
    return wifi_conf_parse(s, n, w, err, sizeof err);
}

static int parse(const char *s, struct wifi_conf *w)
{
    return parse_n(s, strlen(s), w);
}

/* A refusal whose message holds want (a line number and the reason); *w is left zeroed. */
static void refused(const char *s, size_t n, const char *want)
{
    struct wifi_conf w;
    memset(&w, 0x55, sizeof w);
    int rc = parse_n(s, n, &w);
    if (rc != MK_EINVAL || !strstr(err, want))
        fail_msg("%s: rc %d, message \"%s\", wanted \"%s\"", s, rc, err, want);
    assert_int_equal(w.nurls, 0);
    assert_string_equal(w.ssid, "");
    assert_string_equal(w.password, "");
}

#define REFUSED(lit, want) refused(lit, sizeof lit - 1, want)

static void first_boot_file(void **state)
{
    (void)state;
    struct wifi_conf w;
    assert_int_equal(parse("ssid mokit-7F3A\n"
                           "password kT9vQ2mX7pLr\n"
                           "url http://mokit.local/\n"
                           "url http://10.42.0.1/\n",
                           &w),
                     MK_OK);
    assert_string_equal(w.ssid, "mokit-7F3A");
    assert_string_equal(w.password, "kT9vQ2mX7pLr");
    assert_int_equal(w.nurls, 2);
    assert_string_equal(w.url[0], "http://mokit.local/");
    assert_string_equal(w.url[1], "http://10.42.0.1/");
}

static void edited_files(void **state)
{
    (void)state;
    struct wifi_conf w;
    /* A BOM, CRLF, comments, blank lines, tabs, indentation, no final newline; '#' inside a
     * value and spaces inside the name are kept; trailing blanks are not. */
    static const char windows[] = "\xef\xbb\xbf# the kit's network\r\n"
                                  "\r\n"
                                  "  ssid\tTrạm y tế  Tả Van \r\n"
                                  "   # password changed on 22/11\r\n"
                                  "password   a b#c;d,e:f\"g\\h  \t\r\n"
                                  "url https://mokit.local:8443/ui";
    assert_int_equal(parse(windows, &w), MK_OK);
    assert_string_equal(w.ssid, "Trạm y tế  Tả Van");
    assert_string_equal(w.password, "a b#c;d,e:f\"g\\h");
    assert_int_equal(w.nurls, 1);
    assert_string_equal(w.url[0], "https://mokit.local:8443/ui");
    /* An open network: no password line. Four urls, the most there may be. */
    assert_int_equal(parse("ssid open\nurl http://a/\nurl http://b/\nurl http://c/\n"
                           "url http://d/\n",
                           &w),
                     MK_OK);
    assert_string_equal(w.password, "");
    assert_int_equal(w.nurls, 4);
    assert_string_equal(w.url[3], "http://d/");
    /* The limits themselves: 32 bytes of name (16 x the 2 bytes of "Đ"), 8 and 63 characters
     * of password. */
    assert_int_equal(parse("ssid ĐĐĐĐĐĐĐĐĐĐĐĐĐĐĐĐ\npassword 12345678\nurl http://x\n", &w), MK_OK);
    assert_int_equal(strlen(w.ssid), 32);
    assert_int_equal(parse("ssid x\npassword "
                           "123456789012345678901234567890123456789012345678901234567890123\n"
                           "url http://x\n",
                           &w),
                     MK_OK);
    assert_int_equal(strlen(w.password), 63);
}

static void refusals(void **state)
{
    (void)state;
    REFUSED("ssid a\nurl http://a/\nssid b\n", "line 3: ssid given twice (first on line 1)");
    REFUSED("ssid a\npassword 12345678\n\npassword 87654321\nurl http://a/\n",
            "line 4: password given twice (first on line 2)");
    REFUSED("ssid a\nurl http://a/\ncolour blue\n", "line 3: unknown name \"colour\"");
    REFUSED("SSID a\nurl http://a/\n", "line 1: unknown name \"SSID\"");
    REFUSED("ssid a\nurl http://a/\nssid=b\n", "line 3: unknown name \"ssid=b\"");
    REFUSED("ssid\nurl http://a/\n", "line 1: ssid needs a value");
    REFUSED("ssid a\npassword   \nurl http://a/\n",
            "line 2: password needs a value (leave the line out for an open network)");
    REFUSED("ssid 123456789012345678901234567890123\nurl http://a/\n",
            "line 1: the Wi-Fi name (ssid) is 33 bytes: at most 32");
    /* 17 x "Đ": 34 bytes. */
    REFUSED("ssid ĐĐĐĐĐĐĐĐĐĐĐĐĐĐĐĐĐ\nurl http://a/\n", "is 34 bytes: at most 32");
    REFUSED("ssid a\npassword 1234567\nurl http://a/\n",
            "line 2: the password is 7 characters: WPA2 needs 8 to 63");
    REFUSED("ssid a\npassword "
            "1234567890123456789012345678901234567890123456789012345678901234\nurl http://a/\n",
            "line 2: the password is 64 characters: WPA2 needs 8 to 63");
    REFUSED("ssid a\npassword mậtkhẩu123\nurl http://a/\n",
            "line 2: the password must be printable ASCII (a WPA2 passphrase): byte 0xe1");
    REFUSED("ssid a\npassword abc\tdefgh\nurl http://a/\n",
            "line 2: the password must be printable ASCII (a WPA2 passphrase): byte 0x09");
    REFUSED("ssid a\nurl mokit.local\n", "line 2: a url starts with http:// or https://");
    REFUSED("ssid a\nurl ftp://mokit.local/\n", "line 2: a url starts with http:// or https://");
    REFUSED("ssid a\nurl HTTP://mokit.local/\n", "line 2: a url starts with http:// or https://");
    REFUSED("ssid a\nurl http://\n", "line 2: the url names no host");
    REFUSED("ssid a\nurl http:///x\n", "line 2: the url names no host");
    REFUSED("ssid a\nurl http://mokit local/\n", "line 2: a url is printable ASCII without spaces");
    REFUSED("ssid a\nurl http://mõkit/\n", "line 2: a url is printable ASCII without spaces");
    REFUSED("ssid a\nurl http://a\nurl http://b\nurl http://c\nurl http://d\nurl http://e\n",
            "line 6: more than 4 urls");
    REFUSED("ssid a\nurl http://"
            "aaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaa"
            "aaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaa\n",
            "line 2: the url is 133 bytes: at most 128");
    REFUSED("url http://a/\n", "no ssid line");
    REFUSED("ssid a\npassword 12345678\n", "no url line");
    REFUSED("", "no ssid line");
    REFUSED("# nothing but a comment\n\n", "no ssid line");
}

static void garbage(void **state)
{
    (void)state;
    /* Control characters anywhere, with the line and column: a NUL, ESC, a lone CR, DEL. */
    REFUSED("ssid a\nurl http://a/\npass\0word 12345678\n",
            "line 3: a control character (byte 0x00) at column 5");
    REFUSED("ssid a\x1b[31m\nurl http://a/\n",
            "line 1: a control character (byte 0x1b) at column 7");
    REFUSED("ssid a\rpassword 12345678\nurl http://a/\n",
            "line 1: a control character (byte 0x0d) at column 7");
    REFUSED("ssid a\nurl http://a/\x7f\n", "line 2: a control character (byte 0x7f) at column 14");
    /* Even in a comment: the file is not what it should be. */
    REFUSED("# \x01\nssid a\nurl http://a/\n", "line 1: a control character (byte 0x01)");
    /* Broken UTF-8 and C1 controls in the name; a tab inside it. */
    REFUSED("ssid ab\xc3\nurl http://a/\n", "line 1: the Wi-Fi name (ssid) is not valid UTF-8");
    REFUSED("ssid \xed\xa0\x80x\nurl http://a/\n", "line 1: the Wi-Fi name (ssid) is not valid");
    REFUSED("ssid a\xc2\x85z\nurl http://a/\n", "line 1: the Wi-Fi name (ssid) is not valid");
    REFUSED("ssid a\tb\nurl http://a/\n", "line 1: the Wi-Fi name (ssid) is not valid");
    /* A binary file: shown as '?' in the message, never raw bytes. */
    REFUSED("\x89PNG\r\n", "line 1: unknown name \"?PNG\"");
    REFUSED("\xff\xfe\xfd ssid\n", "line 1: unknown name \"???\"");
    /* A long unknown name is cut in the message. */
    REFUSED("aaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaa 1\n",
            "unknown name \"aaaaaaaaaaaaaaaaaaaaaaaa...\"");
    /* Larger than any wifi.conf. */
    static char big[WIFI_FILE_MAX + 2];
    memset(big, '#', sizeof big);
    refused(big, sizeof big, "65538 bytes: a wifi.conf is at most 65536");
    /* A BOM in the middle is not skipped. */
    REFUSED("ssid a\n\xef\xbb\xbfurl http://a/\n", "line 2: unknown name");
}

static void qr_payloads(void **state)
{
    (void)state;
    char out[WIFI_QR_MAX];
    struct wifi_conf w = {.ssid = "mokit-7F3A", .password = "kT9vQ2mX7pLr"};
    assert_int_equal(wifi_qr_text(&w, out, sizeof out), MK_OK);
    assert_string_equal(out, "WIFI:T:WPA;S:mokit-7F3A;P:kT9vQ2mX7pLr;;");
    /* Every special character escaped, in the name and in the password. */
    snprintf(w.ssid, sizeof w.ssid, "%s", "a\\b;c,d:e\"f");
    snprintf(w.password, sizeof w.password, "%s", "p;a:s,s\\w\"rd");
    assert_int_equal(wifi_qr_text(&w, out, sizeof out), MK_OK);
    assert_string_equal(out, "WIFI:T:WPA;S:a\\\\b\\;c\\,d\\:e\\\"f;P:p\\;a\\:s\\,s\\\\w\\\"rd;;");
    /* An open network: nopass and no P field. UTF-8 goes as it is. */
    snprintf(w.ssid, sizeof w.ssid, "%s", "Trạm y tế: Tả Van");
    w.password[0] = '\0';
    assert_int_equal(wifi_qr_text(&w, out, sizeof out), MK_OK);
    assert_string_equal(out, "WIFI:T:nopass;S:Trạm y tế\\: Tả Van;;");
    /* The longest: 32 special characters and 63 of them in the password fit WIFI_QR_MAX. */
    memset(w.ssid, ';', 32);
    w.ssid[32] = '\0';
    memset(w.password, '\\', 63);
    w.password[63] = '\0';
    assert_int_equal(wifi_qr_text(&w, out, sizeof out), MK_OK);
    assert_int_equal(strlen(out), 13 + 64 + 3 + 126 + 2);
    /* Too small a buffer: MK_ERANGE and an empty string, never a cut payload. */
    snprintf(w.ssid, sizeof w.ssid, "%s", "mokit");
    snprintf(w.password, sizeof w.password, "%s", "12345678");
    assert_int_equal(wifi_qr_text(&w, out, 31), MK_ERANGE); /* 31 bytes and the NUL */
    assert_string_equal(out, "");
    assert_int_equal(wifi_qr_text(&w, out, 32), MK_OK);
    assert_string_equal(out, "WIFI:T:WPA;S:mokit;P:12345678;;");
}

/* A parsed file round-trips through the QR payload: what the phone reads is the file. */
static void parse_then_qr(void **state)
{
    (void)state;
    struct wifi_conf w;
    char out[WIFI_QR_MAX];
    assert_int_equal(parse("ssid kit;1\npassword x:y,z\\w\"v;\nurl http://k/\n", &w), MK_OK);
    assert_int_equal(wifi_qr_text(&w, out, sizeof out), MK_OK);
    assert_string_equal(out, "WIFI:T:WPA;S:kit\\;1;P:x\\:y\\,z\\\\w\\\"v\\;;;");
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(first_boot_file), cmocka_unit_test(edited_files),
        cmocka_unit_test(refusals),        cmocka_unit_test(garbage),
        cmocka_unit_test(qr_payloads),     cmocka_unit_test(parse_then_qr),
    };
    return cmocka_run_group_tests_name("wifi", tests, NULL, NULL);
}
