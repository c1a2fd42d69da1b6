/* The GPIO seam (line.h) on libgpiod 1.6, the v1 API. */
#include "line.h"

#include "fw_print.h"

#include <errno.h>
#include <gpiod.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

struct gpio_line {
    struct gpiod_chip *chip;
    struct gpiod_line *line;
};

/* "gpiochip0:22" -> chip name and offset; 0, or -1 when spec is not of that form. */
static int split_chip_offset(const char *spec, char *chip, size_t chiplen, unsigned *offset)
{
    const char *colon = strrchr(spec, ':');
    if (!colon || colon == spec || (size_t)(colon - spec) >= chiplen || !colon[1])
        return -1;
    char *end;
    errno = 0;
    unsigned long v = strtoul(colon + 1, &end, 10);
    if (*end || errno || v > 1023 || colon[1] == '-' || colon[1] == '+')
        return -1;
    memcpy(chip, spec, (size_t)(colon - spec));
    chip[colon - spec] = '\0';
    *offset = (unsigned)v;
    return 0;
}

int gpio_line_open(const char *spec, enum gpio_mode mode, int initial, const char *consumer,
                   struct gpio_line **out, char *err, size_t errlen)
{
    *out = NULL;
    if (!spec || !*spec || strlen(spec) > 63) {
        snprintf(err, errlen, "no GPIO line given");
        return FW_EINVAL;
    }
    struct gpio_line *l = calloc(1, sizeof *l);
    if (!l)
        return FW_ENOMEM;
    char chip[64];
    unsigned offset;
    int rc = FW_OK;
    if (strchr(spec, ':')) {
        if (split_chip_offset(spec, chip, sizeof chip, &offset) != 0) {
            snprintf(err, errlen,
                     "GPIO line %s: give a line name (GPIO22) or CHIP:OFFSET "
                     "(gpiochip0:22)",
                     spec);
            rc = FW_EINVAL;
            goto fail;
        }
        l->chip = gpiod_chip_open_lookup(chip);
        if (!l->chip) {
            snprintf(err, errlen, "GPIO chip %s: %s", chip, strerror(errno));
            rc = errno == EACCES ? FW_EIO : FW_ENODEV;
            goto fail;
        }
        l->line = gpiod_chip_get_line(l->chip, offset);
        if (!l->line) {
            snprintf(err, errlen, "GPIO line %s: %s has no line %u", spec, chip, offset);
            rc = FW_ENODEV;
            goto fail;
        }
    } else {
        errno = 0;
        l->line = gpiod_line_find(spec);
        if (!l->line) {
            snprintf(err, errlen, "GPIO line %s: %s", spec,
                     errno && errno != ENOENT ? strerror(errno) : "no line has this name");
            rc = errno && errno != ENOENT ? FW_EIO : FW_ENODEV;
            goto fail;
        }
        l->chip = gpiod_line_get_chip(l->line); /* the chip gpiod_line_find() opened */
    }
    struct gpiod_line_request_config rq = {.consumer = consumer};
    switch (mode) {
    case GPIO_INPUT:
        rq.request_type = GPIOD_LINE_REQUEST_DIRECTION_INPUT;
        break;
    case GPIO_OUTPUT:
        rq.request_type = GPIOD_LINE_REQUEST_DIRECTION_OUTPUT;
        break;
    case GPIO_OPEN_DRAIN:
        rq.request_type = GPIOD_LINE_REQUEST_DIRECTION_OUTPUT;
        rq.flags = GPIOD_LINE_REQUEST_FLAG_OPEN_DRAIN;
        break;
    case GPIO_BUTTON:
        rq.request_type = GPIOD_LINE_REQUEST_EVENT_BOTH_EDGES;
        rq.flags = GPIOD_LINE_REQUEST_FLAG_ACTIVE_LOW | GPIOD_LINE_REQUEST_FLAG_BIAS_PULL_UP;
        break;
    }
    if (gpiod_line_request(l->line, &rq, initial) != 0) {
        int e = errno;
        snprintf(err, errlen, "GPIO line %s: %s", spec,
                 e == EBUSY ? "another program holds it (gpioinfo names it)" : strerror(e));
        rc = e == EBUSY ? FW_EBUSY : FW_EIO;
        goto fail;
    }
    *out = l;
    return FW_OK;
fail:
    if (l->chip)
        gpiod_chip_close(l->chip);
    free(l);
    return rc;
}

void gpio_line_close(struct gpio_line *l)
{
    if (!l)
        return;
    gpiod_line_release(l->line);
    gpiod_chip_close(l->chip);
    free(l);
}

int gpio_line_set(struct gpio_line *l, int value)
{
    return gpiod_line_set_value(l->line, value ? 1 : 0);
}

int gpio_line_get(struct gpio_line *l)
{
    return gpiod_line_get_value(l->line);
}

int gpio_line_event_fd(struct gpio_line *l)
{
    return gpiod_line_event_get_fd(l->line);
}

int gpio_line_event_read(struct gpio_line *l, int *active)
{
    struct gpiod_line_event ev;
    if (gpiod_line_event_read(l->line, &ev) != 0)
        return -1;
    *active = ev.event_type == GPIOD_LINE_EVENT_RISING_EDGE;
    return 0;
}
