/* The seam between mokit's GPIO code and libgpiod: the few things the panel and the printer's
 * busy line need from a line. One backend per libgpiod API: line_v1.c for libgpiod 1.6 (Debian
 * bookworm, Raspberry Pi OS bookworm). A libgpiod 2.x backend (trixie) implements the same
 * functions with gpiod_line_request and gpiod_edge_event; nothing above this file changes. */
#pragma once

#include <stdbool.h>
#include <stddef.h>

struct gpio_line;

enum gpio_mode {
    GPIO_INPUT,      /* read when asked (the printer's busy line), active high, no bias */
    GPIO_OUTPUT,     /* driven, starting at initial */
    GPIO_OPEN_DRAIN, /* driven low or let go (the TM1637's data line, pulled up by the module) */
    GPIO_BUTTON,     /* input with the internal pull-up, active low (pressed reads 1), with edge
                        events on both edges */
};

/* Takes a line: spec is a line name ("GPIO22") or CHIP:OFFSET ("gpiochip0:22"). consumer is
 * what `gpioinfo` shows as its user. FW_EINVAL (a malformed spec), FW_ENODEV (no such chip or
 * line), FW_EBUSY (another program holds it), FW_EIO; err says which in words. */
int gpio_line_open(const char *spec, enum gpio_mode mode, int initial, const char *consumer,
                   struct gpio_line **out, char *err, size_t errlen);
void gpio_line_close(struct gpio_line *l);

/* 0 or -1 (errno). For GPIO_OPEN_DRAIN, 1 lets the line go. */
int gpio_line_set(struct gpio_line *l, int value);
/* The line's level (1 active), or -1. */
int gpio_line_get(struct gpio_line *l);

/* GPIO_BUTTON lines: a file descriptor readable when an edge came, and the edge itself (1: the
 * line became active, 0: inactive). 0, or -1 (errno; EAGAIN when none is waiting). */
int gpio_line_event_fd(struct gpio_line *l);
int gpio_line_event_read(struct gpio_line *l, int *active);
