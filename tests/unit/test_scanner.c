/* Scanner decoders on event and byte vectors: keyboard-mode scanners (evdev key events, the US
 * keymap, Enter and gap endings, rejections) and serial-mode scanners (CR/LF lines, control
 * bytes, UTF-8). Key codes come from the kernel's header, so the decoder's own numbers are
 * checked against it. The vectors follow what a USB HID keyboard produces through the kernel's
 * hid-input (MSC_SCAN, EV_KEY, SYN_REPORT per report); none is a recording from hardware yet. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>

#include <cmocka.h>
#include <linux/input-event-codes.h>
#include <math.h>
#include <string.h>

#include "../../firmware/proto/scanner.h"

/* ---- helpers: a keyboard-mode scanner typing ---- */

struct kb {
    struct fw_keyscan s;
    double t;
    char out[FW_KEYSCAN_MAX + 1];
    char why[128];
    int results; /* non-zero returns seen */
    int rc;      /* the last non-zero return */
};

static int ev(struct kb *k, unsigned type, unsigned code, int value)
{
    int rc = fw_keyscan_feed(&k->s, type, code, value, k->t, k->out, sizeof k->out, k->why,
                             sizeof k->why);
    if (rc != 0) {
        k->results++;
        k->rc = rc;
    }
    return rc;
}

/* One HID report as hid-input turns it into events: MSC_SCAN before each key change, then
 * SYN_REPORT. usage is the key's HID usage (page 7). */
static void key(struct kb *k, unsigned code, unsigned usage, int value)
{
    ev(k, EV_MSC, MSC_SCAN, (int)(0x70000 | usage));
    ev(k, EV_KEY, code, value);
}

/* A scanner typing one character: a report with the key (and Left Shift), 4 ms later the
 * empty report, 4 ms later the next character. */
static void type(struct kb *k, unsigned code, unsigned usage, bool shift)
{
    if (shift)
        key(k, KEY_LEFTSHIFT, 0xe1, 1);
    key(k, code, usage, 1);
    ev(k, EV_SYN, SYN_REPORT, 0);
    k->t += 0.004;
    if (shift)
        key(k, KEY_LEFTSHIFT, 0xe1, 0);
    key(k, code, usage, 0);
    ev(k, EV_SYN, SYN_REPORT, 0);
    k->t += 0.004;
}

static void enter(struct kb *k)
{
    type(k, KEY_ENTER, 0x28, false);
}

static void start(struct kb *k)
{
    memset(k, 0, sizeof *k);
    k->t = 100.0;
}

/* Takes the results so far: exactly one, rc, and (for 1) the code. */
static void expect(struct kb *k, int rc, const char *what)
{
    assert_int_equal(k->results, 1);
    assert_int_equal(k->rc, rc);
    if (rc == 1)
        assert_string_equal(k->out, what);
    else
        assert_string_equal(k->why, what);
    k->results = 0;
    k->rc = 0;
    k->out[0] = k->why[0] = '\0';
}

/* ---- keyboard mode ---- */

static void hid_wristband(void **state)
{
    (void)state;
    struct kb k;
    start(&k);
    /* "MK7Q2X": letters with Left Shift, digits without. */
    type(&k, KEY_M, 0x10, true);
    type(&k, KEY_K, 0x0e, true);
    type(&k, KEY_7, 0x24, false);
    type(&k, KEY_Q, 0x14, true);
    type(&k, KEY_2, 0x1f, false);
    type(&k, KEY_X, 0x1b, true);
    assert_int_equal(k.results, 0);
    /* Pending: the deadline is the last key event plus the default 80 ms. */
    assert_true(fabs(fw_keyscan_deadline(&k.s) - (k.t - 0.004 + FW_SCAN_GAP_DEFAULT)) < 1e-9);
    /* Enter ends it on its press; its release and SYN give nothing more. */
    key(&k, KEY_ENTER, 0x28, 1);
    expect(&k, 1, "MK7Q2X");
    ev(&k, EV_SYN, SYN_REPORT, 0);
    key(&k, KEY_ENTER, 0x28, 0);
    ev(&k, EV_SYN, SYN_REPORT, 0);
    assert_int_equal(k.results, 0);
    assert_true(fw_keyscan_deadline(&k.s) < 0);
    /* Keypad Enter ends a code too; Right Shift is Shift. */
    type(&k, KEY_A, 0x04, false);
    key(&k, KEY_RIGHTSHIFT, 0xe5, 1);
    key(&k, KEY_B, 0x05, 1);
    key(&k, KEY_B, 0x05, 0);
    key(&k, KEY_RIGHTSHIFT, 0xe5, 0);
    type(&k, KEY_KPENTER, 0x58, false);
    expect(&k, 1, "aB");
}

/* The US layout, key by key, as an independent statement of it. */
static void hid_keymap(void **state)
{
    (void)state;
    static const struct {
        unsigned code;
        char plain, shifted;
    } us[] = {
        {KEY_1, '1', '!'},
        {KEY_2, '2', '@'},
        {KEY_3, '3', '#'},
        {KEY_4, '4', '$'},
        {KEY_5, '5', '%'},
        {KEY_6, '6', '^'},
        {KEY_7, '7', '&'},
        {KEY_8, '8', '*'},
        {KEY_9, '9', '('},
        {KEY_0, '0', ')'},
        {KEY_MINUS, '-', '_'},
        {KEY_EQUAL, '=', '+'},
        {KEY_Q, 'q', 'Q'},
        {KEY_W, 'w', 'W'},
        {KEY_E, 'e', 'E'},
        {KEY_R, 'r', 'R'},
        {KEY_T, 't', 'T'},
        {KEY_Y, 'y', 'Y'},
        {KEY_U, 'u', 'U'},
        {KEY_I, 'i', 'I'},
        {KEY_O, 'o', 'O'},
        {KEY_P, 'p', 'P'},
        {KEY_LEFTBRACE, '[', '{'},
        {KEY_RIGHTBRACE, ']', '}'},
        {KEY_A, 'a', 'A'},
        {KEY_S, 's', 'S'},
        {KEY_D, 'd', 'D'},
        {KEY_F, 'f', 'F'},
        {KEY_G, 'g', 'G'},
        {KEY_H, 'h', 'H'},
        {KEY_J, 'j', 'J'},
        {KEY_K, 'k', 'K'},
        {KEY_L, 'l', 'L'},
        {KEY_SEMICOLON, ';', ':'},
        {KEY_APOSTROPHE, '\'', '"'},
        {KEY_GRAVE, '`', '~'},
        {KEY_BACKSLASH, '\\', '|'},
        {KEY_Z, 'z', 'Z'},
        {KEY_X, 'x', 'X'},
        {KEY_C, 'c', 'C'},
        {KEY_V, 'v', 'V'},
        {KEY_B, 'b', 'B'},
        {KEY_N, 'n', 'N'},
        {KEY_M, 'm', 'M'},
        {KEY_COMMA, ',', '<'},
        {KEY_DOT, '.', '>'},
        {KEY_SLASH, '/', '?'},
        {KEY_SPACE, ' ', ' '},
        /* The keypad types the same with Shift (scanners use it for digits). */
        {KEY_KP0, '0', '0'},
        {KEY_KP1, '1', '1'},
        {KEY_KP2, '2', '2'},
        {KEY_KP3, '3', '3'},
        {KEY_KP4, '4', '4'},
        {KEY_KP5, '5', '5'},
        {KEY_KP6, '6', '6'},
        {KEY_KP7, '7', '7'},
        {KEY_KP8, '8', '8'},
        {KEY_KP9, '9', '9'},
        {KEY_KPDOT, '.', '.'},
        {KEY_KPMINUS, '-', '-'},
        {KEY_KPPLUS, '+', '+'},
        {KEY_KPASTERISK, '*', '*'},
        {KEY_KPSLASH, '/', '/'},
        {KEY_KPEQUAL, '=', '='},
        {KEY_KPCOMMA, ',', ','},
    };
    struct kb k;
    start(&k);
    for (size_t i = 0; i < sizeof us / sizeof us[0]; i++) {
        for (int shift = 0; shift < 2; shift++) {
            char want[2] = {shift ? us[i].shifted : us[i].plain, '\0'};
            type(&k, us[i].code, 0, shift);
            enter(&k);
            if (k.results != 1 || k.rc != 1 || strcmp(k.out, want) != 0)
                fail_msg("key %u shift %d: rc %d \"%s\" %s, want \"%s\"", us[i].code, shift, k.rc,
                         k.out, k.why, want);
            expect(&k, 1, want);
        }
    }
    /* Keypad digits, a whole code, ended by keypad Enter. */
    static const unsigned kp[] = {KEY_KP9, KEY_KP0, KEY_KP1, KEY_KP2, KEY_KP3, KEY_KP4};
    for (size_t i = 0; i < sizeof kp / sizeof kp[0]; i++)
        type(&k, kp[i], 0, false);
    type(&k, KEY_KPENTER, 0x58, false);
    expect(&k, 1, "901234");
}

static void hid_caps_lock_untrusted(void **state)
{
    (void)state;
    struct kb k;
    start(&k);
    /* Caps Lock pressed (its LED on): the scanner still sends Shift for capitals, and the
     * decoder goes by Shift alone; Num Lock and Scroll Lock are ignored too. */
    type(&k, KEY_CAPSLOCK, 0x39, false);
    type(&k, KEY_NUMLOCK, 0x53, false);
    type(&k, KEY_SCROLLLOCK, 0x47, false);
    assert_true(fw_keyscan_deadline(&k.s) < 0); /* lock keys alone start no code */
    type(&k, KEY_M, 0x10, true);
    type(&k, KEY_K, 0x0e, false);
    type(&k, KEY_CAPSLOCK, 0x39, false);
    type(&k, KEY_7, 0x24, false);
    enter(&k);
    expect(&k, 1, "Mk7");
}

static void hid_tab(void **state)
{
    (void)state;
    struct kb k;
    start(&k);
    /* By default Tab is a character (code_parse() drops it). */
    type(&k, KEY_A, 0x04, false);
    type(&k, KEY_TAB, 0x2b, false);
    type(&k, KEY_B, 0x05, false);
    enter(&k);
    expect(&k, 1, "a\tb");
    /* With tab_ends, Tab ends a code like Enter. */
    k.s.tab_ends = true;
    type(&k, KEY_A, 0x04, false);
    type(&k, KEY_TAB, 0x2b, false);
    expect(&k, 1, "a");
    type(&k, KEY_TAB, 0x2b, false); /* a lone Tab: empty, ignored */
    assert_int_equal(k.results, 0);
}

static void hid_gap(void **state)
{
    (void)state;
    struct kb k;
    start(&k);
    /* A scanner with no suffix: the code ends when no key has come for the gap. */
    type(&k, KEY_M, 0x10, true);
    type(&k, KEY_K, 0x0e, true);
    type(&k, KEY_7, 0x24, false);
    double last = k.t - 0.004; /* the release of 7 */
    double d = fw_keyscan_deadline(&k.s);
    assert_true(fabs(d - (last + 0.08)) < 1e-9);
    assert_int_equal(fw_keyscan_timeout(&k.s, d - 0.001, k.out, sizeof k.out, k.why, sizeof k.why),
                     0);
    assert_int_equal(fw_keyscan_timeout(&k.s, d, k.out, sizeof k.out, k.why, sizeof k.why), 1);
    assert_string_equal(k.out, "MK7");
    assert_true(fw_keyscan_deadline(&k.s) < 0);
    assert_int_equal(fw_keyscan_timeout(&k.s, d + 10, k.out, sizeof k.out, k.why, sizeof k.why), 0);
    /* The caller did not call timeout: the next scan's first event ends the pending code, and
     * its keys start the next one. */
    type(&k, KEY_Q, 0x14, true);
    type(&k, KEY_2, 0x1f, false);
    assert_int_equal(k.results, 0);
    k.t += 0.5;
    type(&k, KEY_X, 0x1b, true);
    expect(&k, 1, "Q2");
    enter(&k);
    expect(&k, 1, "X");
    /* Keys closer than the gap stay one code; a configured gap of 200 ms. */
    k.s.gap = 0.2;
    type(&k, KEY_A, 0x04, false);
    k.t += 0.15;
    type(&k, KEY_B, 0x05, false);
    d = fw_keyscan_deadline(&k.s);
    assert_true(fabs(d - (k.t - 0.004 + 0.2)) < 1e-9);
    assert_int_equal(fw_keyscan_timeout(&k.s, d, k.out, sizeof k.out, k.why, sizeof k.why), 1);
    assert_string_equal(k.out, "ab");
}

static void hid_autorepeat(void **state)
{
    (void)state;
    struct kb k;
    start(&k);
    /* A key held past the kernel's repeat delay (250 ms): value 2 events type nothing. With
     * the default gap the code has ended before the first repeat comes. */
    key(&k, KEY_LEFTSHIFT, 0xe1, 1);
    key(&k, KEY_A, 0x04, 1);
    ev(&k, EV_SYN, SYN_REPORT, 0);
    k.t += 0.25;
    for (int i = 0; i < 5; i++) {
        ev(&k, EV_KEY, KEY_A, 2);
        ev(&k, EV_SYN, SYN_REPORT, 1);
        k.t += 0.033;
    }
    expect(&k, 1, "A"); /* at the first repeat, 250 ms after the press */
    key(&k, KEY_A, 0x04, 0);
    key(&k, KEY_LEFTSHIFT, 0xe1, 0);
    enter(&k);
    assert_int_equal(k.results, 0);
    /* With a gap longer than the repeat delay, repeats inside a code type nothing either. */
    k.s.gap = 1.0;
    key(&k, KEY_LEFTSHIFT, 0xe1, 1);
    key(&k, KEY_A, 0x04, 1);
    k.t += 0.25;
    for (int i = 0; i < 5; i++) {
        ev(&k, EV_KEY, KEY_LEFTSHIFT, 2);
        ev(&k, EV_KEY, KEY_A, 2);
        ev(&k, EV_SYN, SYN_REPORT, 1);
        k.t += 0.033;
    }
    key(&k, KEY_A, 0x04, 0);
    key(&k, KEY_LEFTSHIFT, 0xe1, 0);
    type(&k, KEY_B, 0x05, false);
    enter(&k);
    expect(&k, 1, "Ab");
    /* Repeats are no activity: a stuck key does not hold a code open past its gap. */
    k.s.gap = 0;
    type(&k, KEY_C, 0x06, false);
    double d = fw_keyscan_deadline(&k.s);
    ev(&k, EV_KEY, KEY_C, 1);
    k.t += 0.05;
    ev(&k, EV_KEY, KEY_C, 2);
    assert_true(fw_keyscan_deadline(&k.s) > d); /* the press moved it, the repeat did not */
    assert_true(fabs(fw_keyscan_deadline(&k.s) - (k.t - 0.05 + 0.08)) < 1e-9);
    k.t = fw_keyscan_deadline(&k.s);
    ev(&k, EV_KEY, KEY_C, 2);
    expect(&k, 1, "cc");
}

static void hid_rejections(void **state)
{
    (void)state;
    struct kb k;
    start(&k);
    /* A key with no mapping (F5): the code is rejected when it ends, and its other keys are
     * discarded; the next code starts clean. */
    type(&k, KEY_M, 0x10, true);
    type(&k, KEY_K, 0x0e, true);
    type(&k, KEY_F5, 0x3e, false);
    type(&k, KEY_7, 0x24, false);
    assert_int_equal(k.results, 0);
    enter(&k);
    expect(&k, FW_EINVAL, "key 63 has no mapping");
    type(&k, KEY_Q, 0x14, true);
    type(&k, KEY_2, 0x1f, false);
    enter(&k);
    expect(&k, 1, "Q2");
    /* The first reason stands. */
    type(&k, KEY_ESC, 0x29, false);
    type(&k, KEY_BACKSPACE, 0x2a, false);
    enter(&k);
    expect(&k, FW_EINVAL, "key 1 has no mapping");
    /* GS1 on a medicine box: FNC1 typed as Ctrl+] (group separator). */
    type(&k, KEY_0, 0x27, false);
    type(&k, KEY_1, 0x1e, false);
    key(&k, KEY_LEFTCTRL, 0xe0, 1);
    key(&k, KEY_RIGHTBRACE, 0x30, 1);
    key(&k, KEY_RIGHTBRACE, 0x30, 0);
    key(&k, KEY_LEFTCTRL, 0xe0, 0);
    type(&k, KEY_1, 0x1e, false);
    enter(&k);
    expect(&k, FW_EINVAL, "key 27 with Ctrl held");
    /* Alt+keypad (a scanner typing code points) and Meta are not ours either. */
    key(&k, KEY_LEFTALT, 0xe2, 1);
    type(&k, KEY_KP6, 0x5e, false);
    key(&k, KEY_LEFTALT, 0xe2, 0);
    enter(&k);
    expect(&k, FW_EINVAL, "key 77 with Alt held");
    key(&k, KEY_RIGHTMETA, 0xe7, 1);
    type(&k, KEY_L, 0x0f, false);
    key(&k, KEY_RIGHTMETA, 0xe7, 0);
    enter(&k);
    expect(&k, FW_EINVAL, "key 38 with Meta held");
    /* A rejected code also ends with its gap. */
    type(&k, KEY_F1, 0x3a, false);
    double d = fw_keyscan_deadline(&k.s);
    assert_true(d > 0);
    assert_int_equal(fw_keyscan_timeout(&k.s, d, k.out, sizeof k.out, k.why, sizeof k.why),
                     FW_EINVAL);
    assert_string_equal(k.why, "key 59 has no mapping");
    assert_true(fw_keyscan_deadline(&k.s) < 0);
    type(&k, KEY_X, 0x1b, true);
    enter(&k);
    expect(&k, 1, "X");
}

static void hid_lengths(void **state)
{
    (void)state;
    struct kb k;
    start(&k);
    /* Empty: a lone Enter, or only Shift, is ignored (no code, no rejection). */
    enter(&k);
    key(&k, KEY_LEFTSHIFT, 0xe1, 1);
    key(&k, KEY_LEFTSHIFT, 0xe1, 0);
    enter(&k);
    type(&k, KEY_KPENTER, 0x58, false);
    assert_int_equal(k.results, 0);
    /* FW_KEYSCAN_MAX characters pass; one more is rejected; the next code is clean. */
    for (int i = 0; i < FW_KEYSCAN_MAX; i++)
        type(&k, KEY_A, 0x04, false);
    enter(&k);
    assert_int_equal(k.results, 1);
    assert_int_equal(k.rc, 1);
    assert_int_equal(strlen(k.out), FW_KEYSCAN_MAX);
    assert_int_equal(k.out[FW_KEYSCAN_MAX - 1], 'a');
    k.results = 0;
    for (int i = 0; i < FW_KEYSCAN_MAX + 1; i++)
        type(&k, KEY_A, 0x04, false);
    enter(&k);
    expect(&k, FW_EINVAL, "longer than 512 characters");
    for (int i = 0; i < 3000; i++) /* far longer: still one rejection */
        type(&k, KEY_B, 0x05, false);
    enter(&k);
    expect(&k, FW_EINVAL, "longer than 512 characters");
    type(&k, KEY_Z, 0x1d, false);
    enter(&k);
    expect(&k, 1, "z");
    /* A code that does not fit the caller's out is rejected, not cut. */
    char small[4], why[100];
    struct fw_keyscan s = {0};
    static const unsigned abcd[] = {KEY_A, KEY_B, KEY_C, KEY_D, KEY_ENTER};
    int rc = 0;
    for (size_t i = 0; i < 5; i++) {
        rc = fw_keyscan_feed(&s, EV_KEY, abcd[i], 1, 1.0, small, sizeof small, why, sizeof why);
        assert_int_equal(rc, i < 4 ? 0 : FW_EINVAL);
    }
    assert_string_equal(why, "a code of 4 characters does not fit the output (4 bytes)");
    assert_int_equal(
        fw_keyscan_feed(&s, EV_KEY, KEY_A, 1, 1.0, small, sizeof small, why, sizeof why), 0);
    rc = fw_keyscan_feed(&s, EV_KEY, KEY_ENTER, 1, 1.0, small, sizeof small, NULL, 0);
    assert_int_equal(rc, 1);
    assert_string_equal(small, "a");
}

static void hid_ignored_events(void **state)
{
    (void)state;
    struct kb k;
    start(&k);
    type(&k, KEY_M, 0x10, true);
    struct fw_keyscan before = k.s;
    /* EV_SYN (but SYN_DROPPED), EV_MSC, LEDs, repeat settings, relative axes: no effect. */
    ev(&k, EV_SYN, SYN_REPORT, 0);
    ev(&k, EV_SYN, SYN_CONFIG, 7);
    ev(&k, EV_MSC, MSC_SCAN, 0x70028);
    ev(&k, EV_MSC, MSC_SCAN, -1);
    ev(&k, EV_LED, LED_CAPSL, 1);
    ev(&k, EV_REP, REP_DELAY, 250);
    ev(&k, EV_REL, REL_X, 5);
    ev(&k, EV_KEY, KEY_A, -7); /* not a press, release or repeat */
    ev(&k, EV_KEY, KEY_A, 3);
    ev(&k, 0x1234, KEY_A, 1);
    assert_int_equal(k.results, 0);
    assert_int_equal(k.s.len, before.len);
    assert_memory_equal(k.s.buf, before.buf, before.len);
    assert_int_equal(k.s.mods, before.mods);
    assert_false(k.s.rejected || k.s.resync);
    assert_true(k.s.last == before.last);
    /* MSC_SCAN carrying an Enter usage is not an Enter. */
    type(&k, KEY_K, 0x0e, true);
    enter(&k);
    expect(&k, 1, "MK");
}

static void hid_syn_dropped(void **state)
{
    (void)state;
    struct kb k;
    start(&k);
    /* The kernel's buffer overflowed mid-code: keys may be lost, so the code is rejected;
     * events up to the next SYN_REPORT are ignored, and the modifiers forgotten. */
    type(&k, KEY_M, 0x10, true);
    key(&k, KEY_LEFTSHIFT, 0xe1, 1);
    ev(&k, EV_SYN, SYN_DROPPED, 0);
    key(&k, KEY_K, 0x0e, 1);
    key(&k, KEY_ENTER, 0x28, 1); /* ignored: before the SYN_REPORT */
    ev(&k, EV_SYN, SYN_REPORT, 0);
    assert_int_equal(k.results, 0);
    type(&k, KEY_7, 0x24, false);
    enter(&k);
    expect(&k, FW_EINVAL, "events dropped by the kernel (SYN_DROPPED)");
    /* Shift was forgotten with the drop (its release may have been lost). */
    type(&k, KEY_Q, 0x14, false);
    enter(&k);
    expect(&k, 1, "q");
    /* A drop with no code pending still rejects what follows up to an end: the start of a
     * scan may be what was lost. */
    ev(&k, EV_SYN, SYN_DROPPED, 0);
    ev(&k, EV_SYN, SYN_REPORT, 0);
    type(&k, KEY_2, 0x1f, false);
    double d = fw_keyscan_deadline(&k.s);
    assert_int_equal(fw_keyscan_timeout(&k.s, d, k.out, sizeof k.out, k.why, sizeof k.why),
                     FW_EINVAL);
}

static void hid_frames(void **state)
{
    (void)state;
    /* Capture frames: LE16 type, LE16 code, LE32 value. */
    static const uint8_t frames[][FW_KEYSCAN_FRAME] = {
        {0x04, 0x00, 0x04, 0x00, 0xe1, 0x00, 0x07, 0x00}, /* MSC_SCAN 0x700e1 */
        {0x01, 0x00, 0x2a, 0x00, 0x01, 0x00, 0x00, 0x00}, /* KEY_LEFTSHIFT press */
        {0x04, 0x00, 0x04, 0x00, 0x10, 0x00, 0x07, 0x00}, /* MSC_SCAN 0x70010 */
        {0x01, 0x00, 0x32, 0x00, 0x01, 0x00, 0x00, 0x00}, /* KEY_M press */
        {0x00, 0x00, 0x00, 0x00, 0x00, 0x00, 0x00, 0x00}, /* SYN_REPORT */
        {0x01, 0x00, 0x32, 0x00, 0x00, 0x00, 0x00, 0x00}, /* KEY_M release */
        {0x01, 0x00, 0x2a, 0x00, 0x00, 0x00, 0x00, 0x00}, /* KEY_LEFTSHIFT release */
        {0x01, 0x00, 0x08, 0x00, 0x01, 0x00, 0x00, 0x00}, /* KEY_7 press */
        {0x01, 0x00, 0x08, 0x00, 0x02, 0x00, 0x00, 0x00}, /* KEY_7 autorepeat */
        /* Not presses: the value is 256, 2^24 and -1 (all 32 bits read, little-endian). */
        {0x01, 0x00, 0x08, 0x00, 0x00, 0x01, 0x00, 0x00},
        {0x01, 0x00, 0x08, 0x00, 0x00, 0x00, 0x00, 0x01},
        {0x01, 0x00, 0x08, 0x00, 0xff, 0xff, 0xff, 0xff},
        /* Not EV_KEY: type 0x0101. */
        {0x01, 0x01, 0x10, 0x00, 0x01, 0x00, 0x00, 0x00},
        {0x01, 0x00, 0x60, 0x00, 0x01, 0x00, 0x00, 0x00}, /* KEY_KPENTER press */
    };
    struct fw_keyscan s = {0};
    char out[FW_KEYSCAN_MAX + 1], why[100];
    size_t n = sizeof frames / sizeof frames[0];
    for (size_t i = 0; i < n; i++) {
        int rc = fw_keyscan_feed_frame(&s, frames[i], 0.001 * (double)i, out, sizeof out, why,
                                       sizeof why);
        assert_int_equal(rc, i == n - 1 ? 1 : 0);
    }
    assert_string_equal(out, "M7");
    /* Code 0x011c is 284, not KEY_ENTER (28): the high byte of the code counts. */
    static const uint8_t a[] = {0x01, 0x00, 0x1e, 0x00, 0x01, 0x00, 0x00, 0x00};
    static const uint8_t big[] = {0x01, 0x00, 0x1c, 0x01, 0x01, 0x00, 0x00, 0x00};
    static const uint8_t ent[] = {0x01, 0x00, 0x1c, 0x00, 0x01, 0x00, 0x00, 0x00};
    assert_int_equal(fw_keyscan_feed_frame(&s, a, 1.0, out, sizeof out, why, sizeof why), 0);
    assert_int_equal(fw_keyscan_feed_frame(&s, big, 1.0, out, sizeof out, why, sizeof why), 0);
    assert_int_equal(fw_keyscan_feed_frame(&s, ent, 1.0, out, sizeof out, why, sizeof why),
                     FW_EINVAL);
    assert_string_equal(why, "key 284 has no mapping");
}

static void hid_unknown_times(void **state)
{
    (void)state;
    /* A capture without @times gives -1: no gap ever ends a code, and the deadline says
     * "pending, time unknown"; INFINITY ends it (the end of the capture). */
    struct fw_keyscan s = {0};
    char out[FW_KEYSCAN_MAX + 1], why[100];
    assert_true(fw_keyscan_deadline(&s) < 0);
    assert_int_equal(fw_keyscan_feed(&s, EV_KEY, KEY_A, 1, -1, out, sizeof out, why, sizeof why),
                     0);
    assert_int_equal(fw_keyscan_feed(&s, EV_KEY, KEY_B, 1, -1, out, sizeof out, why, sizeof why),
                     0);
    assert_true(isinf(fw_keyscan_deadline(&s)));
    assert_int_equal(fw_keyscan_timeout(&s, 1e9, out, sizeof out, why, sizeof why), 0);
    assert_int_equal(fw_keyscan_timeout(&s, NAN, out, sizeof out, why, sizeof why), 0);
    assert_int_equal(fw_keyscan_timeout(&s, INFINITY, out, sizeof out, why, sizeof why), 1);
    assert_string_equal(out, "ab");
    /* Times going backwards never end a code. */
    assert_int_equal(fw_keyscan_feed(&s, EV_KEY, KEY_C, 1, 5.0, out, sizeof out, why, sizeof why),
                     0);
    assert_int_equal(fw_keyscan_feed(&s, EV_KEY, KEY_D, 1, 1.0, out, sizeof out, why, sizeof why),
                     0);
    assert_int_equal(
        fw_keyscan_feed(&s, EV_KEY, KEY_ENTER, 1, NAN, out, sizeof out, why, sizeof why), 1);
    assert_string_equal(out, "cd");
}

/* ---- serial mode ---- */

struct line {
    struct fw_linescan s;
    double t;
    char out[FW_LINESCAN_MAX + 1];
    char why[128];
    int results, rc;
};

static void bytes(struct line *l, const char *p, size_t n)
{
    for (size_t i = 0; i < n; i++) {
        int rc = fw_linescan_feed(&l->s, (uint8_t)p[i], l->t, l->out, sizeof l->out, l->why,
                                  sizeof l->why);
        l->t += 0.0001; /* about 100 kbit/s */
        if (rc) {
            l->results++;
            l->rc = rc;
        }
    }
}

static void text(struct line *l, const char *s)
{
    bytes(l, s, strlen(s));
}

static void got(struct line *l, int rc, const char *what)
{
    assert_int_equal(l->results, 1);
    assert_int_equal(l->rc, rc);
    if (rc == 1)
        assert_string_equal(l->out, what);
    else
        assert_string_equal(l->why, what);
    l->results = l->rc = 0;
    l->out[0] = l->why[0] = '\0';
}

static void serial_endings(void **state)
{
    (void)state;
    struct line l = {.t = 10};
    /* CR LF is one end: the code at the CR, the LF an empty code (ignored). */
    text(&l, "MK7Q2X\r");
    got(&l, 1, "MK7Q2X");
    text(&l, "\n");
    assert_int_equal(l.results, 0);
    text(&l, "AB\n");
    got(&l, 1, "AB");
    text(&l, "CD\r");
    got(&l, 1, "CD");
    /* Blank lines and LF CR are ignored; a code split across reads is one code. */
    text(&l, "\r\n\r\n\n\r");
    assert_int_equal(l.results, 0);
    text(&l, "EF");
    text(&l, "GH\r\n");
    got(&l, 1, "EFGH");
    /* TAB and spaces pass. */
    text(&l, " a\tb \r\n");
    got(&l, 1, " a\tb ");
}

static void serial_control(void **state)
{
    (void)state;
    struct line l = {.t = 10};
    /* ESC rejects the code; the rest of the line is discarded; the next is clean. */
    text(&l, "AB\x1b[0mCD\r\n");
    got(&l, FW_EINVAL, "control byte 0x1b");
    text(&l, "EF\r\n");
    got(&l, 1, "EF");
    /* GS (GS1 FNC1), DEL and NUL. */
    text(&l, "0108936\x1d"
             "17270131\r\n");
    got(&l, FW_EINVAL, "control byte 0x1d");
    text(&l, "x\x7fy\n");
    got(&l, FW_EINVAL, "control byte 0x7f");
    bytes(&l, "x\0y\n", 4);
    got(&l, FW_EINVAL, "control byte 0x00");
    /* The first reason stands; a control byte alone makes a rejected (not empty) code. */
    text(&l, "\x02\x03\r");
    got(&l, FW_EINVAL, "control byte 0x02");
    text(&l, "ok\r");
    got(&l, 1, "ok");
}

static void serial_utf8(void **state)
{
    (void)state;
    struct line l = {.t = 10};
    /* A CCCD QR (synthetic): Vietnamese in UTF-8, passed through byte for byte. */
    static const char cccd[] = "001090012345||Nguyễn Văn An|01011990|Nam|Thôn 2, Tả Phìn, Sa Pa, "
                               "Lào Cai|15082021";
    text(&l, cccd);
    text(&l, "\r\n");
    got(&l, 1, cccd);
    text(&l, "\xf0\x9f\x98\x80 \xc2\xa0\n"); /* 4-byte and 2-byte forms */
    got(&l, 1, "\xf0\x9f\x98\x80 \xc2\xa0");
    /* Not UTF-8: a lone continuation, a short sequence, an overlong form, a surrogate, past
     * U+10FFFF, a cut sequence at the end, Latin-1 (a scanner in another code page). */
    static const char *bad[] = {
        "\x80\n",         "\xc3\x28\n",         "\xc0\xaf\n",         "\xe0\x80\xaf\n",
        "\xed\xa0\x80\n", "\xf4\x90\x80\x80\n", "\xf5\x80\x80\x80\n", "Nguy\xe1\xbb\n",
        "caf\xe9\n",
    };
    for (size_t i = 0; i < sizeof bad / sizeof bad[0]; i++) {
        text(&l, bad[i]);
        got(&l, FW_EINVAL, "not UTF-8 text");
    }
    text(&l, "\xe1\xbb\x85\n");
    got(&l, 1, "ễ");
}

static void serial_gap_and_length(void **state)
{
    (void)state;
    struct line l = {.t = 10};
    text(&l, "MK7");
    double d = fw_linescan_deadline(&l.s);
    assert_true(fabs(d - (l.t - 0.0001 + 0.08)) < 1e-9);
    assert_int_equal(fw_linescan_timeout(&l.s, d - 0.001, l.out, sizeof l.out, l.why, sizeof l.why),
                     0);
    assert_int_equal(fw_linescan_timeout(&l.s, d, l.out, sizeof l.out, l.why, sizeof l.why), 1);
    assert_string_equal(l.out, "MK7");
    assert_true(fw_linescan_deadline(&l.s) < 0);
    /* A late byte ends the pending code and starts the next. */
    text(&l, "Q2");
    l.t += 1;
    text(&l, "X\r\n");
    assert_int_equal(l.results, 2);
    assert_string_equal(l.out, "X");
    l.results = 0;
    /* A gap ending validates UTF-8 too. */
    text(&l, "\xe1\xbb");
    d = fw_linescan_deadline(&l.s);
    assert_int_equal(fw_linescan_timeout(&l.s, d, l.out, sizeof l.out, l.why, sizeof l.why),
                     FW_EINVAL);
    assert_string_equal(l.why, "not UTF-8 text");
    /* FW_LINESCAN_MAX bytes pass, one more is rejected, the next line is clean. */
    static char big[FW_LINESCAN_MAX + 2];
    memset(big, 'A', sizeof big);
    bytes(&l, big, FW_LINESCAN_MAX);
    text(&l, "\n");
    assert_int_equal(l.rc, 1);
    assert_int_equal(strlen(l.out), FW_LINESCAN_MAX);
    l.results = 0;
    bytes(&l, big, FW_LINESCAN_MAX + 1);
    text(&l, "\n");
    got(&l, FW_EINVAL, "longer than 1024 bytes");
    text(&l, "B\n");
    got(&l, 1, "B");
    /* Unknown times: INFINITY ends a pending code. */
    struct fw_linescan s = {0};
    char out[8];
    assert_int_equal(fw_linescan_feed(&s, 'z', -1, out, sizeof out, NULL, 0), 0);
    assert_true(isinf(fw_linescan_deadline(&s)));
    assert_int_equal(fw_linescan_timeout(&s, INFINITY, out, sizeof out, NULL, 0), 1);
    assert_string_equal(out, "z");
}

static void printable(void **state)
{
    (void)state;
    assert_true(fw_scan_printable("MK7Q2XA4P9R3"));
    assert_true(fw_scan_printable(" !~"));
    assert_false(fw_scan_printable(""));
    assert_false(fw_scan_printable(NULL));
    assert_false(fw_scan_printable("a\tb"));
    assert_false(fw_scan_printable("ab\r"));
    assert_false(fw_scan_printable("x\x7f"));
    assert_false(fw_scan_printable("Nguyễn"));
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(hid_wristband),
        cmocka_unit_test(hid_keymap),
        cmocka_unit_test(hid_caps_lock_untrusted),
        cmocka_unit_test(hid_tab),
        cmocka_unit_test(hid_gap),
        cmocka_unit_test(hid_autorepeat),
        cmocka_unit_test(hid_rejections),
        cmocka_unit_test(hid_lengths),
        cmocka_unit_test(hid_ignored_events),
        cmocka_unit_test(hid_syn_dropped),
        cmocka_unit_test(hid_frames),
        cmocka_unit_test(hid_unknown_times),
        cmocka_unit_test(serial_endings),
        cmocka_unit_test(serial_control),
        cmocka_unit_test(serial_utf8),
        cmocka_unit_test(serial_gap_and_length),
        cmocka_unit_test(printable),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
