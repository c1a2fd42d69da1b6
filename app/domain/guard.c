#include "guard.h"

#include <math.h>
#include <stdio.h>
#include <string.h>

static double backoff(int failures, double since)
{
    if (failures < GUARD_FREE)
        return 0;
    double wait = fmin(GUARD_MAX_WAIT, pow(2, failures - GUARD_FREE + 1));
    return fmax(0, wait - since);
}

static struct guard_slot *slot(struct login_guard *g, const char *addr, double now, int create)
{
    struct guard_slot *free_slot = NULL, *oldest = NULL;
    for (int i = 0; i < GUARD_SLOTS; i++) {
        struct guard_slot *s = &g->slots[i];
        if (s->addr[0] && now - s->last_failure > GUARD_FORGET)
            memset(s, 0, sizeof *s);
        if (s->addr[0] && strcmp(s->addr, addr) == 0)
            return s;
        if (!s->addr[0] && !free_slot)
            free_slot = s;
        if (s->addr[0] && (!oldest || s->last_failure < oldest->last_failure))
            oldest = s;
    }
    if (!create)
        return NULL;
    /* A full table forgets the address quietest for longest; the kit-wide count still holds. */
    struct guard_slot *s = free_slot ? free_slot : oldest;
    memset(s, 0, sizeof *s);
    snprintf(s->addr, sizeof s->addr, "%s", addr);
    return s;
}

/* Wrong PINs kit-wide within the window, and the time of the latest. */
static int kit_recent(const struct login_guard *g, double now, double *latest)
{
    int n = 0;
    *latest = 0;
    for (int i = 0; i < 64; i++) {
        double t = g->kit_failures[i];
        if (t > 0 && now - t <= GUARD_KIT_WINDOW) {
            n++;
            *latest = fmax(*latest, t);
        }
    }
    return n;
}

double guard_wait(struct login_guard *g, const char *addr, double now)
{
    double wait = 0, latest;
    struct guard_slot *s = slot(g, addr, now, 0);
    if (s)
        wait = backoff(s->failures, now - s->last_failure);
    int recent = kit_recent(g, now, &latest);
    if (recent > GUARD_KIT_FREE)
        wait = fmax(wait, backoff(recent - GUARD_KIT_FREE + GUARD_FREE - 1, now - latest));
    return wait;
}

int guard_failure(struct login_guard *g, const char *addr, double now)
{
    struct guard_slot *s = slot(g, addr, now, 1);
    s->failures++;
    s->last_failure = now;
    g->kit_failures[g->kit_next] = now;
    g->kit_next = (g->kit_next + 1) % 64;
    return s->failures;
}
