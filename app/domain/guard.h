/* Slowing down PIN guessing. Pure: the caller passes the time (monotonic seconds).
 *
 * Per address: the first GUARD_FREE wrong PINs cost nothing; after that the address waits
 * 2, 4, 8, ... seconds (at most GUARD_MAX_WAIT) after each wrong PIN. A correct PIN does not
 * clear the count (a staff member's own PIN must not buy more guesses at others'); the count
 * is forgotten after GUARD_FORGET seconds without a wrong PIN.
 * For the whole kit: more than GUARD_KIT_FREE wrong PINs within GUARD_KIT_WINDOW seconds, from
 * any mix of addresses, make every address wait the same way, so that changing address (easy
 * with IPv6) gains nothing. */
#pragma once

#define GUARD_SLOTS      256
#define GUARD_FREE       5
#define GUARD_MAX_WAIT   300.0
#define GUARD_FORGET     900.0
#define GUARD_KIT_FREE   30
#define GUARD_KIT_WINDOW 600.0
#define GUARD_ADDR_LEN   46

struct guard_slot {
    char addr[GUARD_ADDR_LEN];
    int failures;
    double last_failure;
};

struct login_guard {
    struct guard_slot slots[GUARD_SLOTS];
    double kit_failures[64]; /* ring of the latest wrong-PIN times */
    int kit_next;
};

/* Seconds addr must still wait before its next attempt (0 when it may try now). */
double guard_wait(struct login_guard *g, const char *addr, double now);
/* Records a wrong PIN from addr; returns the address's count of recent wrong PINs. */
int guard_failure(struct login_guard *g, const char *addr, double now);
