#!/bin/sh
set -e
cd "$(dirname "$0")/.."

exec celery -A glitchtip worker -l info --pool threads \
    --concurrency "${CELERY_WORKER_CONCURRENCY:-2}"
