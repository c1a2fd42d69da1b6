/* The station panel: TM1637 frames and the button state machine as pure code, then the panel
 * on the link-time fake of libgpiod (tests/gpio/fake_gpiod.c), whose record of every line change
 * is decoded back into the TM1637's transfers bit by bit, and into the buzzer's pattern. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>

#include <cmocka.h>
#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#include "../../app/common/err.h"
#include "../../app/panel/panel.h"
#include "../gpio/fake_gpiod.h"
#include "fw_gpio.h"

#define CLK       23
#define DIO       24
#define BTN       22
#define LED_READY 5
#define LED_ATT   6
#define LED_BUSY  13
#define BUZZER    12

static void sleep_ms(int ms)
{
    struct timespec ts = {ms / 1000, (ms % 1000) * 1000000L};
    nanosleep(&ts, NULL);
}

/* ---- pure: TM1637 frames ---- */

static void tm1637_frames(void **state)
{
    (void)state;
    struct fw_tm1637_frame f;
    assert_int_equal(fw_tm1637_frame("17", 7, true, &f), FW_OK);
    assert_int_equal(f.cmd1, 0x40);
    const uint8_t want17[] = {0xC0, 0x00, 0x00, 0x06, 0x07};
    assert_memory_equal(f.data, want17, sizeof want17);
    assert_int_equal(f.cmd3, 0x8F);

    assert_int_equal(fw_tm1637_frame("2048", 2, true, &f), FW_OK);
    const uint8_t want2048[] = {0xC0, 0x5B, 0x3F, 0x66, 0x7F};
    assert_memory_equal(f.data, want2048, sizeof want2048);
    assert_int_equal(f.cmd3, 0x8A);

    assert_int_equal(fw_tm1637_frame("----", 0, false, &f), FW_OK);
    const uint8_t dashes[] = {0xC0, 0x40, 0x40, 0x40, 0x40};
    assert_memory_equal(f.data, dashes, sizeof dashes);
    assert_int_equal(f.cmd3, 0x80);

    assert_int_equal(fw_tm1637_frame("", 7, true, &f), FW_OK);
    const uint8_t blank[] = {0xC0, 0, 0, 0, 0};
    assert_memory_equal(f.data, blank, sizeof blank);

    assert_int_equal(fw_tm1637_frame("Err", 7, true, &f), FW_OK);
    const uint8_t err[] = {0xC0, 0x00, 0x79, 0x50, 0x50};
    assert_memory_equal(f.data, err, sizeof err);

    assert_int_equal(fw_tm1637_frame("12345", 7, true, &f), FW_EINVAL); /* 5 digits */
    assert_int_equal(fw_tm1637_frame("1?", 7, true, &f), FW_EINVAL);    /* no such glyph */
    assert_int_equal(fw_tm1637_frame("Mo", 7, true, &f), FW_EINVAL);    /* M cannot be shown */
    assert_int_equal(fw_tm1637_frame("1", 8, true, &f), FW_EINVAL);
    assert_int_equal(fw_tm1637_frame("1", -1, true, &f), FW_EINVAL);
    assert_int_equal(fw_tm1637_frame(NULL, 1, true, &f), FW_EINVAL);

    for (const char *c = "0123456789 -_AbCdEFHLnoPrtUy"; *c; c++)
        assert_int_equal(fw_tm1637_char(fw_tm1637_glyph(*c)), *c);
    assert_int_equal(fw_tm1637_glyph('B'), fw_tm1637_glyph('b'));
    assert_int_equal(fw_tm1637_char(0x06 | 0x80), '1'); /* the dot is not the digit */
    assert_int_equal(fw_tm1637_char(0x01), '?');
}

/* ---- pure: the button ---- */

static void button_debounce(void **state)
{
    (void)state;
    struct fw_button b;
    fw_button_init(&b, 30, 1000);
    assert_int_equal(fw_button_deadline(&b), -1);
    /* a press that bounces: down at 0, up at 2, down at 3 */
    fw_button_edge(&b, 1, 0);
    fw_button_edge(&b, 0, 2);
    fw_button_edge(&b, 1, 3);
    assert_int_equal(fw_button_deadline(&b), 33);
    assert_int_equal(fw_button_tick(&b, 32), FW_PRESS_NONE);
    assert_int_equal(b.stable, 0);
    assert_int_equal(fw_button_tick(&b, 33), FW_PRESS_NONE);
    assert_int_equal(b.stable, 1);
    assert_int_equal(b.pressed_at, 3);
    assert_int_equal(fw_button_deadline(&b), 1003); /* the long press, if held */
    /* released at 200 with a bounce: a short press when it has settled, at 232 */
    fw_button_edge(&b, 0, 200);
    fw_button_edge(&b, 1, 201);
    fw_button_edge(&b, 0, 202);
    assert_int_equal(fw_button_deadline(&b), 232);
    assert_int_equal(fw_button_tick(&b, 231), FW_PRESS_NONE);
    assert_int_equal(fw_button_tick(&b, 232), FW_PRESS_SHORT);
    assert_int_equal(fw_button_tick(&b, 233), FW_PRESS_NONE);
    assert_int_equal(fw_button_deadline(&b), -1);
    /* a 10 ms spike is no press */
    fw_button_edge(&b, 1, 500);
    fw_button_edge(&b, 0, 510);
    assert_int_equal(fw_button_tick(&b, 540), FW_PRESS_NONE);
    assert_int_equal(b.stable, 0);
    assert_int_equal(b.glitches, 1);
    /* exactly the debounce time held: a press */
    fw_button_edge(&b, 1, 600);
    assert_int_equal(fw_button_tick(&b, 630), FW_PRESS_NONE);
    fw_button_edge(&b, 0, 650);
    assert_int_equal(fw_button_tick(&b, 680), FW_PRESS_SHORT);
}

static void button_long(void **state)
{
    (void)state;
    struct fw_button b;
    fw_button_init(&b, 30, 1000);
    fw_button_edge(&b, 1, 1000);
    assert_int_equal(fw_button_tick(&b, 1030), FW_PRESS_NONE);
    assert_int_equal(fw_button_deadline(&b), 2000);
    assert_int_equal(fw_button_tick(&b, 1999), FW_PRESS_NONE);
    assert_int_equal(fw_button_tick(&b, 2000), FW_PRESS_LONG); /* still held */
    assert_int_equal(fw_button_tick(&b, 2400), FW_PRESS_NONE); /* once */
    assert_int_equal(fw_button_deadline(&b), -1);
    fw_button_edge(&b, 0, 2500);
    assert_int_equal(fw_button_tick(&b, 2530), FW_PRESS_NONE); /* no short one after it */
    assert_int_equal(b.stable, 0);
    /* held 999 ms: short */
    fw_button_edge(&b, 1, 3000);
    assert_int_equal(fw_button_tick(&b, 3030), FW_PRESS_NONE);
    fw_button_edge(&b, 0, 3999);
    assert_int_equal(fw_button_tick(&b, 4029), FW_PRESS_SHORT);
    /* a late tick: held from 5000 to 6200, first looked at 6300: long (it was held 1.2 s) */
    fw_button_edge(&b, 1, 5000);
    assert_int_equal(fw_button_tick(&b, 5030), FW_PRESS_NONE);
    fw_button_edge(&b, 0, 6200);
    assert_int_equal(fw_button_tick(&b, 6300), FW_PRESS_LONG);
    assert_int_equal(fw_button_tick(&b, 6300), FW_PRESS_NONE);
    assert_int_equal(b.stable, 0);
    /* a late tick that finds a short press and its release settled */
    fw_button_edge(&b, 1, 7000);
    assert_int_equal(fw_button_tick(&b, 7030), FW_PRESS_NONE);
    fw_button_edge(&b, 0, 7100);
    assert_int_equal(fw_button_tick(&b, 7900), FW_PRESS_SHORT);
}

/* ---- the recorded wires, decoded ---- */

struct transfer {
    uint8_t b[8];
    int n;
};

/* The TM1637 transfers in the record of the CLK/DIO lines: a start is DIO falling while CLK
 * is high, a stop DIO rising while CLK is high, a bit is DIO at CLK's rising edge, the ninth
 * clock of a byte its acknowledge. Returns how many; *min_half_ns: the shortest time between
 * two changes of the wires. */
static int decode_tm1637(int clk_off, int dio_off, size_t from, struct transfer *out, int max,
                         long long *min_half_ns)
{
    size_t n;
    const struct fake_gpio_change *r = fake_gpio_record(&n);
    int clk = 1, dio = 1, count = 0, bits = 0;
    bool in = false;
    uint8_t byte = 0;
    long long last = -1;
    *min_half_ns = -1;
    for (size_t i = from; i < n; i++) {
        if (r[i].input || (r[i].offset != clk_off && r[i].offset != dio_off))
            continue;
        if (last >= 0 && (*min_half_ns < 0 || r[i].t_ns - last < *min_half_ns))
            *min_half_ns = r[i].t_ns - last;
        last = r[i].t_ns;
        if (r[i].offset == dio_off) {
            if (clk && dio && !r[i].level) { /* start */
                in = true, bits = 0, byte = 0;
                if (count < max)
                    out[count].n = 0;
            } else if (clk && !dio && r[i].level && in) { /* stop */
                in = false;
                count++;
            }
            dio = r[i].level;
        } else {
            if (!clk && r[i].level && in) { /* rising: a bit, or the acknowledge */
                if (bits < 8)
                    byte |= (uint8_t)(dio << bits);
                if (++bits == 9) {
                    if (count < max && out[count].n < 8)
                        out[count].b[out[count].n++] = byte;
                    bits = 0, byte = 0;
                }
            }
            clk = r[i].level;
        }
    }
    return count;
}

/* The text the last complete update (three transfers) shows, and whether it is lit. */
static int display_text(size_t from, char text[5], bool *lit)
{
    struct transfer t[64];
    long long half;
    int n = decode_tm1637(CLK, DIO, from, t, 64, &half);
    if (n < 3 || n > 64)
        return -1;
    struct transfer *a = &t[n - 3], *d = &t[n - 2], *c = &t[n - 1];
    if (a->n != 1 || a->b[0] != 0x40 || d->n != 5 || d->b[0] != 0xC0 || c->n != 1)
        return -1;
    int k = 0;
    for (int i = 1; i <= 4; i++)
        if (d->b[i] || k) /* right-aligned: leading blanks dropped */
            text[k++] = fw_tm1637_char(d->b[i]);
    text[k] = '\0';
    *lit = c->b[0] & 0x08;
    return n / 3;
}

/* ---- the panel on the fake ---- */

/* qemu-user runs the arm64 build's tests, and threads hang under it on this machine
 * (tests/run.sh says so): the panel's thread is checked by the native and sanitizer runs. */
#define SKIP_WHEN_EMULATED()               \
    do {                                   \
        if (getenv("MOKIT_TEST_EMULATED")) \
            skip();                        \
    } while (0)

struct presses {
    pthread_mutex_t lock;
    char station[8][16];
    enum fw_press press[8];
    int n;
};

static void on_press(void *ctx, const char *station, enum fw_press press, long long at_ms)
{
    (void)at_ms;
    struct presses *p = ctx;
    pthread_mutex_lock(&p->lock);
    if (p->n < 8) {
        snprintf(p->station[p->n], sizeof p->station[0], "%s", station);
        p->press[p->n++] = press;
    }
    pthread_mutex_unlock(&p->lock);
}

static int npresses(struct presses *p)
{
    pthread_mutex_lock(&p->lock);
    int n = p->n;
    pthread_mutex_unlock(&p->lock);
    return n;
}

static struct fw_panel_config kit_config(void)
{
    struct fw_panel_config c = {.nstations = 2, .brightness = -1, .long_ms = 400};
    c.stations[0] = (struct fw_panel_station){"doctor", "GPIO22", "GPIO23", "GPIO24"};
    c.stations[1] = (struct fw_panel_station){"pharmacy", "GPIO27", "gpiochip0:16", "GPIO20"};
    snprintf(c.led_ready, sizeof c.led_ready, "GPIO5");
    snprintf(c.led_attention, sizeof c.led_attention, "GPIO6");
    snprintf(c.led_busy, sizeof c.led_busy, "GPIO13");
    snprintf(c.buzzer, sizeof c.buzzer, "GPIO12");
    return c;
}

static void panel_display(void **state)
{
    (void)state;
    SKIP_WHEN_EMULATED();
    fake_gpio_reset();
    struct presses pr = {.lock = PTHREAD_MUTEX_INITIALIZER};
    struct fw_panel_config cfg = kit_config();
    struct fw_panel *p;
    char err[200] = "";
    assert_int_equal(fw_panel_start(&cfg, on_press, &pr, &p, err, sizeof err), FW_OK);
    assert_string_equal(fake_gpio_consumer(BTN), "mokit-next");
    assert_string_equal(fake_gpio_consumer(CLK), "mokit-display-clk");
    assert_string_equal(fake_gpio_consumer(DIO), "mokit-display-dio");
    assert_string_equal(fake_gpio_consumer(16), "mokit-display-clk"); /* by chip:offset */
    assert_string_equal(fake_gpio_consumer(BUZZER), "mokit-buzzer");
    assert_int_equal(fake_gpio_level(BTN), 1); /* the pull-up */
    assert_int_equal(fake_gpio_level(LED_READY), 0);
    char text[5];
    bool lit;
    sleep_ms(20);
    assert_int_equal(display_text(0, text, &lit), 1); /* cleared at start */
    assert_string_equal(text, "");
    assert_true(lit);

    size_t mark;
    fake_gpio_record(&mark);
    assert_int_equal(fw_panel_show(p, "doctor", "17", false), FW_OK);
    sleep_ms(50);
    struct transfer t[8];
    long long half;
    assert_int_equal(decode_tm1637(CLK, DIO, mark, t, 8, &half), 3);
    assert_int_equal(t[0].n, 1);
    assert_int_equal(t[0].b[0], 0x40);
    const uint8_t data17[] = {0xC0, 0x00, 0x00, 0x06, 0x07};
    assert_int_equal(t[1].n, 5);
    assert_memory_equal(t[1].b, data17, 5);
    assert_int_equal(t[2].n, 1);
    assert_int_equal(t[2].b[0], 0x8F);
    assert_true(half >= 10000); /* 10 us half periods at the least */
    /* the other display's wires did not move */
    assert_int_equal(decode_tm1637(16, 20, mark, t, 8, &half), 0);

    /* a number called again: dark, then on/off until it stays on: 6 updates */
    fake_gpio_record(&mark);
    assert_int_equal(fw_panel_show(p, "doctor", "18", true), FW_OK);
    sleep_ms(1600);
    struct transfer ft[64];
    int nt = decode_tm1637(CLK, DIO, mark, ft, 64, &half);
    assert_int_equal(nt, 18);
    for (int i = 0; i < 6; i++) {
        assert_int_equal(ft[3 * i + 1].b[4], 0x7F);                /* "8" */
        assert_int_equal(ft[3 * i + 2].b[0], i % 2 ? 0x8F : 0x80); /* off, on, off... on */
    }
    assert_int_equal(display_text(mark, text, &lit), 6);
    assert_string_equal(text, "18");
    assert_true(lit);

    assert_int_equal(fw_panel_show(p, "pharmacy", "5", false), FW_OK);
    assert_int_equal(fw_panel_show(p, "vitals", "5", false), FW_EINVAL); /* no display */
    assert_int_equal(fw_panel_show(p, "doctor", "10000", false), FW_EINVAL);
    assert_int_equal(fw_panel_show(p, "doctor", "1.5", false), FW_EINVAL);

    assert_int_equal(fw_panel_led(p, FW_LED_READY, true), FW_OK);
    assert_int_equal(fw_panel_led(p, FW_LED_BUSY, true), FW_OK);
    sleep_ms(20);
    assert_int_equal(fake_gpio_level(LED_READY), 1);
    assert_int_equal(fake_gpio_level(LED_BUSY), 1);
    assert_int_equal(fake_gpio_level(LED_ATT), 0);
    assert_int_equal(fw_panel_led(p, FW_LED_COUNT, true), FW_EINVAL);

    fw_panel_stop(p);
    /* dark and silent, every line let go */
    assert_int_equal(fake_gpio_level(LED_READY), 0);
    assert_int_equal(fake_gpio_level(LED_BUSY), 0);
    assert_null(fake_gpio_consumer(BTN));
    assert_null(fake_gpio_consumer(CLK));
    assert_int_equal(fake_gpio_open_chips(), 0);
    assert_int_equal(display_text(0, text, &lit), 9);
    assert_string_equal(text, "");
    assert_false(lit);
    assert_int_equal(npresses(&pr), 0);
}

static void panel_buttons(void **state)
{
    (void)state;
    SKIP_WHEN_EMULATED();
    fake_gpio_reset();
    struct presses pr = {.lock = PTHREAD_MUTEX_INITIALIZER};
    struct fw_panel_config cfg = kit_config();
    struct fw_panel *p;
    char err[200] = "";
    assert_int_equal(fw_panel_start(&cfg, on_press, &pr, &p, err, sizeof err), FW_OK);
    /* a press of 120 ms that bounces on the way down and up */
    fake_gpio_drive(BTN, 0);
    sleep_ms(2);
    fake_gpio_drive(BTN, 1);
    sleep_ms(1);
    fake_gpio_drive(BTN, 0);
    sleep_ms(120);
    fake_gpio_drive(BTN, -1);
    sleep_ms(1);
    fake_gpio_drive(BTN, 0);
    sleep_ms(1);
    fake_gpio_drive(BTN, -1);
    sleep_ms(80);
    assert_int_equal(npresses(&pr), 1);
    assert_string_equal(pr.station[0], "doctor");
    assert_int_equal(pr.press[0], FW_PRESS_SHORT);
    /* a 10 ms spike (a long cable near the printer's motor): nothing */
    fake_gpio_drive(BTN, 0);
    sleep_ms(10);
    fake_gpio_drive(BTN, -1);
    sleep_ms(80);
    assert_int_equal(npresses(&pr), 1);
    /* held past long_ms (400): one long press, reported while held, nothing at release */
    fake_gpio_drive(BTN, 0);
    sleep_ms(600);
    assert_int_equal(npresses(&pr), 2);
    assert_int_equal(pr.press[1], FW_PRESS_LONG);
    fake_gpio_drive(BTN, -1);
    sleep_ms(80);
    assert_int_equal(npresses(&pr), 2);
    /* the pharmacy's button */
    fake_gpio_drive(27, 0);
    sleep_ms(60);
    fake_gpio_drive(27, -1);
    sleep_ms(80);
    assert_int_equal(npresses(&pr), 3);
    assert_string_equal(pr.station[2], "pharmacy");
    assert_int_equal(pr.press[2], FW_PRESS_SHORT);
    struct fw_panel_stats s;
    fw_panel_stats(p, &s);
    assert_int_equal(s.presses_short, 2);
    assert_int_equal(s.presses_long, 1);
    assert_true(s.bounces_ignored >= 1);
    fw_panel_stop(p);
}

/* The buzzer's on/off times, from the record after mark: durations in ms into d. */
static int buzzer_steps(size_t mark, double *d, int max)
{
    size_t n;
    const struct fake_gpio_change *r = fake_gpio_record(&n);
    long long last = -1;
    int k = 0;
    for (size_t i = mark; i < n; i++) {
        if (r[i].input || r[i].offset != BUZZER)
            continue;
        if (last >= 0 && k < max)
            d[k++] = (double)(r[i].t_ns - last) / 1e6;
        last = r[i].t_ns;
    }
    return k;
}

static void panel_buzzer(void **state)
{
    (void)state;
    SKIP_WHEN_EMULATED();
    fake_gpio_reset();
    struct fw_panel_config cfg = kit_config();
    struct fw_panel *p;
    char err[200] = "";
    assert_int_equal(fw_panel_start(&cfg, NULL, NULL, &p, err, sizeof err), FW_OK);
    size_t mark;
    fake_gpio_record(&mark);
    assert_int_equal(fw_panel_beep(p, FW_BEEP_RECALL), FW_OK);
    sleep_ms(500);
    double d[8];
    assert_int_equal(buzzer_steps(mark, d, 8), 3); /* on 120, off 100, on 120, then off */
    const uint16_t *want = fw_beep_pattern(FW_BEEP_RECALL);
    for (int i = 0; i < 3; i++) {
        assert_true(d[i] >= want[i] - 1);
        assert_true(d[i] <= want[i] + 40); /* a loaded machine's scheduling */
    }
    assert_int_equal(fake_gpio_level(BUZZER), 0);
    /* a new pattern replaces the one sounding */
    fake_gpio_record(&mark);
    assert_int_equal(fw_panel_beep(p, FW_BEEP_READY), FW_OK);
    sleep_ms(50);
    assert_int_equal(fw_panel_beep(p, FW_BEEP_SCAN), FW_OK);
    sleep_ms(200);
    assert_int_equal(fake_gpio_level(BUZZER), 0);
    assert_int_equal(buzzer_steps(mark, d, 8), 1); /* on ... off: 50 + 40 ms, not 400 */
    assert_true(d[0] < 200);
    assert_int_equal(fw_panel_beep(p, (enum fw_beep)42), FW_EINVAL);
    fw_panel_stop(p);
    assert_int_equal(fake_gpio_open_chips(), 0);
}

static void panel_errors(void **state)
{
    (void)state;
    struct fw_panel *p = (struct fw_panel *)1;
    char err[200];
    struct fw_panel_config c;

    fake_gpio_reset();
    c = kit_config();
    snprintf(c.buzzer, sizeof c.buzzer, "GPIO22"); /* the doctor's button */
    assert_int_equal(fw_panel_start(&c, NULL, NULL, &p, err, sizeof err), FW_EINVAL);
    assert_null(p);
    assert_string_equal(err, "GPIO line GPIO22 is both a Next button and the buzzer");

    c = kit_config();
    snprintf(c.led_busy, sizeof c.led_busy, "GPIO99");
    assert_int_equal(fw_panel_start(&c, NULL, NULL, &p, err, sizeof err), FW_ENODEV);
    assert_string_equal(err, "GPIO line GPIO99: no line has this name");
    assert_null(fake_gpio_consumer(BTN)); /* what was taken is let go */
    assert_null(fake_gpio_consumer(LED_READY));
    assert_int_equal(fake_gpio_open_chips(), 0);

    c = kit_config();
    fake_gpio_hold(LED_ATT);
    assert_int_equal(fw_panel_start(&c, NULL, NULL, &p, err, sizeof err), FW_EBUSY);
    assert_non_null(strstr(err, "GPIO6: another program holds it"));
    assert_null(fake_gpio_consumer(CLK));
    assert_int_equal(fake_gpio_open_chips(), 0);
    fake_gpio_reset();

    c = kit_config();
    snprintf(c.stations[1].clk, sizeof c.stations[1].clk, "gpiochip0:x");
    assert_int_equal(fw_panel_start(&c, NULL, NULL, &p, err, sizeof err), FW_EINVAL);
    assert_non_null(strstr(err, "CHIP:OFFSET"));
    snprintf(c.stations[1].clk, sizeof c.stations[1].clk, "gpiochip7:16");
    assert_int_equal(fw_panel_start(&c, NULL, NULL, &p, err, sizeof err), FW_ENODEV);
    assert_non_null(strstr(err, "GPIO chip gpiochip7"));
    snprintf(c.stations[1].clk, sizeof c.stations[1].clk, "gpiochip0:60");
    assert_int_equal(fw_panel_start(&c, NULL, NULL, &p, err, sizeof err), FW_ENODEV);
    assert_string_equal(err, "GPIO line gpiochip0:60: gpiochip0 has no line 60");
    assert_int_equal(fake_gpio_open_chips(), 0);

    c = kit_config();
    c.stations[0].dio[0] = '\0';
    assert_int_equal(fw_panel_start(&c, NULL, NULL, &p, err, sizeof err), FW_EINVAL);
    assert_string_equal(err, "the display of doctor needs both clk and dio");
    c = kit_config();
    snprintf(c.stations[1].name, sizeof c.stations[1].name, "doctor");
    assert_int_equal(fw_panel_start(&c, NULL, NULL, &p, err, sizeof err), FW_EINVAL);
    assert_string_equal(err, "station doctor has two panels");
    c = kit_config();
    c.brightness = 9;
    assert_int_equal(fw_panel_start(&c, NULL, NULL, &p, err, sizeof err), FW_EINVAL);
    assert_null(fake_gpio_consumer(BTN));
}

/* mokitd's panel, leds and buzzer options (app/panel/panel.c). */
static void panel_options(void **state)
{
    (void)state;
    struct fw_panel_config c;
    char err[200] = "";
    assert_int_equal(panel_config_parse("doctor next=GPIO22 clk=GPIO23 dio=GPIO24;  pharmacy  "
                                        "dio=gpiochip0:20 next=GPIO27\tclk=GPIO16;",
                                        "ready=GPIO5 busy=GPIO13", " GPIO12 ", &c, err, sizeof err),
                     MK_OK);
    assert_int_equal(c.nstations, 2);
    assert_string_equal(c.stations[0].name, "doctor");
    assert_string_equal(c.stations[0].next, "GPIO22");
    assert_string_equal(c.stations[0].clk, "GPIO23");
    assert_string_equal(c.stations[0].dio, "GPIO24");
    assert_string_equal(c.stations[1].name, "pharmacy");
    assert_string_equal(c.stations[1].dio, "gpiochip0:20");
    assert_string_equal(c.stations[1].clk, "GPIO16");
    assert_string_equal(c.led_ready, "GPIO5");
    assert_string_equal(c.led_attention, "");
    assert_string_equal(c.led_busy, "GPIO13");
    assert_string_equal(c.buzzer, "GPIO12");
    assert_int_equal(c.brightness, -1);

    assert_int_equal(panel_config_parse(NULL, NULL, NULL, &c, err, sizeof err), MK_OK);
    assert_int_equal(c.nstations, 0);
    assert_string_equal(c.buzzer, "");

    static const struct {
        const char *panels, *leds, *buzzer, *err;
    } bad[] = {
        {"doctor next=GPIO22 next=GPIO23", NULL, NULL, "panel doctor: next given twice"},
        {"doctor nxt=GPIO22", NULL, NULL,
         "panel doctor: \"nxt\" is not one of next=LINE, clk=LINE or dio=LINE"},
        {"doctor next=", NULL, NULL,
         "panel doctor: next= is not a GPIO line (GPIO22 or gpiochip0:22)"},
        {"doctor next=GPIO22;x", NULL, NULL,
         "panel x: give next=LINE, a display (clk=LINE dio=LINE) or both"},
        {"next=GPIO22", NULL, NULL,
         "panel: give the station's name first, then next=LINE "
         "clk=LINE dio=LINE (\"doctor next=GPIO22 clk=GPIO23 "
         "dio=GPIO24\")"},
        {"doctor next=GPIO$2", NULL, NULL,
         "panel doctor: next=GPIO$2 is not a GPIO line (GPIO22 or gpiochip0:22)"},
        {"a next=GPIO1;b next=GPIO2;c next=GPIO3;d next=GPIO4;e next=GPIO5", NULL, NULL,
         "panel: at most 4 stations have a panel"},
        {NULL, "ready=GPIO5 red=GPIO6", NULL,
         "leds: \"red\" is not one of ready=LINE, attention=LINE or busy=LINE"},
        {NULL, NULL, "GPIO12 GPIO13", "buzzer: give one GPIO line (GPIO12 or gpiochip0:12)"},
        {NULL, NULL, "GPIO\x01", "buzzer: give one GPIO line (GPIO12 or gpiochip0:12)"},
    };
    for (size_t i = 0; i < sizeof bad / sizeof bad[0]; i++) {
        err[0] = '\0';
        assert_int_equal(
            panel_config_parse(bad[i].panels, bad[i].leds, bad[i].buzzer, &c, err, sizeof err),
            MK_EINVAL);
        assert_string_equal(err, bad[i].err);
    }
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(tm1637_frames), cmocka_unit_test(button_debounce),
        cmocka_unit_test(button_long),   cmocka_unit_test(panel_display),
        cmocka_unit_test(panel_buttons), cmocka_unit_test(panel_buzzer),
        cmocka_unit_test(panel_errors),  cmocka_unit_test(panel_options),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
