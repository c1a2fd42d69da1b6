/* PIN-guessing guard: per-address back-off, no reset by a correct PIN, kit-wide budget. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>

#include <cmocka.h>
#include <stdio.h>
#include <stdlib.h>

#include "../../app/domain/guard.h"

static void backoff_per_address(void **state)
{
    (void)state;
    struct login_guard *g = calloc(1, sizeof *g);
    double t = 1000;
    for (int i = 1; i < GUARD_FREE; i++) {
        assert_true(guard_wait(g, "10.0.0.5", t) == 0);
        assert_int_equal(guard_failure(g, "10.0.0.5", t), i);
    }
    assert_true(guard_wait(g, "10.0.0.5", t) == 0);
    guard_failure(g, "10.0.0.5", t); /* the 5th wrong PIN: now 2 s */
    assert_true(guard_wait(g, "10.0.0.5", t) == 2);
    assert_true(guard_wait(g, "10.0.0.5", t + 1.5) == 0.5);
    assert_true(guard_wait(g, "10.0.0.6", t) == 0); /* another phone is not held up */
    guard_failure(g, "10.0.0.5", t + 2);
    assert_true(guard_wait(g, "10.0.0.5", t + 2) == 4);
    for (int i = 0; i < 20; i++)
        guard_failure(g, "10.0.0.5", t + 3);
    assert_true(guard_wait(g, "10.0.0.5", t + 3) == GUARD_MAX_WAIT);
    /* Forgotten after a quiet quarter of an hour. */
    assert_true(guard_wait(g, "10.0.0.5", t + 3 + GUARD_FORGET + 1) == 0);
    free(g);
}

/* The bypass a reviewer found: 4 wrong guesses, then one's own right PIN, again and again.
 * A correct PIN is never reported to the guard, so the count keeps growing. */
static void own_pin_does_not_reset(void **state)
{
    (void)state;
    struct login_guard *g = calloc(1, sizeof *g);
    double t = 50;
    int waited = 0;
    for (int round = 0; round < 5; round++) {
        for (int i = 0; i < 4; i++) {
            double w = guard_wait(g, "10.0.0.9", t);
            if (w > 0) {
                waited = 1;
                t += w;
            }
            guard_failure(g, "10.0.0.9", t);
        }
        /* ... a correct login here changes nothing in the guard ... */
    }
    assert_true(waited);
    assert_true(guard_wait(g, "10.0.0.9", t) >= 2);
    free(g);
}

static void kit_wide_budget(void **state)
{
    (void)state;
    struct login_guard *g = calloc(1, sizeof *g);
    double t = 5000;
    char addr[GUARD_ADDR_LEN];
    /* Many addresses, 2 wrong PINs each: no address reaches its own limit... */
    for (int i = 0; i < GUARD_KIT_FREE / 2; i++) {
        snprintf(addr, sizeof addr, "fd00::%d", i);
        guard_failure(g, addr, t);
        guard_failure(g, addr, t);
    }
    assert_true(guard_wait(g, "fd00::999", t) == 0);
    /* ... but past the kit's budget everyone waits, even a new address. */
    guard_failure(g, "fd00::1000", t);
    assert_true(guard_wait(g, "fd00::2000", t) == 2);
    /* Outside the window the budget is free again. */
    assert_true(guard_wait(g, "fd00::2000", t + GUARD_KIT_WINDOW + 1) == 0);
    free(g);
}

static void full_table(void **state)
{
    (void)state;
    struct login_guard *g = calloc(1, sizeof *g);
    char addr[GUARD_ADDR_LEN];
    for (int i = 0; i < GUARD_SLOTS + 10; i++) {
        snprintf(addr, sizeof addr, "10.1.%d.%d", i / 256, i % 256);
        guard_failure(g, addr, 100 + i * 0.001);
    }
    /* The newest addresses are remembered; the kit-wide count makes everyone wait. */
    assert_true(guard_wait(g, "10.9.9.9", 101) > 0);
    free(g);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(backoff_per_address),
        cmocka_unit_test(own_pin_does_not_reset),
        cmocka_unit_test(kit_wide_budget),
        cmocka_unit_test(full_table),
    };
    return cmocka_run_group_tests_name("guard", tests, NULL, NULL);
}
