/* mokit firmware: the station controls on the Pi's GPIO header (hw/pinout.md), the public
 * contract.
 *
 * A panel is what the kit has on its header: per station a Next button and a TM1637 4-digit
 * display, and for the kit three status LEDs (ready, attention, busy) and a buzzer. One thread
 * owns every line: it waits for the buttons' edge events (no polling), debounces them, tells a
 * short press from a long one, and carries out what the app asks (a number on a display, LEDs,
 * a buzzer pattern) in order. Lines are taken through libgpiod behind a small seam
 * (firmware/gpio/line.h): libgpiod 1.6 on bookworm; a 2.x backend can be added for trixie.
 *
 * The pure parts are exposed for tests: the TM1637 frames (firmware/proto/tm1637.c), the
 * button state machine (firmware/gpio/button.c). Protocol notes: firmware/doc/gpio.md. */
#pragma once

#include "fw_print.h" /* FW_OK and the FW_E* codes */

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

/* ---- TM1637 (pure): a 4-digit LED display driven by a two-wire serial protocol ---- */

#define FW_TM1637_DIGITS 4

/* The segments (bit 0 = a ... bit 6 = g, bit 7 = the colon/dot) of a character: digits, space,
 * '-', '_' and the letters a display can show (A b C d E F H L n o P r t U y, either case). 0 for
 * any other character. */
uint8_t fw_tm1637_glyph(char c);
/* The character a segment pattern shows (the inverse of fw_tm1637_glyph for its characters, in
 * the case it returns them), or '?' for a pattern that is none of them. For tests and the
 * recorded-display decoder. */
char fw_tm1637_char(uint8_t segments);

/* What to write for text on a display: text is right-aligned on the 4 digits (a number reads
 * as the display's own digits do); FW_EINVAL when text is longer than 4 characters or has a
 * character the display cannot show. brightness 0-7; on false switches the display off (the
 * digits are still written). The three transfers of a display update, each sent between a
 * start and a stop condition:
 *   cmd1 = 0x40 (write data, address auto-increment)
 *   data = 0xC0 (address 0), then the 4 digits' segments, left to right
 *   cmd3 = 0x88 | brightness (display on) or 0x80 (off) */
struct fw_tm1637_frame {
    uint8_t cmd1;
    uint8_t data[1 + FW_TM1637_DIGITS];
    uint8_t cmd3;
};
int fw_tm1637_frame(const char *text, int brightness, bool on, struct fw_tm1637_frame *out);

/* ---- buttons (pure): debounce and long press ---- */

enum fw_press { FW_PRESS_NONE, FW_PRESS_SHORT, FW_PRESS_LONG };

/* One button's state. Times are milliseconds on a monotonic clock. The line must hold a new
 * level for debounce_ms before it counts (a bounce or a spike shorter than that is ignored). A
 * press held for long_ms is a long press, reported when that time is reached (still held); a
 * shorter one is a short press, reported when it is released (the kit cannot know it is short
 * before). */
struct fw_button {
    int debounce_ms, long_ms;
    int stable;          /* 1 pressed, 0 released (debounced) */
    int raw;             /* the level last seen */
    long long settle_at; /* when raw will have held long enough; -1: nothing pending */
    long long pressed_at;
    bool long_sent;
    unsigned long glitches; /* edges that came to nothing (bounces, spikes) */
};
void fw_button_init(struct fw_button *b, int debounce_ms, int long_ms);
/* An edge: the line is now at level (1 pressed). */
void fw_button_edge(struct fw_button *b, int level, long long now_ms);
/* Time passes: what happened by now_ms (at most one press per call: call until NONE). */
enum fw_press fw_button_tick(struct fw_button *b, long long now_ms);
/* When fw_button_tick next has something to do, or -1 (waiting for an edge). */
long long fw_button_deadline(const struct fw_button *b);

/* ---- the panel (firmware/gpio/panel.c) ---- */

#define FW_PANEL_STATIONS 4

/* A line: its name ("GPIO22", as the kernel names the Pi's header lines) or CHIP:OFFSET
 * ("gpiochip0:22"). "" for none. */
struct fw_panel_station {
    char name[32];         /* the station ("doctor") */
    char next[40];         /* its Next button, wired to ground (internal pull-up) */
    char clk[40], dio[40]; /* its TM1637 display ("" when it has none) */
};

struct fw_panel_config {
    struct fw_panel_station stations[FW_PANEL_STATIONS];
    int nstations;
    char led_ready[40], led_attention[40], led_busy[40]; /* active high; "" for none */
    char buzzer[40];                                     /* active high; "" for none */
    int debounce_ms;                                     /* 0: 30 */
    int long_ms;                                         /* 0: 1000 */
    int brightness;     /* the displays', 0-7 (-1: 7, the brightest: a sunny hall) */
    int tm1637_half_us; /* the TM1637 clock's half period in microseconds (0: 10: 50 kHz,
                           well under the chip's 250 kHz with a long ribbon cable) */
};

/* Called on the panel's thread when a station's button was pressed: station is the config's
 * name; at_ms when the press was complete (the monotonic clock). The panel's next commands are
 * carried out after it returns. */
typedef void (*fw_panel_press_fn)(void *ctx, const char *station, enum fw_press press,
                                  long long at_ms);

struct fw_panel;

/* Takes every line of cfg and starts the thread: the displays are cleared and the LEDs off.
 * FW_EINVAL (a line named twice, a display with one of its two lines), FW_ENODEV (a line that
 * is not there: err names it), FW_EBUSY (a line another program holds), FW_EIO, FW_ENOMEM;
 * err says which in words, and nothing is held. */
int fw_panel_start(const struct fw_panel_config *cfg, fw_panel_press_fn on_press, void *ctx,
                   struct fw_panel **out, char *err, size_t errlen);
/* Clears the displays, switches the LEDs and the buzzer off, releases the lines. */
void fw_panel_stop(struct fw_panel *p);

/* These queue a command for the panel's thread and return at once (any thread; FW_EINVAL for
 * a station the panel has no display for, or text the display cannot show; FW_ENOMEM). */

/* Shows text (a number: "17"; "----"; "" blank) on a station's display; flash: blink it three
 * times first (a number called again). */
int fw_panel_show(struct fw_panel *p, const char *station, const char *text, bool flash);

enum fw_led { FW_LED_READY, FW_LED_ATTENTION, FW_LED_BUSY, FW_LED_COUNT };
int fw_panel_led(struct fw_panel *p, enum fw_led led, bool on);

enum fw_beep {
    FW_BEEP_CALL,   /* a number called: one 120 ms chirp */
    FW_BEEP_RECALL, /* called again: two chirps */
    FW_BEEP_SCAN,   /* a wristband read: one short 40 ms tick */
    FW_BEEP_ERROR,  /* nothing to do (nobody waiting, a scan refused): three short beeps */
    FW_BEEP_READY,  /* the kit is up: one long 400 ms tone */
};
/* The pattern as on/off durations in ms, ending with 0 (for tests and the docs). */
const uint16_t *fw_beep_pattern(enum fw_beep b);
/* A new pattern replaces the one sounding. */
int fw_panel_beep(struct fw_panel *p, enum fw_beep b);

/* What the panel holds, for the status page: counts of presses and display updates. */
struct fw_panel_stats {
    unsigned long presses_short, presses_long, display_writes, bounces_ignored;
};
void fw_panel_stats(struct fw_panel *p, struct fw_panel_stats *out);
