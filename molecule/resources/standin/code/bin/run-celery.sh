#!/bin/sh
set -e
cd "$(dirname "$0")/.."

exec python3 -m celery -A glitchtip worker -l info \
    --concurrency "${CELERY_WORKER_CONCURRENCY:-2}"
