/* What the command line's commands share (app/mokit.c holds main and the older commands;
 * app/cli/ the newer ones, one file each). */
#pragma once

#include "../store/store.h"

#include <stdbool.h>
#include <stdio.h>

enum { EXIT_USAGE = 1, EXIT_INVALID = 2, EXIT_SYSTEM = 3 };

extern int json_output;        /* --json */
extern const char *data_dir;   /* --data, $MOKIT_DATA or ./var */
extern struct actor cli_actor; /* "cli:<user>" in the audit */

struct opt {
    const char *name; /* without "--" */
    int has_arg;
    const char *value; /* argument, or "" for a set flag, or NULL */
};

/* Parses argv[from..] into opts and up to nposmax positional arguments.
 * 0, or EXIT_USAGE with a message. */
int parse_opts(int argc, char **argv, int from, struct opt *opts, int nopts, const char **pos,
               int nposmax, int *npos);
const char *opt_get(const struct opt *opts, int n, const char *name);
bool wants_help(int argc, char **argv, int from);
/* Opens the data directory's store: 0, or EXIT_SYSTEM with a message. */
int open_store(struct store **st);
/* Prints "mokit: what: error" and maps the mk_err to an exit code. */
int fail_rc(int rc, const char *what);
void print_json(json_t *j);
/* --system-cccd/--system-bhyt/--system-code (export, push) into opts as system_cccd...:
 * 0, or EXIT_INVALID with a message for one that is not an identifier system URI. */
int cli_id_system_opts(const struct opt *o, int n, json_t *opts);

/* A progress bar on standard error when it is a terminal (nothing otherwise). */
struct progress;
void cli_progress_init(struct progress *p, const char *label);
void cli_progress_end(struct progress *p);

int cmd_campaign_handoff(int argc, char **argv); /* campaign hospital-key | id-systems */
int cmd_keys_trust(int argc, char **argv);       /* keys trust | untrust | trusted */
int cmd_export(int argc, char **argv);
int cmd_import(int argc, char **argv);
int cmd_referrals(int argc, char **argv);
int cmd_push(int argc, char **argv);
int cmd_matches(int argc, char **argv);
