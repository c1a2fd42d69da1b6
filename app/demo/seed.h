/* Demo data for `make run` and benchmarks: a campaign in Tả Van commune, five staff with
 * well-known PINs, and generated residents. Never run on a real kit's data. */
#pragma once

#include "../store/store.h"

#include <stdbool.h>
#include <stdint.h>
#include <stdio.h>

#define DEMO_CAMPAIGN "DEMO-TAVAN"

struct demo_staff {
    const char *name, *role, *specialty, *pin;
};
extern const struct demo_staff demo_staff[5];

/* Creates the demo campaign and staff if missing, then adds `patients` generated residents
 * (seeded, so runs repeat). If out is not NULL, prints the PINs there. All in one transaction:
 * all or nothing. MK_EEXIST, and nothing written, when the data holds real campaigns (any
 * campaign but the demo one): demo staff have well-known PINs. */
int demo_seed(struct store *st, int patients, uint64_t seed, FILE *out);
/* The same, and when screening is true each new resident (some with CCCD and BHYT numbers)
 * also gets a visit today with about ten observations (some from devices), symptoms asked,
 * and, for raised readings, findings (I10, E11.9), a referral and medicine dispensed (a
 * delivery of stock comes when it runs out). For exports and their benchmarks. */
int demo_seed_screening(struct store *st, int patients, uint64_t seed, bool screening, FILE *out);
