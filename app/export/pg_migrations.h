/* The hospital's PostgreSQL schema compiled in from app/sql/pg/ (the Makefile runs
 * app/store/embed-sql.sh over it, naming the array pg_migrations). */
#pragma once

#include "../store/migrations.h"

extern const struct migration pg_migrations[];
extern const int pg_migrations_count;
