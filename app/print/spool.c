#include "spool.h"

#include "../common/err.h"
#include "../common/log.h"
#include "../store/store.h"
#include "fw_printer.h"

#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#define RESCAN_MS      2000
#define IDLE_CHECK_MS  5000
#define PAPER_WAIT_MS  2000
#define BACKOFF_MAX_MS 30000

struct worker {
    struct spool *sp;
    char name[64], profile[48], uri[512];
    pthread_t thread;
    int stop;
    int dirty; /* a send was cut off: the printer may be inside a command (resync first) */
    struct worker *next;
    /* What the store last heard about the printer. */
    char state[16], error[300];
};

struct spool {
    char dir[1024];
    spool_notify_fn notify; /* may be NULL */
    void *notify_ctx;
    pthread_mutex_t mu;
    pthread_cond_t cv;
    int stop;
    unsigned long kicks;
    pthread_t manager;
    struct worker *workers;
};

static long long now_ms(void)
{
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (long long)ts.tv_sec * 1000 + ts.tv_nsec / 1000000;
}

/* Waits up to ms, or until a kick or a stop. *seen tracks the kicks already answered. */
static void wait_ms(struct spool *sp, const int *stop, unsigned long *seen, long long ms)
{
    struct timespec until;
    clock_gettime(CLOCK_MONOTONIC, &until);
    until.tv_sec += (time_t)(ms / 1000);
    until.tv_nsec += (long)(ms % 1000) * 1000000;
    if (until.tv_nsec >= 1000000000) {
        until.tv_sec++;
        until.tv_nsec -= 1000000000;
    }
    pthread_mutex_lock(&sp->mu);
    while (!sp->stop && !*stop && sp->kicks == *seen)
        if (pthread_cond_timedwait(&sp->cv, &sp->mu, &until) != 0)
            break;
    *seen = sp->kicks;
    pthread_mutex_unlock(&sp->mu);
}

/* Waits ms, or until a stop; kicks do not cut it short. */
static void nap(struct worker *w, long long ms)
{
    pthread_mutex_lock(&w->sp->mu);
    unsigned long seen = w->sp->kicks;
    pthread_mutex_unlock(&w->sp->mu);
    for (long long end = now_ms() + ms; now_ms() < end;) {
        wait_ms(w->sp, &w->stop, &seen, end - now_ms());
        pthread_mutex_lock(&w->sp->mu);
        bool stop = w->sp->stop || w->stop;
        pthread_mutex_unlock(&w->sp->mu);
        if (stop)
            return;
    }
}

static bool stopping(struct worker *w)
{
    pthread_mutex_lock(&w->sp->mu);
    bool s = w->sp->stop || w->stop;
    pthread_mutex_unlock(&w->sp->mu);
    return s;
}

/* Tells the store (and the log) when the printer's state or error changes. */
static void report(struct worker *w, struct store *st, const char *state, const char *error)
{
    if (!error)
        error = "";
    if (!strcmp(w->state, state) && !strcmp(w->error, error))
        return;
    if (store_printer_set_state(st, w->name, state, error[0] ? error : NULL) != MK_OK)
        return; /* logged; try again at the next change */
    if (error[0])
        LOG(LOG_WARN, "printer %s: %s: %s", w->name, state, error);
    else
        LOG(LOG_NOTICE, "printer %s: %s", w->name, state);
    snprintf(w->state, sizeof w->state, "%s", state);
    snprintf(w->error, sizeof w->error, "%s", error);
    if (w->sp->notify)
        w->sp->notify(w->sp->notify_ctx, "printer",
                      json_pack("{s:s, s:s, s:s?}", "name", w->name, "state", state, "last_error",
                                error[0] ? error : NULL));
}

/* Marks a job's progress in the store and tells the event stream. */
static int mark(struct worker *w, struct store *st, const struct job *j, const char *state,
                const char *error)
{
    int rc = store_job_mark(st, j->id, state, error);
    if (rc == MK_OK && w->sp->notify)
        w->sp->notify(w->sp->notify_ctx, "print",
                      json_pack("{s:s, s:s, s:s, s:I, s:s, s:s?}", "id", j->id, "printer", w->name,
                                "kind", j->kind, "seq", (json_int_t)j->seq, "state", state,
                                "last_error", error));
    return rc;
}

static long long backoff(int fails)
{
    long long ms = 1000;
    for (int i = 1; i < fails && ms < BACKOFF_MAX_MS; i++)
        ms *= 2;
    return ms < BACKOFF_MAX_MS ? ms : BACKOFF_MAX_MS;
}

static const char *failure_state(int rc)
{
    return rc == FW_ENODEV ? "offline" : rc == FW_EPAPER ? "paper_out" : "error";
}

/* Opens the printer when needed and asks how it is. 0 when a job may go, else the ms to wait
 * (the state is reported). A printer that cannot report (no return channel) stays "ready"
 * once it has taken a job, else it is "connected". */
static long long check(struct worker *w, struct store *st, const struct fw_profile *p,
                       struct fw_printer **pr, int *fails)
{
    char err[300] = "";
    enum fw_printer_state ps;
    int rc = FW_OK;
    if (!*pr)
        rc = fw_printer_open(w->uri, w->sp->dir, p, pr, err, sizeof err);
    if (rc == FW_OK)
        rc = fw_printer_status(*pr, &ps, err, sizeof err);
    if (rc != FW_OK) {
        fw_printer_close(*pr);
        *pr = NULL;
        report(w, st, rc == FW_EINVAL ? "error" : failure_state(rc),
               err[0] ? err : fw_strerror(rc));
        return backoff(++*fails);
    }
    if (ps == FW_PRINTER_PAPER_OUT) {
        report(w, st, "paper_out", "out of paper: load a new roll");
        return PAPER_WAIT_MS;
    }
    if (ps == FW_PRINTER_OFFLINE) {
        report(w, st, "offline", "the printer reports an error: cover open or paused?");
        return PAPER_WAIT_MS;
    }
    *fails = 0;
    /* Connected; a printer with no return channel cannot say more. */
    if (!strcmp(w->state, "ready") && !w->error[0] && ps == FW_PRINTER_UNKNOWN)
        return 0;
    report(w, st, ps == FW_PRINTER_READY ? "ready" : "connected", NULL);
    return 0;
}

/* Sends one job. 0, or the ms to wait before the next try. */
static long long send_job(struct worker *w, struct store *st, const struct fw_profile *p,
                          struct fw_printer **pr, struct job *j, int *fails)
{
    long long wait = check(w, st, p, pr, fails);
    if (wait)
        return wait;
    int rc = mark(w, st, j, "sending", NULL);
    if (rc == MK_ENOTFOUND) /* cancelled meanwhile */
        return 0;
    if (rc != MK_OK)
        return PAPER_WAIT_MS;
    char label[64], err[300] = "";
    snprintf(label, sizeof label, "%06lld-%s", j->seq, j->kind);
    /* After a send that was cut off (here, or by a crash before this start), whichever job
     * it was, the printer may be inside a command: resynchronise first. */
    rc = fw_printer_send(*pr, label, j->data, j->len, w->dirty, err, sizeof err);
    if (rc == FW_OK) {
        w->dirty = 0;
        /* The printer has it: never send it again. Should the commit fail (the database
         * locked by another program, a full disk), keep trying rather than move on, since
         * the job would come back as the next one to send. */
        for (long long ms = 500; mark(w, st, j, "done", NULL) != MK_OK;) {
            LOG(LOG_ERROR, "printer %s: job %s printed but not yet marked done: retrying", w->name,
                j->id);
            if (stopping(w))
                break; /* still "sending": the next start resends it (spool.h) */
            nap(w, ms);
            ms = ms < BACKOFF_MAX_MS ? ms * 2 : BACKOFF_MAX_MS;
        }
        LOG(LOG_INFO, "printer %s: job %s (%s, %zu bytes) printed", w->name, j->id, j->kind,
            j->len);
        report(w, st, "ready", NULL);
        return 0;
    }
    w->dirty = 1;
    if (!err[0])
        snprintf(err, sizeof err, "%s", fw_strerror(rc));
    if (rc == FW_EINVAL) { /* this job can never print: do not hold up the others */
        LOG(LOG_ERROR, "printer %s: job %s failed: %s", w->name, j->id, err);
        mark(w, st, j, "failed", err);
        return 0;
    }
    mark(w, st, j, "queued", err);
    report(w, st, failure_state(rc), err);
    if (rc == FW_EPAPER)
        return PAPER_WAIT_MS;
    fw_printer_close(*pr);
    *pr = NULL;
    return backoff(++*fails);
}

static void *worker_main(void *arg)
{
    struct worker *w = arg;
    struct store *st = NULL;
    struct fw_printer *pr = NULL;
    unsigned long seen = 0;
    int fails = 0;
    long long next_check = 0;
    const struct fw_profile *p = fw_profile_find(w->profile);
    for (long long ms = 1000; store_open(w->sp->dir, &st) != MK_OK; ms = backoff(4)) {
        LOG(LOG_ERROR, "printer %s: cannot open the store: retrying", w->name);
        wait_ms(w->sp, &w->stop, &seen, ms);
        if (stopping(w))
            return NULL;
    }
    /* Jobs left "sending" by a mokitd that died mid-job wait again (and may be cancelled);
     * the printer gets resynchronisation bytes before the next one. */
    int interrupted = 0;
    if (store_job_requeue_interrupted(st, w->name, &interrupted) == MK_OK && interrupted > 0) {
        LOG(LOG_NOTICE, "printer %s: %d job(s) were cut off by a stop: sending again", w->name,
            interrupted);
        w->dirty = 1;
    }
    if (!p)
        report(w, st, "error", "unknown printer profile");
    while (!stopping(w)) {
        if (!p) {
            wait_ms(w->sp, &w->stop, &seen, RESCAN_MS);
            continue;
        }
        struct job j;
        int rc = store_job_next(st, w->name, &j);
        if (rc == MK_OK) {
            long long wait = send_job(w, st, p, &pr, &j, &fails);
            free(j.data);
            if (wait)
                wait_ms(w->sp, &w->stop, &seen, wait);
            next_check = now_ms() + IDLE_CHECK_MS;
            continue;
        }
        if (rc != MK_ENOTFOUND) {
            wait_ms(w->sp, &w->stop, &seen, RESCAN_MS);
            continue;
        }
        /* Idle: look at the printer now and then, so a problem shows before the next job. */
        if (now_ms() >= next_check) {
            long long wait = check(w, st, p, &pr, &fails);
            next_check = now_ms() + (wait > IDLE_CHECK_MS ? wait : IDLE_CHECK_MS);
        }
        wait_ms(w->sp, &w->stop, &seen, 1000);
    }
    fw_printer_close(pr);
    store_close(st);
    return NULL;
}

static void worker_stop(struct worker *w)
{
    pthread_mutex_lock(&w->sp->mu);
    w->stop = 1;
    pthread_cond_broadcast(&w->sp->cv);
    pthread_mutex_unlock(&w->sp->mu);
    pthread_join(w->thread, NULL);
    free(w);
}

static const char *str(json_t *o, const char *key)
{
    const char *s = json_string_value(json_object_get(o, key));
    return s ? s : "";
}

/* Starts a thread for every enabled printer without one, and stops the threads of printers
 * disabled, removed or changed. */
static void rescan(struct spool *sp, struct store *st)
{
    json_t *list;
    if (store_printer_list(st, &list) != MK_OK)
        return;
    for (struct worker **pw = &sp->workers; *pw;) {
        struct worker *w = *pw;
        json_t *p = NULL, *it;
        size_t i;
        json_array_foreach(list, i, it)
        {
            if (!strcmp(str(it, "name"), w->name))
                p = it;
        }
        if (p && json_is_true(json_object_get(p, "enabled")) &&
            !strcmp(str(p, "profile"), w->profile) && !strcmp(str(p, "uri"), w->uri)) {
            pw = &w->next;
            continue;
        }
        *pw = w->next;
        LOG(LOG_NOTICE, "printer %s: %s", w->name, p ? "changed, restarting" : "removed");
        worker_stop(w);
    }
    size_t i;
    json_t *it;
    json_array_foreach(list, i, it)
    {
        if (!json_is_true(json_object_get(it, "enabled")))
            continue;
        struct worker *w;
        for (w = sp->workers; w; w = w->next)
            if (!strcmp(w->name, str(it, "name")))
                break;
        if (w)
            continue;
        w = calloc(1, sizeof *w);
        if (!w)
            break;
        w->sp = sp;
        snprintf(w->name, sizeof w->name, "%s", str(it, "name"));
        snprintf(w->profile, sizeof w->profile, "%s", str(it, "profile"));
        snprintf(w->uri, sizeof w->uri, "%s", str(it, "uri"));
        snprintf(w->state, sizeof w->state, "%s", str(it, "state"));
        snprintf(w->error, sizeof w->error, "%s", str(it, "last_error"));
        if (pthread_create(&w->thread, NULL, worker_main, w) != 0) {
            LOG(LOG_ERROR, "printer %s: cannot start its thread", w->name);
            free(w);
            break;
        }
        w->next = sp->workers;
        sp->workers = w;
    }
    json_decref(list);
}

static void *manager_main(void *arg)
{
    struct spool *sp = arg;
    struct store *st;
    unsigned long seen = 0;
    int never = 0;
    if (store_open(sp->dir, &st) != MK_OK) {
        LOG(LOG_ERROR, "print spool: cannot open the store: nothing will print");
        return NULL;
    }
    for (;;) {
        pthread_mutex_lock(&sp->mu);
        int stop = sp->stop;
        pthread_mutex_unlock(&sp->mu);
        if (stop)
            break;
        rescan(sp, st);
        wait_ms(sp, &never, &seen, RESCAN_MS);
    }
    while (sp->workers) {
        struct worker *w = sp->workers;
        sp->workers = w->next;
        worker_stop(w);
    }
    store_close(st);
    return NULL;
}

int spool_start(const char *data_dir, spool_notify_fn notify, void *ctx, struct spool **out)
{
    struct spool *sp = calloc(1, sizeof *sp);
    if (!sp)
        return MK_ENOMEM;
    sp->notify = notify;
    sp->notify_ctx = ctx;
    snprintf(sp->dir, sizeof sp->dir, "%s", data_dir);
    pthread_condattr_t ca;
    pthread_condattr_init(&ca);
    pthread_condattr_setclock(&ca, CLOCK_MONOTONIC);
    pthread_mutex_init(&sp->mu, NULL);
    pthread_cond_init(&sp->cv, &ca);
    pthread_condattr_destroy(&ca);
    if (pthread_create(&sp->manager, NULL, manager_main, sp) != 0) {
        pthread_cond_destroy(&sp->cv);
        pthread_mutex_destroy(&sp->mu);
        free(sp);
        return MK_EIO;
    }
    *out = sp;
    return MK_OK;
}

void spool_kick(struct spool *sp)
{
    if (!sp)
        return;
    pthread_mutex_lock(&sp->mu);
    sp->kicks++;
    pthread_cond_broadcast(&sp->cv);
    pthread_mutex_unlock(&sp->mu);
}

void spool_stop(struct spool *sp)
{
    if (!sp)
        return;
    pthread_mutex_lock(&sp->mu);
    sp->stop = 1;
    pthread_cond_broadcast(&sp->cv);
    pthread_mutex_unlock(&sp->mu);
    pthread_join(sp->manager, NULL);
    pthread_cond_destroy(&sp->cv);
    pthread_mutex_destroy(&sp->mu);
    free(sp);
}
