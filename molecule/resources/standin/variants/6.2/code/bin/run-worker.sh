#!/usr/bin/env bash
# As GlitchTip 6.x's: the django-vtasks task runner with its scheduler.
export IS_WORKER="true"
set -e
cd "$(dirname "$0")/.."

exec ./manage.py runworker --scheduler
