/* Small helpers shared by app/: ids, clocks. */
#pragma once

#include <stddef.h>

#define UUID_LEN 36

/* A UUID version 7 (RFC 9562): 48-bit Unix milliseconds, then 74 random bits from
 * libsodium. Time-ordered, so new rows land at the end of the B-tree. out gets 37 bytes. */
void util_uuid7(char out[UUID_LEN + 1]);

/* Current UTC time as "2026-11-22T07:15:02.123Z" (25 bytes with NUL). */
void util_now_iso(char out[32]);
/* The same for unix seconds t (a device's clock, a frame's arrival). */
void util_time_iso(double t, char out[32]);

/* The kit's local date as "YYYY-MM-DD" (the day a queue number belongs to). */
void util_today(char out[11]);

/* Lowercase hex of n bytes into out (2n+1 bytes). */
void util_hex(const unsigned char *in, size_t n, char *out);

/* Monotonic clock in seconds. */
double util_monotonic(void);
