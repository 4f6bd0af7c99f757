#!/bin/sh
# First start: a cluster in $PGDATA with role and database "glitchtip" (password
# $POSTGRES_PASSWORD), scram-sha-256 for every TCP client. Then PostgreSQL in the
# foreground as PID 1. Any other command (psql ...) runs as given, so the image is
# also the test's PostgreSQL client.
set -eu

if [ "${1:-}" != "postgres" ]; then
    exec "$@"
fi

if [ ! -s "$PGDATA/PG_VERSION" ]; then
    : "${POSTGRES_PASSWORD:?POSTGRES_PASSWORD is required on the first start}"
    initdb --pgdata="$PGDATA" --username=postgres --encoding=UTF8 --locale=C.UTF-8 \
        --auth-local=peer --auth-host=scram-sha-256 >/dev/null
    {
        echo "# Managed-service stand-in: any address, password (scram) only."
        echo "host all all 0.0.0.0/0 scram-sha-256"
        echo "host all all ::/0 scram-sha-256"
    } >>"$PGDATA/pg_hba.conf"
    # Socket only while the role is made: nobody can connect before it has its password.
    pg_ctl --pgdata="$PGDATA" --wait --silent -o "-c listen_addresses=''" start
    # The password travels as a psql variable on stdin, quoted by psql (:'pw'),
    # never on a command line.
    psql -X -q -v ON_ERROR_STOP=1 -v pw="$POSTGRES_PASSWORD" -d postgres <<'SQL'
CREATE ROLE glitchtip LOGIN CREATEDB PASSWORD :'pw';
CREATE DATABASE glitchtip OWNER glitchtip ENCODING 'UTF8' LC_COLLATE 'C.UTF-8' LC_CTYPE 'C.UTF-8'
    TEMPLATE template0;
SQL
    pg_ctl --pgdata="$PGDATA" --wait --silent -m fast stop
    echo "entrypoint: initialised $PGDATA with role and database glitchtip"
fi

shift
exec postgres -D "$PGDATA" -c listen_addresses='*' "$@"
