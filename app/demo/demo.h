/* Deterministic demo residents of a mountain commune in Lào Cai, for `make run`'s demo data and
 * for benchmarks. Pure C11: no I/O, no allocation.
 *
 * The mix follows a commune such as Tả Van (Sa Pa): about 45 % Kinh, 25 % H'Mông, 12 % Dao,
 * 7 % Tày, 6 % Giáy and 5 % Thái. Kinh surnames follow their national frequencies (Nguyễn
 * about 38 % of Kinh), given names a Zipf-like skew, so searches meet the same crowding of
 * common names as on a real screening day. Minority names follow their own patterns ("Giàng
 * A Páo", "Thào Thị Mỷ", "Tẩn Láo Lở"). Ages are those of a screening-day crowd: mostly
 * adults with a bump at 40-75, some children. All strings are UTF-8 in NFC. */
#pragma once

#include "../domain/date.h"
#include "../domain/patient.h"

#include <stdint.h>

/* splitmix64: any seed, including 0, gives a full-period stream. */
struct demo_rng {
    uint64_t state;
};
void demo_rng_seed(struct demo_rng *r, uint64_t seed);
uint64_t demo_rng_next(struct demo_rng *r);

struct demo_person {
    char name[96];     /* NFC UTF-8 Vietnamese full name */
    enum sex sex;      /* SEX_MALE or SEX_FEMALE */
    struct date birth; /* ~25 % only the year known: month = day = 0 */
    char ethnicity[3]; /* GSO code "01".."54" */
    char village[64];  /* e.g. "Thôn Tả Van Giáy 1", "Bản Lao Chải", "Thôn 3" */
    char phone[12];    /* "" for ~60 % of people, else 10 digits starting 03/05/07/08/09 */
};

/* Draws the next resident. The birth date is never after *today (a valid date with year
 * 1900..2100); people are 0 to 99 years old, clamped so that the birth year stays >= 1900. */
void demo_person_make(struct demo_rng *r, const struct date *today, struct demo_person *out);
