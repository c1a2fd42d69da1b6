#!/bin/sh
# Turns the numbered migrations app/sql/NNN_name.sql into C, so mokitd carries its own schema.
set -eu
echo '/* Generated from app/sql by app/store/embed-sql.sh: do not edit. */'
echo '#include "migrations.h"'
echo 'const struct migration migrations[] = {'
for f in "$@"; do
    base=$(basename "$f")
    num=$(printf '%s' "$base" | sed 's/^\([0-9]*\)_.*/\1/' | sed 's/^0*//')
    printf '    {%s, "%s",\n' "$num" "$base"
    sed -e 's/\\/\\\\/g' -e 's/"/\\"/g' -e 's/^/     "/' -e 's/$/\\n"/' "$f"
    echo '    },'
done
echo '};'
echo "const int migrations_count = $#;"
