/* The schema migrations compiled into the binary from app/sql/ (see embed-sql.sh). */
#pragma once

struct migration {
    int version;      /* NNN of NNN_name.sql; applied in ascending order */
    const char *name; /* file name */
    const char *sql;
};

extern const struct migration migrations[];
extern const int migrations_count;
