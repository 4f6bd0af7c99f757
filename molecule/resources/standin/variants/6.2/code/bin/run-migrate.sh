#!/usr/bin/env bash
set -e
cd "$(dirname "$0")/.."

echo "Run Django migrations"
./manage.py migrate --noinput
echo "Create Django cache table, if needed"
./manage.py createcachetable
echo "Create and delete Postgres partitions"
./manage.py maintain_partitions
