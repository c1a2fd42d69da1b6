/* Staff roles and what each may do. Pure. */
#pragma once

enum perm {
    PERM_READ = 1 << 0,          /* search and read patients and visits */
    PERM_PATIENT_WRITE = 1 << 1, /* register and edit residents */
    PERM_VISIT_WRITE = 1 << 2,   /* open visits (queue numbers) */
    PERM_OBS_WRITE = 1 << 3,     /* record readings */
    PERM_ADMIN = 1 << 4,         /* campaign and staff setup, the medicine list */
    PERM_CLINICAL = 1 << 5,      /* findings, advice, prescriptions, referrals */
    PERM_DISPENSE = 1 << 6,      /* hand out prescribed medicine */
    PERM_STOCK = 1 << 7,         /* receive and count stock */
};

/* The permission set of a role name ("registrar", "nurse", "doctor", "pharmacist", "lead");
 * 0 for an unknown role. */
unsigned role_perms(const char *role);
int role_valid(const char *role);
