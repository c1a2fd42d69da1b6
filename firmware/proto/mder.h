/* mokit firmware: IEEE 11073-20601 (Personal Health Devices, "Continua") Medical Device
 * Encoding Rules, the primitives: SFLOAT and FLOAT numbers, absolute time, the APDU header.
 * MDER is big-endian. Pure: no I/O, no allocation, no globals. Sources: firmware/doc/ieee11073.md
 * (to be written with the driver), field-notes §1.
 *
 *   SFLOAT-Type  16 bits: 4-bit signed exponent (high), 12-bit signed mantissa; value
 *                mantissa x 10^exponent. Exponent 0 with mantissa 0x7FF NaN, 0x800 NRes (not
 *                at this resolution), 0x7FE +INF, 0x802 -INF, 0x801 reserved.
 *   FLOAT-Type   32 bits: 8-bit signed exponent, 24-bit signed mantissa; the same special
 *                values with the mantissa 0x7FFFFF, 0x800000, 0x7FFFFE, 0x800002, 0x800001.
 *   AbsoluteTime 8 BCD bytes: century, year, month, day, hour, minute, second, 1/100 s.
 *   APDU         u16 choice (0xE200 AARQ, 0xE300 AARE, 0xE400 RLRQ, 0xE500 RLRE, 0xE600 ABRT,
 *                0xE700 PRST), u16 length, then that many bytes. */
#pragma once

#include "fw_device.h"

#include <stddef.h>
#include <stdint.h>

/* What a number is: a value, or one of the special values a device sends instead. */
enum fw_mder_num {
    FW_MDER_VALUE = 0,
    FW_MDER_NAN = 1,      /* not a number: no measurement */
    FW_MDER_NRES = 2,     /* not at this resolution */
    FW_MDER_PINF = 3,     /* above the range */
    FW_MDER_NINF = 4,     /* below the range */
    FW_MDER_RESERVED = 5, /* reserved for future use: treat as no value */
};

/* Decodes a number: FW_MDER_VALUE with *out set, or the special value (*out left alone). */
enum fw_mder_num fw_mder_sfloat(uint16_t raw, double *out);
enum fw_mder_num fw_mder_float(uint32_t raw, double *out);
const char *fw_mder_num_name(enum fw_mder_num n);

struct fw_mder_time {
    int year, month, day, hour, minute, second, hundredths;
};
/* FW_OK, or FW_EINVAL for a nibble above 9 or a field out of range (month 13, day 32, hour
 * 24...). An all-zero time (a device with no clock set) is FW_EINVAL too. */
int fw_mder_abs_time(const uint8_t p[8], struct fw_mder_time *t);

enum {
    FW_APDU_AARQ = 0xe200,
    FW_APDU_AARE = 0xe300,
    FW_APDU_RLRQ = 0xe400,
    FW_APDU_RLRE = 0xe500,
    FW_APDU_ABRT = 0xe600,
    FW_APDU_PRST = 0xe700,
};
/* The APDU at p (n bytes): its choice, and its body (length bytes after the 4-byte header).
 * The APDU's size (4 + length) when p holds it whole; 0 when more bytes are needed;
 * FW_EINVAL for an unknown choice. */
int fw_mder_apdu(const uint8_t *p, size_t n, uint16_t *choice, const uint8_t **body, size_t *len);

static inline uint16_t fw_mder_u16(const uint8_t *p)
{
    return (uint16_t)(p[0] << 8 | p[1]);
}
static inline uint32_t fw_mder_u32(const uint8_t *p)
{
    return (uint32_t)p[0] << 24 | (uint32_t)p[1] << 16 | (uint32_t)p[2] << 8 | p[3];
}
