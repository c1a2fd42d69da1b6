/* A button's debounce and long press: pure (times come in), so tests drive it exactly. */
#include "fw_gpio.h"

void fw_button_init(struct fw_button *b, int debounce_ms, int long_ms)
{
    *b = (struct fw_button){.debounce_ms = debounce_ms, .long_ms = long_ms, .settle_at = -1};
}

void fw_button_edge(struct fw_button *b, int level, long long now_ms)
{
    b->raw = level ? 1 : 0;
    b->settle_at = now_ms + b->debounce_ms; /* every edge starts the wait again */
}

enum fw_press fw_button_tick(struct fw_button *b, long long now_ms)
{
    /* A long press first, if it was reached before a release that may be pending (a late
     * tick must not turn a long press into a short one). */
    if (b->stable && !b->long_sent) {
        long long long_at = b->pressed_at + b->long_ms;
        long long released_at = b->settle_at >= 0 && !b->raw ? b->settle_at - b->debounce_ms : -1;
        if (now_ms >= long_at && (released_at < 0 || long_at <= released_at)) {
            b->long_sent = true;
            return FW_PRESS_LONG;
        }
    }
    if (b->settle_at >= 0 && now_ms >= b->settle_at) {
        long long edge_at = b->settle_at - b->debounce_ms;
        b->settle_at = -1;
        if (b->raw == b->stable) {
            b->glitches++;
            return FW_PRESS_NONE;
        }
        b->stable = b->raw;
        if (b->stable) {
            b->pressed_at = edge_at;
            b->long_sent = false;
            return fw_button_tick(b, now_ms); /* held long already (a very late tick) */
        }
        return b->long_sent ? FW_PRESS_NONE : FW_PRESS_SHORT;
    }
    return FW_PRESS_NONE;
}

long long fw_button_deadline(const struct fw_button *b)
{
    long long d = b->settle_at;
    if (b->stable && !b->long_sent) {
        long long long_at = b->pressed_at + b->long_ms;
        if (d < 0 || long_at < d)
            d = long_at;
    }
    return d;
}
