#!/usr/bin/env bash
# Build the managed-service stand-ins (TEST FIXTURES, see services/README.md):
#   glitchtip-aio-test/postgres:15 from services/postgres/
#   glitchtip-aio-test/redis:7     from services/redis/
# both FROM glitchtip-aio-test/debian:bookworm (build-standin.sh makes it). Each is
# rebuilt only when the files of its directory changed (label
# org.glitchtip-aio.service-digest), so a repeat run costs nothing.
set -euo pipefail

here="$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)"
base_image="glitchtip-aio-test/debian:bookworm"
digest_label="org.glitchtip-aio.service-digest"

log() { printf 'build-services: %s\n' "$*"; }
# shellcheck source=fixture-image.sh
. "$here/fixture-image.sh"

docker image inspect "$base_image" >/dev/null 2>&1 || {
    log "$base_image is missing: run build-standin.sh first"; exit 1; }
ensure_fixture_image glitchtip-aio-test/postgres:15 "$here/services/postgres" "$digest_label" SERVICE_DIGEST
ensure_fixture_image glitchtip-aio-test/redis:7 "$here/services/redis" "$digest_label" SERVICE_DIGEST
