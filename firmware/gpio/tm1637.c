/* The TM1637's two-wire protocol, bit-banged: a start is DIO falling while CLK is high, a stop
 * DIO rising while CLK is high; data bits, least significant first, are set while CLK is low
 * and read by the chip on CLK's rising edge; a ninth clock is the chip's acknowledge, given
 * with DIO let go. The acknowledge is clocked but not checked: reading back an open-drain line
 * is not reliable on every GPIO controller, and a display that does not answer still shows
 * nothing worse than before. */
#include "tm1637.h"

#include <time.h>

/* Busy-waits: microseconds are far below what the scheduler's sleeps can give. */
static void wait_us(int us)
{
    struct timespec t0, t;
    clock_gettime(CLOCK_MONOTONIC, &t0);
    do
        clock_gettime(CLOCK_MONOTONIC, &t);
    while ((t.tv_sec - t0.tv_sec) * 1000000000L + (t.tv_nsec - t0.tv_nsec) < us * 1000L);
}

static int set(struct tm1637 *t, struct gpio_line *l, int v)
{
    if (gpio_line_set(l, v) != 0)
        return -1;
    wait_us(t->half_us);
    return 0;
}

static int start(struct tm1637 *t)
{
    /* idle: CLK and DIO high */
    return set(t, t->dio, 1) || set(t, t->clk, 1) || set(t, t->dio, 0) ? -1 : 0;
}

static int stop(struct tm1637 *t)
{
    return set(t, t->clk, 0) || set(t, t->dio, 0) || set(t, t->clk, 1) || set(t, t->dio, 1) ? -1
                                                                                            : 0;
}

static int byte(struct tm1637 *t, uint8_t b)
{
    for (int i = 0; i < 8; i++, b >>= 1)
        if (set(t, t->clk, 0) || set(t, t->dio, b & 1) || set(t, t->clk, 1))
            return -1;
    /* the acknowledge clock, DIO let go */
    return set(t, t->clk, 0) || set(t, t->dio, 1) || set(t, t->clk, 1) || set(t, t->clk, 0) ? -1
                                                                                            : 0;
}

static int transfer(struct tm1637 *t, const uint8_t *b, size_t n)
{
    if (start(t))
        return -1;
    for (size_t i = 0; i < n; i++)
        if (byte(t, b[i]))
            return -1;
    return stop(t);
}

int tm1637_write(struct tm1637 *t, const struct fw_tm1637_frame *f)
{
    if (transfer(t, &f->cmd1, 1) || transfer(t, f->data, sizeof f->data) ||
        transfer(t, &f->cmd3, 1))
        return -1;
    return 0;
}
