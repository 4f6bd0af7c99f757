#!/bin/sh
set -e
cd "$(dirname "$0")/.."

exec celery -A glitchtip worker -B -l info --pool threads \
    -s "${CELERY_BEAT_SCHEDULE_FILENAME:-/tmp/celerybeat-schedule}" \
    --concurrency "${CELERY_WORKER_CONCURRENCY:-2}"
