#!/usr/bin/env bash
# Build the managed-service stand-ins (TEST FIXTURES, see services/README.md):
#   glitchtip-aio-test/postgres:15 from services/postgres/
#   glitchtip-aio-test/redis:7     from services/redis/
# both FROM glitchtip-aio-test/debian:bookworm (made here when missing). Each is
# rebuilt only when the files of its directory changed (label
# org.glitchtip-aio.service-digest), so a repeat run costs nothing.
set -euo pipefail

here="$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)"
digest_label="org.glitchtip-aio.service-digest"

log() { printf 'build-services: %s\n' "$*"; }
# shellcheck source=fixture-image.sh
. "$here/fixture-image.sh"

ensure_debian bookworm
ensure_fixture_image glitchtip-aio-test/postgres:15 "$here/services/postgres" "$digest_label" SERVICE_DIGEST
ensure_fixture_image glitchtip-aio-test/redis:7 "$here/services/redis" "$digest_label" SERVICE_DIGEST
