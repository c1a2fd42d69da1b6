/* The station panel in the app: the GPIO buttons, displays, LEDs and buzzer of the kit
 * (firmware/gpio, fw_gpio.h) tied to the screening day:
 *   - a Next button calls the station's next queue number (a long press calls the last one
 *     again), as POST /stations/{name}/call does, with the same "call" event;
 *   - every "call" event, from a button or a phone, puts the number on that station's display
 *     (flashing when called again) and chirps the buzzer;
 *   - a wristband scanned chirps (a refused scan: three short beeps);
 *   - the LEDs: ready while nothing needs a person; attention while a printer is out of paper
 *     or offline, or a device has a fault; busy while a print job is being sent.
 * It has its own database connection; presses are handled on the panel's thread. */
#pragma once

#include "../api/events.h"

#include "fw_gpio.h"

#include <jansson.h>
#include <stddef.h>

struct panel;

/* mokitd's options, parsed (pure): panels is "STATION next=LINE clk=LINE dio=LINE" entries
 * separated by ';' (a config file's `panel` lines), leds "ready=LINE attention=LINE
 * busy=LINE", buzzer a LINE; each may be NULL or "". MK_EINVAL with the reason in err. */
int panel_config_parse(const char *panels, const char *leds, const char *buzzer,
                       struct fw_panel_config *out, char *err, size_t errlen);

struct panel_config {
    const char *data_dir;
    const char *panels, *leds, *buzzer; /* as for panel_config_parse */
    struct events *events;
};

/* MK_OK with *out (NULL when nothing is configured: no panel); MK_EINVAL (the options, or a
 * station the kit does not have), MK_EIO (a line cannot be taken: the message is logged). */
int panel_start(const struct panel_config *cfg, struct panel **out);
/* After everything that publishes events has stopped. */
void panel_stop(struct panel *p);

/* {"stations":[...],"presses":{"short":n,"long":n},"display_writes":n,"bounces_ignored":n,
 *  "leds":{"ready":b,"attention":b,"busy":b}} for GET /api/v1/status. */
json_t *panel_status(struct panel *p);
