/* The QR code on the Vietnamese chip citizen ID card (CCCD).
 *
 * Fields are separated by '|':
 *   ID (12 digits) | old ID (9 digits, or empty) | full name | birth date DDMMYYYY |
 *   sex (Nam / Nữ) | permanent address | issue date DDMMYYYY
 * Newer cards append more fields; they are accepted and ignored. A scanner's trailing CR/LF
 * and surrounding spaces are tolerated, names in NFD are normalised to NFC.
 * Pure: no I/O. */
#pragma once

#include "date.h"
#include "patient.h"

#include <stddef.h>

#define CCCD_MAX_TEXT 2048

struct cccd {
    char id[13];
    char old_id[13]; /* empty when the card has none */
    char *name;      /* NFC, malloc'd */
    struct date birth;
    enum sex sex;
    char *address; /* NFC, malloc'd */
    struct date issued;
};

/* Parses len bytes of QR text. Returns 0 with *out filled (free with cccd_free), or
 * MK_EINVAL with a sentence in err saying what is wrong, or MK_ENOMEM. */
int cccd_parse(const char *text, size_t len, struct cccd *out, char *err, size_t errlen);
void cccd_free(struct cccd *c);
