/* A TM1637 display on two GPIO lines, bit-banged (firmware/doc/gpio.md). */
#pragma once

#include "fw_gpio.h"
#include "line.h"

struct tm1637 {
    struct gpio_line *clk, *dio; /* CLK push-pull, DIO open drain; both idle high */
    int half_us;                 /* the clock's half period */
};

/* Sends a frame's three transfers. 0, or -1 when a line could not be set (errno). */
int tm1637_write(struct tm1637 *t, const struct fw_tm1637_frame *f);
