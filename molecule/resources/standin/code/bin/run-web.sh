#!/bin/sh
set -e
cd "$(dirname "$0")/.."

exec gunicorn glitchtip.wsgi:application \
    --bind "0.0.0.0:${PORT:-8080}" \
    --workers "${GUNICORN_WORKERS:-2}" \
    --threads "${GUNICORN_THREADS:-2}" \
    --access-logfile - \
    --error-logfile -
