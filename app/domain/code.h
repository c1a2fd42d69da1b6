/* Patient codes: what a QR wristband carries.
 *
 * A code is CODE_BODY_LEN random symbols from 0-9A-Z followed by one check character, 12
 * characters in all, uppercase alphanumeric only (a keyboard-mode scanner types it, QR
 * alphanumeric mode keeps it small). It carries no name and no ID number.
 *
 * The check character is ISO/IEC 7064 MOD 37-2 (pure system, radix 2, modulus 37): the
 * weighted sum of all 12 symbol values, weights 2^k mod 37, is 1 mod 37. Because 37 is prime
 * and every weight and every difference of weights of neighbours is non-zero mod 37, every
 * single-character substitution and every adjacent transposition changes the sum: all are
 * detected. MOD 37-2 needs a 37th symbol ('*') for check value 36; mokit never issues such a
 * code (the generator draws again), so codes stay alphanumeric.
 *
 * Uniqueness: 11 symbols are 36^11 = 1.3e17 codes (56.9 bits). Within a kit the store's
 * UNIQUE index makes the generator draw again on a clash; across kits the chance that any two
 * of 10 million residents share a code is below 0.04 %, and hospital import checks for it. */
#pragma once

#include <stddef.h>
#include <stdint.h>

#define CODE_LEN      12
#define CODE_BODY_LEN 11
/* Random bytes that code_from_random() wants; rejection sampling uses about 11.2 on average. */
#define CODE_RANDOM_BYTES 32

/* Value 0..36 of the check character for body[0..n-1] (36 means '*', never issued);
 * -1 if body holds a character outside 0-9A-Z. */
int code_check_value(const char *body, size_t n);

/* Makes a code from random bytes: 0 and out filled (NUL-terminated), or MK_EINVAL when the
 * bytes ran out or the check value would be 36: draw new bytes and call again. */
int code_from_random(const uint8_t *rnd, size_t n, char out[CODE_LEN + 1]);

/* Normalises a typed or scanned code: drops spaces, hyphens and a trailing CR/LF, uppercases.
 * Returns 0 with out set; MK_EINVAL for a wrong length or a character outside 0-9A-Z;
 * MK_ECHECK when the check character is wrong. */
int code_parse(const char *in, char out[CODE_LEN + 1]);

/* Writes the code grouped for people to read, "K7Q2 MX4P 9RT3" (15 bytes with NUL). */
void code_format(const char code[CODE_LEN + 1], char out[16]);
