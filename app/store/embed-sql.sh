#!/bin/sh
# Turns the numbered migrations app/sql/NNN_name.sql into C, so mokitd carries its own schema.
# usage: embed-sql.sh [--name ARRAY] FILE...   (ARRAY defaults to "migrations"; the hospital's
# PostgreSQL schema of app/sql/pg/ is embedded as pg_migrations)
set -eu
name=migrations
if [ "${1:-}" = --name ]; then
    name=$2
    shift 2
fi
echo '/* Generated from app/sql by app/store/embed-sql.sh: do not edit. */'
echo '#include "migrations.h"'
echo "const struct migration $name[] = {"
for f in "$@"; do
    base=$(basename "$f")
    num=$(printf '%s' "$base" | sed 's/^\([0-9]*\)_.*/\1/' | sed 's/^0*//')
    printf '    {%s, "%s",\n' "$num" "$base"
    sed -e 's/\\/\\\\/g' -e 's/"/\\"/g' -e 's/^/     "/' -e 's/$/\\n"/' "$f"
    echo '    },'
done
echo '};'
echo "const int ${name}_count = $#;"
