#!/bin/sh
# Entry point of the GlitchTip 6.x stand-in image: dispatch on SERVER_ROLE.
set -e
cd "$(dirname "$0")/.."

case "${SERVER_ROLE:-web}" in
    web) exec ./bin/run-web.sh ;;
    worker|worker_with_beat) exec ./bin/run-worker.sh ;;
    *)
        echo "Unknown server role provided: ${SERVER_ROLE}. Should be web|worker." >&2
        exit 1
        ;;
esac
