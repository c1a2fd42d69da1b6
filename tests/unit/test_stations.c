/* Stations and device readings against real SQLite: which station a device feeds, readings
 * attached to the current visit or kept unassigned, implausible values, readings from a
 * device's memory stored once and never given to a patient scanned after they were taken. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>

#include <cmocka.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#include "../../app/common/err.h"
#include "../../app/devices/devices.h"
#include "../../app/store/store.h"
#include "../../app/store/store_int.h"

struct fixture {
    char dir[64];
    struct store *st;
    char campaign[64], code[16], visit[64];
};

static const struct actor cli = {NULL, "cli:test"};

static int setup(void **state)
{
    struct fixture *f = calloc(1, sizeof *f);
    snprintf(f->dir, sizeof f->dir, "/tmp/mokit-unit-XXXXXX");
    if (!mkdtemp(f->dir) || store_open(f->dir, &f->st) != MK_OK)
        return -1;
    struct campaign_in c = {.code = "T1", .name = "Test", .start_date = "2026-01-01"};
    json_t *out;
    if (store_campaign_create(f->st, &cli, &c, &out) != MK_OK)
        return -1;
    snprintf(f->campaign, sizeof f->campaign, "%s", json_string_value(json_object_get(out, "id")));
    json_decref(out);
    struct patient p = {.name = "Lò Thị Dung", .sex = SEX_FEMALE, .birth = {1970, 0, 0}};
    if (store_patient_register(f->st, &cli, &p, f->campaign, true, &out) != MK_OK)
        return -1;
    snprintf(f->code, sizeof f->code, "%s", json_string_value(json_object_get(out, "code")));
    json_decref(out);
    if (store_visit_create(f->st, &cli, f->code, f->campaign, &out) != MK_OK)
        return -1;
    snprintf(f->visit, sizeof f->visit, "%s", json_string_value(json_object_get(out, "id")));
    json_decref(out);
    *state = f;
    return 0;
}

static int teardown(void **state)
{
    struct fixture *f = *state;
    char cmd[128];
    store_close(f->st);
    snprintf(cmd, sizeof cmd, "rm -rf %s", f->dir);
    if (system(cmd) != 0)
        return -1;
    free(f);
    return 0;
}

static void stations_and_binding(void **state)
{
    struct fixture *f = *state;
    json_t *list, *s;
    char name[40];
    assert_int_equal(store_station_list(f->st, &list), MK_OK);
    assert_int_equal(json_array_size(list), 4);
    assert_string_equal(json_string_value(json_object_get(json_array_get(list, 1), "name")),
                        "vitals");
    assert_true(json_is_true(json_object_get(json_array_get(list, 1), "is_default")));
    assert_true(json_is_null(json_object_get(json_array_get(list, 1), "current")));
    json_decref(list);

    /* Nothing named: the default station. */
    assert_int_equal(store_station_for_device(f->st, "usb-1-2", "hidpos-scale", "S1", name), MK_OK);
    assert_string_equal(name, "vitals");
    /* A driver, then driver:serial, then the id win, in that order. */
    assert_int_equal(store_station_update(f->st, &cli, "doctor", "hidpos-scale", -1, &s), MK_OK);
    json_decref(s);
    assert_int_equal(store_station_update(f->st, &cli, "pharmacy", "hidpos-scale:S1", -1, &s),
                     MK_OK);
    json_decref(s);
    assert_int_equal(store_station_update(f->st, &cli, "registration", "x,usb-1-2", -1, &s), MK_OK);
    json_decref(s);
    assert_int_equal(store_station_for_device(f->st, "usb-1-3", "hidpos-scale", "", name), MK_OK);
    assert_string_equal(name, "doctor");
    assert_int_equal(store_station_for_device(f->st, "usb-1-3", "hidpos-scale", "S1", name), MK_OK);
    assert_string_equal(name, "pharmacy");
    assert_int_equal(store_station_for_device(f->st, "usb-1-2", "hidpos-scale", "S1", name), MK_OK);
    assert_string_equal(name, "registration");
    /* "usb-1" is not "usb-1-2": whole items only. */
    assert_int_equal(store_station_for_device(f->st, "usb-1", "cms50", "", name), MK_OK);
    assert_string_equal(name, "vitals");
    assert_int_equal(store_station_update(f->st, &cli, "doctor", "a b", -1, &s), MK_EINVAL);
    assert_int_equal(store_station_update(f->st, &cli, "nope", "", -1, &s), MK_ENOTFOUND);
    /* A new default replaces the old; with none, an unnamed device has no station. */
    assert_int_equal(store_station_update(f->st, &cli, "doctor", NULL, 1, &s), MK_OK);
    assert_true(json_is_true(json_object_get(s, "is_default")));
    json_decref(s);
    assert_int_equal(store_station_get(f->st, "vitals", &s), MK_OK);
    assert_true(json_is_false(json_object_get(s, "is_default")));
    json_decref(s);
    assert_int_equal(store_station_update(f->st, &cli, "doctor", "", 0, &s), MK_OK);
    json_decref(s);
    assert_int_equal(store_station_for_device(f->st, "usb-9", "cms50", "", name), MK_ENOTFOUND);
}

static struct reading_in weight(const char *station, double kg)
{
    struct reading_in r = {.station = station,
                           .device_id = "usb-1-2",
                           .device = "hidpos-scale/DYMO M10/S1",
                           .code = "weight",
                           .raw_hex = "030403ff7002"};
    r.v[0] = kg;
    r.present[0] = 1;
    return r;
}

static void readings_attach_or_wait(void **state)
{
    struct fixture *f = *state;
    json_t *r, *s, *v;
    /* No current patient: kept, unassigned. */
    struct reading_in in = weight("vitals", 62.4);
    assert_int_equal(store_reading_add(f->st, &cli, &in, &r), MK_OK);
    assert_string_equal(json_string_value(json_object_get(r, "state")), "unassigned");
    assert_true(json_is_null(json_object_get(r, "observation")));
    char waiting[64];
    snprintf(waiting, sizeof waiting, "%s", json_string_value(json_object_get(r, "id")));
    json_decref(r);

    /* The patient is current: the reading is an observation of the visit, with provenance. */
    assert_int_equal(store_station_set_current(f->st, &cli, "vitals", f->visit, &s), MK_OK);
    assert_string_equal(
        json_string_value(json_object_get(json_object_get(s, "current"), "patient")), f->code);
    json_decref(s);
    in = weight("vitals", 63.1);
    assert_int_equal(store_reading_add(f->st, &cli, &in, &r), MK_OK);
    assert_string_equal(json_string_value(json_object_get(r, "state")), "attached");
    assert_string_equal(json_string_value(json_object_get(r, "visit")), f->visit);
    assert_string_equal(json_string_value(json_object_get(r, "raw")), "030403ff7002");
    json_decref(r);
    assert_int_equal(store_visit_get(f->st, f->visit, &v), MK_OK);
    json_t *obs = json_object_get(v, "observations");
    assert_int_equal(json_array_size(obs), 1);
    json_t *o = json_array_get(obs, 0);
    assert_string_equal(json_string_value(json_object_get(o, "source")), "device");
    assert_string_equal(json_string_value(json_object_get(o, "device")),
                        "hidpos-scale/DYMO M10/S1");
    assert_true(json_real_value(json_object_get(json_object_get(o, "values"), "value")) == 63.1);
    json_decref(v);

    /* Implausible (a sack of rice): kept, never observed, cannot be assigned. */
    in = weight("vitals", 400);
    assert_int_equal(store_reading_add(f->st, &cli, &in, &r), MK_OK);
    assert_string_equal(json_string_value(json_object_get(r, "state")), "implausible");
    char bad[64];
    snprintf(bad, sizeof bad, "%s", json_string_value(json_object_get(r, "id")));
    json_decref(r);
    assert_int_equal(store_reading_assign(f->st, &cli, bad, f->visit, &r), MK_ERANGE);

    /* The waiting one assigned by a nurse; twice is refused; unknown ids are not found. */
    assert_int_equal(store_reading_assign(f->st, &cli, waiting, f->visit, &r), MK_OK);
    assert_string_equal(json_string_value(json_object_get(r, "state")), "attached");
    assert_true(json_is_string(json_object_get(r, "observation")));
    json_decref(r);
    assert_int_equal(store_reading_assign(f->st, &cli, waiting, f->visit, &r), MK_EEXIST);
    assert_int_equal(store_reading_assign(f->st, &cli, "nope", f->visit, &r), MK_ENOTFOUND);
    assert_int_equal(store_reading_add(f->st, &cli, &in, &r), MK_OK); /* same live value: kept */
    json_decref(r);
    assert_int_equal(store_reading_list(f->st, "unassigned", NULL, 50, &r), MK_OK);
    assert_int_equal(json_array_size(r), 0);
    json_decref(r);
    assert_int_equal(store_reading_list(f->st, NULL, "vitals", 50, &r), MK_OK);
    assert_int_equal(json_array_size(r), 4);
    json_decref(r);
    in.code = "height_in_cubits";
    assert_int_equal(store_reading_add(f->st, &cli, &in, &r), MK_EINVAL);
}

static void memory_readings(void **state)
{
    struct fixture *f = *state;
    json_t *r, *s;
    assert_int_equal(store_station_set_current(f->st, &cli, "vitals", f->visit, &s), MK_OK);
    json_decref(s);
    /* Taken an hour before the patient was scanned: an earlier resident's, not theirs. */
    struct reading_in in = {.station = "vitals",
                            .device_id = "usb-1-4",
                            .device = "omron/HEM-7322U/A1",
                            .code = "bp",
                            .device_time = (long long)time(NULL) - 3600};
    in.v[0] = 150;
    in.v[1] = 95;
    in.present[0] = in.present[1] = 1;
    assert_int_equal(store_reading_add(f->st, &cli, &in, &r), MK_OK);
    assert_string_equal(json_string_value(json_object_get(r, "state")), "unassigned");
    assert_non_null(strstr(json_string_value(json_object_get(r, "note")), "before"));
    char first[64];
    snprintf(first, sizeof first, "%s", json_string_value(json_object_get(r, "id")));
    json_decref(r);
    /* Read again from the memory: the same reading, not a second one. */
    assert_int_equal(store_reading_add(f->st, &cli, &in, &r), MK_EEXIST);
    assert_string_equal(json_string_value(json_object_get(r, "id")), first);
    json_decref(r);
    /* Taken after the scan: theirs. */
    in.device_time = (long long)time(NULL) + 5;
    assert_int_equal(store_reading_add(f->st, &cli, &in, &r), MK_OK);
    assert_string_equal(json_string_value(json_object_get(r, "state")), "attached");
    assert_true(json_real_value(json_object_get(json_object_get(r, "values"), "diastolic")) == 95);
    json_decref(r);
    /* From the memory of a device without a clock: whose it is, nobody knows but a nurse. */
    in.device_time = 0;
    in.stored = 1;
    assert_int_equal(store_reading_add(f->st, &cli, &in, &r), MK_OK);
    assert_string_equal(json_string_value(json_object_get(r, "state")), "unassigned");
    assert_non_null(strstr(json_string_value(json_object_get(r, "note")), "time not known"));
    assert_true(json_is_null(json_object_get(r, "visit")));
    json_decref(r);
}

/* A monitor whose clock runs 10 minutes slow, told at connect, holding 30 older readings and
 * one taken after the patient was scanned: only the new one is theirs. And a fast clock: a
 * reading that its own clock puts after the scan, but the kit's before it, is not theirs. */
static void memory_history_clock(void **state)
{
    struct fixture *f = *state;
    json_t *r, *s;
    assert_int_equal(store_station_set_current(f->st, &cli, "vitals", f->visit, &s), MK_OK);
    json_decref(s);
    long long now = (long long)time(NULL);
    const char *conn = "usb-1-4@1790000000.000"; /* recorded with the first reading */
    struct reading_in in = {.station = "vitals",
                            .device_id = "usb-1-4",
                            .device = "omron-hem7322/M6/A1",
                            .code = "bp",
                            .stored = 1,
                            .connection_id = conn,
                            .connected_at = (double)now,
                            .clock_known = 1,
                            .clock_offset = -600.0};
    in.present[0] = in.present[1] = 1;
    int attached = 0, waiting = 0;
    for (int k = 30; k >= 0; k--) { /* oldest first, as a memory is read; k = 0 is the new one */
        in.device_time = k ? now - 600 - 120LL * k : now - 600 + 5;
        in.v[0] = 120 + k;
        in.v[1] = 80;
        assert_int_equal(store_reading_add(f->st, &cli, &in, &r), MK_OK);
        const char *st = json_string_value(json_object_get(r, "state"));
        if (!strcmp(st, "attached")) {
            attached++;
            assert_int_equal(k, 0);
            assert_true(
                json_real_value(json_object_get(json_object_get(r, "values"), "systolic")) == 120);
        } else {
            waiting++;
            assert_non_null(strstr(json_string_value(json_object_get(r, "note")),
                                   "before the current patient was scanned (device clock "
                                   "checked)"));
        }
        assert_true(json_real_value(json_object_get(r, "clock_offset")) == -600.0);
        assert_string_equal(json_string_value(json_object_get(r, "connection_id")), conn);
        json_decref(r);
    }
    assert_int_equal(attached, 1);
    assert_int_equal(waiting, 30);
    /* The same new reading without the clock check would have been an earlier patient's. */
    in.clock_known = 0;
    in.v[0] = 99;
    in.device_time = now - 600 + 5;
    assert_int_equal(store_reading_add(f->st, &cli, &in, &r), MK_OK);
    assert_string_equal(json_string_value(json_object_get(r, "state")), "unassigned");
    assert_true(json_is_null(json_object_get(r, "clock_offset")));
    json_decref(r);
    /* Plugged in again, its clock now 5 minutes fast: taken 100 s before the scan by the kit's
     * clock. */
    in.connection_id = "usb-1-4@1790000100.000";
    in.clock_known = 1;
    in.clock_offset = 300;
    in.v[0] = 98;
    in.device_time = now + 200;
    assert_int_equal(store_reading_add(f->st, &cli, &in, &r), MK_OK);
    assert_string_equal(json_string_value(json_object_get(r, "state")), "unassigned");
    json_decref(r);
    /* Each connection is recorded once, with its offset (a reading without one leaves it). */
    sqlite3_stmt *q = store_stmt(f->st, "SELECT count(*), min(clock_offset), max(clock_offset) "
                                        "FROM device_connection");
    assert_int_equal(sqlite3_step(q), SQLITE_ROW);
    assert_int_equal(sqlite3_column_int(q, 0), 2);
    assert_true(sqlite3_column_double(q, 1) == -600.0);
    assert_true(sqlite3_column_double(q, 2) == 300.0);
    sqlite3_reset(q);
}

static void scan_outcomes(void **state)
{
    struct fixture *f = *state;
    json_t *o = devices_scan_outcome(f->st, "vitals", f->code);
    assert_true(json_is_true(json_object_get(o, "accepted")));
    assert_string_equal(json_string_value(json_object_get(o, "visit")), f->visit);
    json_decref(o);
    json_t *s;
    assert_int_equal(store_station_get(f->st, "vitals", &s), MK_OK);
    assert_string_equal(json_string_value(json_object_get(json_object_get(s, "current"), "visit")),
                        f->visit);
    json_decref(s);
    /* A wrong check character, garbage, an unknown code, no station. */
    char wrong[16];
    snprintf(wrong, sizeof wrong, "%s", f->code);
    wrong[11] = wrong[11] == 'A' ? 'B' : 'A';
    o = devices_scan_outcome(f->st, "vitals", wrong);
    assert_true(json_is_false(json_object_get(o, "accepted")));
    assert_non_null(strstr(json_string_value(json_object_get(o, "reason")), "check character"));
    json_decref(o);
    o = devices_scan_outcome(f->st, "vitals", "hello world");
    assert_true(json_is_false(json_object_get(o, "accepted")));
    json_decref(o);
    o = devices_scan_outcome(f->st, "vitals", "000000000001");
    assert_true(json_is_false(json_object_get(o, "accepted")));
    json_decref(o);
    o = devices_scan_outcome(f->st, NULL, f->code);
    assert_true(json_is_false(json_object_get(o, "accepted")));
    json_decref(o);
    /* A card's QR at registration is for the form; at vitals it is not a wristband. */
    static const char qr[] = "001089012345|123456789|Nguyễn Văn An|15081989|Nam|"
                             "Thôn 3, Tả Van, Sa Pa, Lào Cai|20062021";
    o = devices_scan_outcome(f->st, "registration", qr);
    assert_true(json_is_true(json_object_get(o, "accepted")));
    assert_string_equal(json_string_value(json_object_get(o, "kind")), "cccd");
    json_decref(o);
    o = devices_scan_outcome(f->st, "vitals", qr);
    assert_true(json_is_false(json_object_get(o, "accepted")));
    json_decref(o);
    /* The registration station's current patient did not change by it. */
    assert_int_equal(store_station_get(f->st, "registration", &s), MK_OK);
    assert_true(json_is_null(json_object_get(s, "current")));
    json_decref(s);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test_setup_teardown(stations_and_binding, setup, teardown),
        cmocka_unit_test_setup_teardown(readings_attach_or_wait, setup, teardown),
        cmocka_unit_test_setup_teardown(memory_readings, setup, teardown),
        cmocka_unit_test_setup_teardown(memory_history_clock, setup, teardown),
        cmocka_unit_test_setup_teardown(scan_outcomes, setup, teardown),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
