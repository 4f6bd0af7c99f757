#!/bin/sh
# Entry point of the GlitchTip stand-in image: dispatch on SERVER_ROLE.
set -e
cd "$(dirname "$0")/.."

case "${SERVER_ROLE:-web}" in
    web)
        exec ./bin/run-web.sh
        ;;
    worker)
        exec ./bin/run-celery.sh
        ;;
    beat)
        exec ./bin/run-beat.sh
        ;;
    worker_with_beat)
        exec ./bin/run-celery-with-beat.sh
        ;;
    *)
        echo "Unknown server role provided: ${SERVER_ROLE}. Should be web|worker|beat|worker_with_beat." >&2
        exit 1
        ;;
esac
