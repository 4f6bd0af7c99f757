#!/bin/sh
set -e
cd "$(dirname "$0")/.."

echo "Run Django migrations"
python3 manage.py migrate --noinput
echo "Create and delete Postgres partitions"
python3 manage.py pgpartition --yes
