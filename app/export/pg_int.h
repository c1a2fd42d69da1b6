/* Internals of the PostgreSQL side (pg_*.c): the connection and its schema. */
#pragma once

#include <libpq-fe.h>
#include <stddef.h>

/* Connects (libpq conninfo or URL) and applies app/sql/pg/ migrations the database lacks.
 * MK_EIO when the server cannot be reached (the reason, without the password, in err),
 * MK_ESCHEMA when its mokit schema is newer than this program's, MK_EDB. */
int pg_connect(const char *conninfo, PGconn **out, char *err, size_t errlen);
/* Runs a command: MK_OK when its status is want (PGRES_COMMAND_OK, PGRES_TUPLES_OK), else
 * MK_EDB with the server's message in err. *res (may be NULL) keeps the result: PQclear it. */
int pg_run(PGconn *c, const char *sql, int nparams, const char *const *params, int want,
           PGresult **res, char *err, size_t errlen);
