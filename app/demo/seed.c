#include "seed.h"

#include "../common/err.h"
#include "../common/log.h"
#include "../common/util.h"
#include "demo.h"

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

int demo_seed(struct store *st, int patients, uint64_t seed, FILE *out)
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
    const char *campaign_id = json_string_value(json_object_get(campaign, "id"));
    util_today(day);
    date_parse(day, &today);
    demo_rng_seed(&rng, seed);
    for (int i = 0; rc == MK_OK && i < patients; i++) {
        struct demo_person d;
        demo_person_make(&rng, &today, &d);
        struct patient p = {
            .name = d.name,
            .sex = d.sex,
            .birth = d.birth,
            .ethnicity = d.ethnicity,
            .village = d.village,
            .phone = d.phone,
            .consent = true,
        };
        json_t *created;
        rc = store_patient_register(st, &a, &p, campaign_id, true, &created);
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
