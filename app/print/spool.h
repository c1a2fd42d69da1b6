/* The print spool of mokitd: one thread per enabled printer sends that printer's queued jobs
 * (store_job_next) in order through the firmware transports (fw_printer.h).
 *
 *  - A job is marked "sending" (one more attempt) before its first byte goes, and "done" when
 *    the printer has taken its last byte. A daemon killed in between finds it "sending" at the
 *    next start, puts it back in the queue and sends it again, after resynchronisation bytes
 *    that finish the command the printer was left in (fw_resync_bytes; also after any send
 *    that failed part-way, whichever job comes next): the resident gets a whole ticket.
 *    A job the printer took is not sent again: when the commit of "done" fails the spool
 *    retries the commit, not the job. What can still print twice: a daemon killed between
 *    the last byte and that commit (one fsync, a few milliseconds), or stopped while the
 *    commit keeps failing; and a transport that reports an error after the printer took every
 *    byte (a file printer whose fdatasync fails, a UART whose tcdrain fails).
 *  - A printer that is missing, out of paper or failing keeps its jobs queued: the spool
 *    retries with backoff (1 s doubling to 30 s; every 2 s while out of paper) and writes the
 *    printer's state and last error to the store, where the API and `mokit printer list`
 *    show which printer needs attention. A job the printer can never print (bytes the
 *    simulated printer rejects) is marked "failed" so it does not block the ones behind it.
 *  - Idle printers are looked at every 5 s, so a problem shows before the next registration.
 * Printers added or changed while mokitd runs (API or `mokit printer`) are picked up within
 * 2 s. */
#pragma once

#include <jansson.h>

struct spool;

/* Told of each change, from the spool's threads: "print" {id, printer, kind, seq, state,
 * last_error} when a job is being sent, done, failed or back in the queue; "printer" {name,
 * state, last_error} when a printer's state changes. data is the callee's. */
typedef void (*spool_notify_fn)(void *ctx, const char *type, json_t *data);

/* Starts the spool on the data directory (it opens its own store handles). notify may be
 * NULL. MK_ENOMEM, MK_EIO. */
int spool_start(const char *data_dir, spool_notify_fn notify, void *ctx, struct spool **out);
/* A job was queued or a printer changed: look now rather than at the next poll. */
void spool_kick(struct spool *sp);
/* Stops every printer thread; a job being sent is finished first. NULL is a no-op. */
void spool_stop(struct spool *sp);
