/* HID point-of-sale scales (USB HID usage page 0x8D): input report 3. Pure. */
#include "fw_device.h"

#include <math.h>

int fw_hidpos_parse(const uint8_t *r, size_t n, struct fw_scale_report *out)
{
    if (!r || n < 6 || r[0] != 3 || r[1] < FW_SCALE_FAULT || r[1] > FW_SCALE_REZERO)
        return FW_EINVAL;
    double per_unit; /* kilograms in one unit */
    switch (r[2]) {
    case 2: /* gram */
        per_unit = 0.001;
        break;
    case 3: /* kilogram */
        per_unit = 1.0;
        break;
    case 11: /* ounce */
        per_unit = 0.028349523125;
        break;
    case 12: /* pound */
        per_unit = 0.45359237;
        break;
    default:
        return FW_EINVAL;
    }
    out->status = (enum fw_scale_status)r[1];
    out->unit = r[2];
    out->exponent = (int8_t)r[3];
    out->raw = (unsigned)r[4] | (unsigned)r[5] << 8;
    if (out->exponent < -9 || out->exponent > 9)
        return FW_EINVAL;
    out->kg = out->raw * pow(10, out->exponent) * per_unit;
    return FW_OK;
}

int fw_hidpos_feed(struct fw_scale *s, const uint8_t *r, size_t n, struct fw_reading *out,
                   enum fw_scale_status *status)
{
    struct fw_scale_report rep;
    if (fw_hidpos_parse(r, n, &rep) != FW_OK)
        return FW_EINVAL;
    if (status)
        *status = rep.status;
    if (s->reports++ == 0) /* stale: the scale repeats what it last said */
        return 0;
    switch (rep.status) {
    case FW_SCALE_STABLE:
        if (s->given && s->given_raw == rep.raw)
            return 0; /* the same load, still on the scale */
        s->given = true;
        s->given_raw = rep.raw;
        out->kind = "weight";
        out->unit = "kg";
        out->value = round(rep.kg * 1000) / 1000; /* grams are the scales' resolution */
        out->value2 = out->value3 = NAN;
        out->device_time = 0;
        return 1;
    case FW_SCALE_ZERO:
    case FW_SCALE_MOTION:
    case FW_SCALE_UNDER: /* emptied, or someone stepping on or off: the next load counts */
        s->given = false;
        return 0;
    default:
        return 0;
    }
}
