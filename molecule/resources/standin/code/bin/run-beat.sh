#!/bin/sh
set -e
cd "$(dirname "$0")/.."

exec celery -A glitchtip beat -l info \
    -s "${CELERY_BEAT_SCHEDULE_FILENAME:-/tmp/celerybeat-schedule}"
