#!/bin/sh
# As GlitchTip 6.x's: granian serving the ASGI application.
set -e
cd "$(dirname "$0")/.."

exec granian --interface asgi glitchtip.asgi:application --host 0.0.0.0 --port "${PORT:-8080}" \
    --workers "${GRANIAN_WORKERS:-${WEB_CONCURRENCY:-1}}" --no-ws
