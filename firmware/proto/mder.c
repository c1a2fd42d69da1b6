/* IEEE 11073-20601 MDER primitives (firmware/proto/mder.h). */
#include "mder.h"

#include <stdbool.h>

static double pow10i(int e)
{
    double v = 1;
    for (int i = 0; i < (e < 0 ? -e : e); i++)
        v *= 10;
    return e < 0 ? 1 / v : v;
}

enum fw_mder_num fw_mder_sfloat(uint16_t raw, double *out)
{
    int exponent = raw >> 12, mantissa = raw & 0x0fff;
    if (exponent == 0) {
        switch (mantissa) {
        case 0x7ff:
            return FW_MDER_NAN;
        case 0x800:
            return FW_MDER_NRES;
        case 0x7fe:
            return FW_MDER_PINF;
        case 0x802:
            return FW_MDER_NINF;
        case 0x801:
            return FW_MDER_RESERVED;
        }
    }
    if (exponent >= 8)
        exponent -= 16;
    if (mantissa >= 0x800)
        mantissa -= 0x1000;
    /* 116.7 is 1167 x 10^-1: divide rather than multiply by 0.1, so the double is the
     * nearest one to the decimal the device meant. */
    *out = exponent < 0 ? mantissa / pow10i(-exponent) : mantissa * pow10i(exponent);
    return FW_MDER_VALUE;
}

enum fw_mder_num fw_mder_float(uint32_t raw, double *out)
{
    int exponent = (int)(raw >> 24);
    int32_t mantissa = (int32_t)(raw & 0xffffff);
    if (exponent == 0) {
        switch (mantissa) {
        case 0x7fffff:
            return FW_MDER_NAN;
        case 0x800000:
            return FW_MDER_NRES;
        case 0x7ffffe:
            return FW_MDER_PINF;
        case 0x800002:
            return FW_MDER_NINF;
        case 0x800001:
            return FW_MDER_RESERVED;
        }
    }
    if (exponent >= 128)
        exponent -= 256;
    if (mantissa >= 0x800000)
        mantissa -= 0x1000000;
    *out = exponent < 0 ? mantissa / pow10i(-exponent) : mantissa * pow10i(exponent);
    return FW_MDER_VALUE;
}

const char *fw_mder_num_name(enum fw_mder_num n)
{
    switch (n) {
    case FW_MDER_VALUE:
        return "value";
    case FW_MDER_NAN:
        return "NaN";
    case FW_MDER_NRES:
        return "NRes";
    case FW_MDER_PINF:
        return "+INF";
    case FW_MDER_NINF:
        return "-INF";
    case FW_MDER_RESERVED:
        return "reserved";
    }
    return "?";
}

static int bcd(uint8_t b)
{
    int hi = b >> 4, lo = b & 0x0f;
    return hi > 9 || lo > 9 ? -1 : hi * 10 + lo;
}

int fw_mder_abs_time(const uint8_t p[8], struct fw_mder_time *t)
{
    int v[8];
    for (int i = 0; i < 8; i++)
        if ((v[i] = bcd(p[i])) < 0)
            return FW_EINVAL;
    t->year = v[0] * 100 + v[1];
    t->month = v[2];
    t->day = v[3];
    t->hour = v[4];
    t->minute = v[5];
    t->second = v[6];
    t->hundredths = v[7];
    char why[48];
    if (t->year < 1970 ||
        fw_civil_check(t->year, t->month, t->day, t->hour, t->minute, t->second, why, sizeof why))
        return FW_EINVAL;
    return FW_OK;
}

int fw_mder_apdu(const uint8_t *p, size_t n, uint16_t *choice, const uint8_t **body, size_t *len)
{
    if (n < 2)
        return 0;
    uint16_t c = fw_mder_u16(p);
    if (c != FW_APDU_AARQ && c != FW_APDU_AARE && c != FW_APDU_RLRQ && c != FW_APDU_RLRE &&
        c != FW_APDU_ABRT && c != FW_APDU_PRST)
        return FW_EINVAL;
    if (n < 4)
        return 0;
    size_t l = fw_mder_u16(p + 2);
    if (n < 4 + l)
        return 0;
    *choice = c;
    *body = p + 4;
    *len = l;
    return (int)(4 + l);
}
