#include "role.h"

#include <string.h>

static const struct {
    const char *name;
    unsigned perms;
} roles[] = {
    {"registrar", PERM_READ | PERM_PATIENT_WRITE | PERM_VISIT_WRITE},
    {"nurse", PERM_READ | PERM_VISIT_WRITE | PERM_OBS_WRITE},
    {"doctor", PERM_READ | PERM_VISIT_WRITE | PERM_OBS_WRITE | PERM_CLINICAL},
    {"pharmacist", PERM_READ | PERM_DISPENSE | PERM_STOCK},
    {"lead", PERM_READ | PERM_PATIENT_WRITE | PERM_VISIT_WRITE | PERM_OBS_WRITE | PERM_ADMIN |
                 PERM_CLINICAL | PERM_DISPENSE | PERM_STOCK},
};

unsigned role_perms(const char *role)
{
    for (unsigned i = 0; i < sizeof roles / sizeof roles[0]; i++)
        if (strcmp(roles[i].name, role) == 0)
            return roles[i].perms;
    return 0;
}

int role_valid(const char *role)
{
    return role_perms(role) != 0;
}
