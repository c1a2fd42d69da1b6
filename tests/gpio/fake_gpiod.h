/* A link-time fake of libgpiod 1.6 (the functions mokit uses), for tests: one chip,
 * "gpiochip0", with the 54 lines of a Raspberry Pi named GPIO0..GPIO53. It keeps each line's
 * physical level and records every change of an output, with the monotonic time, so a test
 * checks the exact bit stream a display got; a test drives inputs as a button would
 * (fake_gpio_drive), and requested edge events come through a pipe as from the kernel.
 *
 * Linked into a program instead of libgpiod (its definitions win over the shared library's),
 * it also takes commands from a FIFO named by MOKIT_FAKE_GPIO_CTL and writes its record to the
 * file MOKIT_FAKE_GPIO_LOG, for tests of a running mokitd (tests/gpio/run.py):
 *   GPIO22 0        drive a line low (a button pressed: it pulls to ground)
 *   GPIO22 -        let it go (the pull-up takes it back high)
 *   wait 2500       microseconds before the next command (bounces, held buttons)
 *   hold GPIO5      another program holds the line (requests fail with EBUSY)
 * Record lines: "T_NS OFFSET LEVEL o|i" (o: an output changed, i: an input was driven). */
#pragma once

#include <stdbool.h>
#include <stddef.h>

#define FAKE_GPIO_LINES 54

struct fake_gpio_change {
    long long t_ns;
    int offset, level;
    bool input;
};

/* Forgets every request, level and record (the chips must all be closed). */
void fake_gpio_reset(void);
/* Drives a line from outside (level 0/1), or lets it go (-1). */
void fake_gpio_drive(int offset, int level);
/* Makes a line held by another program. */
void fake_gpio_hold(int offset);
/* The record so far (valid until the next call of a fake_gpio_ function). */
const struct fake_gpio_change *fake_gpio_record(size_t *n);
/* The consumer that holds a line, or NULL. */
const char *fake_gpio_consumer(int offset);
/* The physical level of a line now. */
int fake_gpio_level(int offset);
/* Chip handles open now (a leak check). */
int fake_gpio_open_chips(void);
/* The monotonic clock in ns, as the record has it. */
long long fake_gpio_now_ns(void);
