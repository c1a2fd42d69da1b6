#include "seed.h"

#include "../common/err.h"
#include "../common/log.h"
#include "../common/util.h"
#include "demo.h"

#include <math.h>
#include <stdio.h>
#include <string.h>

const struct demo_staff demo_staff[5] = {
    {"Trần Thị Lan", "registrar", NULL, "1111"},
    {"Lê Thị Hoa", "nurse", NULL, "2222"},
    {"Bs. Nguyễn Văn Hùng", "doctor", "Nội khoa", "3333"},
    {"Phạm Thị Mai", "pharmacist", NULL, "4444"},
    {"Bs. Hoàng Văn Nam", "lead", "Y tế công cộng", "9999"},
};

static int seed_setup(struct store *st, const struct actor *a, json_t **campaign)
{
    json_t *out, *all;
    char today[11];
    int rc = store_campaign_get(st, DEMO_CAMPAIGN, campaign);
    if (rc != MK_ENOTFOUND)
        return rc;
    /* Never into a kit with real campaigns: the demo staff have well-known PINs (a lead among
     * them) and the demo campaign would become the current one. */
    rc = store_campaign_list(st, &all);
    if (rc != MK_OK)
        return rc;
    size_t n = json_array_size(all);
    json_decref(all);
    if (n > 0)
        return MK_EEXIST;
    util_today(today);
    struct campaign_in c = {
        .code = DEMO_CAMPAIGN,
        .name = "Khám sàng lọc miễn phí xã Tả Van (demo)",
        .province = "Lào Cai",
        .district = "Sa Pa",
        .commune = "Tả Van",
        .start_date = today,
        .hospital = "Bệnh viện Đa khoa tỉnh Lào Cai",
    };
    rc = store_campaign_create(st, a, &c, campaign);
    /* A free-medicine list such as a screening day carries: blood pressure, diabetes, pain,
     * stomach, worms, vitamins. The last has a single box, to show running out. */
    static const struct medicine_in meds[] = {
        {"AML5", "Amlodipin", "5 mg", "viên nén", "viên", 600},
        {"ENA5", "Enalapril", "5 mg", "viên nén", "viên", 300},
        {"MET500", "Metformin", "500 mg", "viên nén", "viên", 600},
        {"PARA500", "Paracetamol", "500 mg", "viên nén", "viên", 1000},
        {"OME20", "Omeprazol", "20 mg", "viên nang", "viên", 300},
        {"ALB400", "Albendazol", "400 mg", "viên nén", "viên", 200},
        {"FEFOL", "Sắt + acid folic", "60 mg + 0,4 mg", "viên nén", "viên", 300},
        {"ORS", "Oresol", "4,1 g", "gói bột", "gói", 100},
        {"VITB", "Vitamin B1-B6-B12", NULL, "viên nén", "viên", 500},
        {"SALB", "Salbutamol (bình xịt)", "100 mcg/liều", "bình xịt", "bình", 1},
    };
    for (size_t i = 0; rc == MK_OK && i < sizeof meds / sizeof meds[0]; i++) {
        rc = store_medicine_add(st, a, json_string_value(json_object_get(*campaign, "id")),
                                &meds[i], &out);
        if (rc == MK_OK)
            json_decref(out);
    }
    for (size_t i = 0; rc == MK_OK && i < sizeof demo_staff / sizeof demo_staff[0]; i++) {
        const struct demo_staff *s = &demo_staff[i];
        rc = store_staff_add(st, a, s->name, s->role, s->specialty, s->pin, &out);
        if (rc == MK_EEXIST) /* someone already has this PIN: keep theirs */
            rc = MK_OK;
        else if (rc == MK_OK)
            json_decref(out);
    }
    return rc;
}

/* ---- a screening day's records, for exports and their benchmarks ---- */

static double uniform(struct demo_rng *r, double lo, double hi)
{
    return lo + (hi - lo) * (double)(demo_rng_next(r) >> 11) / 9007199254740992.0;
}

static int chance(struct demo_rng *r, int percent)
{
    return (int)(demo_rng_next(r) % 100) < percent;
}

/* A CCCD number for about 55 % of adults (province 010 Lào Cai, the century-and-sex digit,
 * the birth year's last two digits, six random digits) and a BHYT social insurance number
 * for about 30 % of everyone. Made up, but of the real shapes. */
static void demo_ids(struct demo_rng *r, const struct demo_person *d, char cccd[24], char bhyt[24])
{
    if (d->birth.year <= 2010 && chance(r, 55)) {
        int century = d->birth.year >= 2000 ? 2 : 0;
        snprintf(cccd, 24, "010%d%02d%06u", (century + (d->sex == SEX_FEMALE)) % 10,
                 d->birth.year % 100, (unsigned)(demo_rng_next(r) % 1000000));
    }
    if (chance(r, 30))
        snprintf(bhyt, 24, "01%08u", (unsigned)(demo_rng_next(r) % 100000000));
}

static int add_obs(struct store *st, const struct actor *a, const char *visit_id, const char *code,
                   double v1, double v2, int fasting, const char *device)
{
    const struct obs_kind *k = obs_kind_find(code);
    struct obs_values v = {.v = {v1, v2, 0}, .present = {1, v2 > 0, 0}, .fasting = fasting};
    for (int i = 0; i < k->ncomp; i++) { /* keep made-up values inside the plausible bounds */
        if (v.v[i] < k->min[i])
            v.v[i] = k->min[i];
        if (v.v[i] > k->max[i])
            v.v[i] = k->max[i];
    }
    json_t *out;
    int rc =
        store_obs_add(st, a, visit_id, k, &v, device ? "device" : "manual", device, NULL, &out);
    if (rc == MK_OK)
        json_decref(out);
    return rc;
}

/* Who does what on the demo screening day: the demo staff by role (the system when missing). */
struct demo_team {
    struct actor registrar, nurse, doctor, pharmacist;
    char labels[4][48];
};

static void demo_team(struct store *st, const struct actor *sys, struct demo_team *t)
{
    struct actor *who[4] = {&t->registrar, &t->nurse, &t->doctor, &t->pharmacist};
    static const char *roles[4] = {"registrar", "nurse", "doctor", "pharmacist"};
    json_t *all = NULL, *s;
    size_t i;
    for (int k = 0; k < 4; k++)
        *who[k] = *sys;
    if (store_staff_list(st, &all) != MK_OK)
        return;
    json_array_foreach(all, i, s)
    {
        const char *role = json_string_value(json_object_get(s, "role"));
        const char *id = json_string_value(json_object_get(s, "id"));
        for (int k = 0; k < 4; k++) {
            if (!role || !id || strcmp(role, roles[k]) != 0 || who[k]->staff_id != sys->staff_id)
                continue;
            snprintf(t->labels[k], sizeof t->labels[k], "staff:%s", id);
            /* The id lives as long as the label buffer: keep it there too. */
            who[k]->label = t->labels[k];
            who[k]->staff_id = t->labels[k] + 6;
        }
    }
    json_decref(all);
}

static int add_prescription(struct store *st, const struct demo_team *t, const char *visit_id,
                            const char *campaign_id, const char *med, int quantity,
                            const char *dosage)
{
    json_t *out, *problem = NULL;
    const struct actor *a = &t->pharmacist;
    int rc = store_prescription_add(st, &t->doctor, visit_id, med, quantity, dosage, &out);
    if (rc != MK_OK)
        return rc;
    json_decref(out);
    rc = store_dispense(st, a, visit_id, NULL, 0, &out, &problem);
    if (rc == MK_ERANGE) { /* the stock ran out: a delivery comes, as it would */
        json_t *m;
        json_decref(problem);
        problem = NULL;
        rc = store_medicine_get(st, med, campaign_id, &m);
        if (rc == MK_OK) {
            rc = store_stock_change(st, a, json_string_value(json_object_get(m, "id")), 1000,
                                    "receive", "delivery", &out);
            json_decref(m);
            if (rc == MK_OK) {
                json_decref(out);
                rc = store_dispense(st, a, visit_id, NULL, 0, &out, &problem);
            }
        }
    }
    json_decref(problem);
    if (rc == MK_OK)
        json_decref(out);
    return rc;
}

/* One resident's visit today: about ten observations (some from devices), symptoms asked,
 * and for raised readings the doctor's findings, a referral and medicine dispensed. */
static int demo_visit(struct store *st, const struct demo_team *t, struct demo_rng *r,
                      const char *campaign_id, const char *code, int age)
{
    json_t *visit;
    const struct actor *a = &t->nurse;
    int rc = store_visit_create(st, &t->registrar, code, campaign_id, &visit);
    if (rc != MK_OK)
        return rc;
    char vid[64];
    snprintf(vid, sizeof vid, "%s", json_string_value(json_object_get(visit, "id")));
    json_decref(visit);
    bool adult = age >= 16;
    double sys =
        adult ? uniform(r, 100, 150) + (age > 50 ? uniform(r, 0, 40) : 0) : uniform(r, 90, 115);
    double dia = sys * uniform(r, 0.58, 0.68);
    const char *bp_dev = chance(r, 70) ? "demo-bp/OMRON HEM-7131U/2019A0312" : NULL;
    rc = add_obs(st, a, vid, "bp", round(sys), round(dia), 0, bp_dev);
    if (rc == MK_OK && sys >= 140) { /* the rule asks for a second reading */
        sys -= uniform(r, 0, 8);
        dia -= uniform(r, 0, 5);
        rc = add_obs(st, a, vid, "bp", round(sys), round(dia), 0, bp_dev);
    }
    const char *ox = chance(r, 80) ? "cms50f/CMS50F/SN0007" : NULL;
    if (rc == MK_OK)
        rc = add_obs(st, a, vid, "pulse", round(uniform(r, 58, 104)), 0, 0, ox);
    if (rc == MK_OK)
        rc = add_obs(st, a, vid, "spo2", round(uniform(r, 93, 100)), 0, 0, ox);
    double height = adult ? uniform(r, 145, 172) : uniform(r, 80, 160);
    double weight = adult ? height * height / 10000.0 * uniform(r, 17.5, 30) : uniform(r, 10, 45);
    const char *scale = chance(r, 60) ? "demo-scale/HIDPOS/0071234" : NULL;
    if (rc == MK_OK)
        rc = add_obs(st, a, vid, "weight", round(weight * 10) / 10, 0, 0, scale);
    if (rc == MK_OK)
        rc = add_obs(st, a, vid, "height", round(height), 0, 0, NULL);
    if (rc == MK_OK)
        rc = add_obs(st, a, vid, "temp", round(uniform(r, 36.1, 37.6) * 10) / 10, 0, 0, NULL);
    double glucose = adult ? uniform(r, 4.2, 8) + (chance(r, 12) ? uniform(r, 2, 9) : 0) : 0;
    int fasting = chance(r, 40) ? OBS_FASTING_YES : OBS_FASTING_NO;
    if (rc == MK_OK && adult)
        rc = add_obs(st, a, vid, "glucose", round(glucose * 10) / 10, 0, fasting, NULL);
    if (rc == MK_OK && adult)
        rc = add_obs(st, a, vid, "waist", round(weight * uniform(r, 1.2, 1.6)), 0, 0, NULL);
    if (rc == MK_OK) {
        json_t *none = json_array(), *out;
        rc = store_visit_update(st, a, vid, none, NULL, &out);
        json_decref(none);
        if (rc == MK_OK)
            json_decref(out);
    }
    bool high_bp = sys >= 140, high_glucose = glucose >= (fasting == OBS_FASTING_YES ? 7.0 : 11.1);
    json_t *out;
    if (rc == MK_OK && high_bp) {
        rc = store_finding_add(st, &t->doctor, vid, "I10", NULL, chance(r, 30), NULL, &out);
        if (rc == MK_OK) {
            json_decref(out);
            rc = add_prescription(st, t, vid, campaign_id, "AML5", 30,
                                  "1 viên/ngày, uống buổi sáng");
        }
    }
    if (rc == MK_OK && high_glucose) {
        rc = store_finding_add(st, &t->doctor, vid, "E11.9", NULL, false, NULL, &out);
        if (rc == MK_OK) {
            json_decref(out);
            rc = add_prescription(st, t, vid, campaign_id, "MET500", 60,
                                  "1 viên x 2 lần/ngày, sau ăn");
        }
    }
    if (rc == MK_OK && adult && chance(r, 6)) {
        rc = store_finding_add(st, &t->doctor, vid, "M54.5", NULL, true, NULL, &out);
        if (rc == MK_OK) {
            json_decref(out);
            rc = add_prescription(st, t, vid, campaign_id, "PARA500", 10,
                                  "1 viên khi đau, tối đa 4 viên/ngày");
        }
    }
    if (rc == MK_OK && (sys >= 160 || glucose >= 11.1)) {
        rc = store_referral_add(st, &t->doctor, vid, "Bệnh viện Đa khoa tỉnh Lào Cai",
                                sys >= 160 ? "Huyết áp cao, cần khám chuyên khoa tim mạch"
                                           : "Đường huyết cao, cần khám nội tiết",
                                sys >= 180 ? "urgent" : "soon", &out);
        if (rc == MK_OK)
            json_decref(out);
    }
    return rc;
}

int demo_seed(struct store *st, int patients, uint64_t seed, FILE *out)
{
    return demo_seed_screening(st, patients, seed, false, out);
}

int demo_seed_screening(struct store *st, int patients, uint64_t seed, bool screening, FILE *out)
{
    struct actor a = {NULL, "system:demo"};
    json_t *campaign = NULL;
    struct demo_rng rng;
    struct date today;
    char day[11];
    int rc = store_tx_begin(st);
    if (rc != MK_OK)
        return rc;
    rc = seed_setup(st, &a, &campaign);
    struct demo_team team;
    if (rc == MK_OK && screening)
        demo_team(st, &a, &team);
    const char *campaign_id = json_string_value(json_object_get(campaign, "id"));
    util_today(day);
    date_parse(day, &today);
    demo_rng_seed(&rng, seed);
    for (int i = 0; rc == MK_OK && i < patients; i++) {
        struct demo_person d;
        char cccd[24] = "", bhyt[24] = "";
        demo_person_make(&rng, &today, &d);
        if (screening)
            demo_ids(&rng, &d, cccd, bhyt);
        struct patient p = {
            .name = d.name,
            .sex = d.sex,
            .birth = d.birth,
            .ethnicity = d.ethnicity,
            .village = d.village,
            .cccd = cccd,
            .bhyt = bhyt,
            .phone = d.phone,
            .consent = true,
        };
        json_t *created;
        rc = store_patient_register(st, &a, &p, campaign_id, true, &created);
        /* Made-up CCCD and BHYT numbers repeat now and then among many thousands: draw
         * others for this resident (an existing card means an existing person). */
        for (int tries = 0; rc == MK_EEXIST && screening && tries < 20; tries++) {
            json_decref(created);
            cccd[0] = bhyt[0] = '\0';
            demo_ids(&rng, &d, cccd, bhyt);
            rc = store_patient_register(st, &a, &p, campaign_id, true, &created);
        }
        if (rc == MK_OK && screening)
            rc = demo_visit(st, &team, &rng, campaign_id,
                            json_string_value(json_object_get(created, "code")),
                            today.year - d.birth.year);
        if (rc == MK_OK)
            json_decref(created);
    }
    json_decref(campaign);
    int end = store_tx_end(st, rc == MK_OK);
    if (rc == MK_OK)
        rc = end;
    if (rc == MK_OK && out) {
        fprintf(out, "Demo campaign %s. Demo staff and their PINs:\n", DEMO_CAMPAIGN);
        for (size_t i = 0; i < sizeof demo_staff / sizeof demo_staff[0]; i++)
            fprintf(out, "  %-10s  %-4s  %s\n", demo_staff[i].role, demo_staff[i].pin,
                    demo_staff[i].name);
    }
    return rc;
}
