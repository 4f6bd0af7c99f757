#!/usr/bin/env bash
# Build the GlitchTip stand-in images (TEST FIXTURES, see standin/README.md).
#
#   build-standin.sh [VARIANT...]     default: 5.2
#
#   5.2           glitchtip-aio-test/glitchtip-standin:5.2, shaped like the official image:
#                 Debian trixie, CPython 3.13 built into /usr/local (python-slim/), the app's
#                 packages from PyPI; an AIO layer on it gets trixie's PostgreSQL 17.
#   5.2-bookworm  the same app on bookworm and its CPython 3.11: an AIO layer on it gets
#                 PostgreSQL 15 (tests of a cluster of an older major).
#   6.2           glitchtip-aio-test/glitchtip-standin:6.2, GlitchTip 6.x's shape on the same
#                 trixie CPython: Django 6, the real django-vtasks task runner (runworker
#                 --scheduler) through Valkey/Redis or PostgreSQL, granian (standin/variants/6.2).
#   6.2-broken    glitchtip-aio-test/glitchtip-standin:6.2-broken, the 6.2 stand-in plus a migration
#                 that fails half-way (standin-broken/, seconds on top of 6.2): the rolled-back
#                 upgrade of the upgrade scenario. Builds 6.2 first.
#
# Each step is skipped while its image's digest label matches its inputs:
#   glitchtip-aio-test/debian:RELEASE           debootstrap (the rootfs is cached)
#   glitchtip-aio-test/python:X.Y-slim-RELEASE  python-slim/
#   glitchtip-aio-test/glitchtip-standin:TAG    standin/
#   glitchtip-aio-test/glitchtip-standin:6.2-broken  standin-broken/ and the 6.2 image's id
#
# Environment:
#   GLITCHTIP_AIO_CACHE  cache directory (default ${XDG_CACHE_HOME:-$HOME/.cache}/glitchtip-aio-test)
#   DEBIAN_MIRROR        mirror for debootstrap (default http://deb.debian.org/debian)
set -euo pipefail

here="$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)"

log() { printf 'build-standin: %s\n' "$*"; }
# shellcheck source=fixture-image.sh
. "$here/fixture-image.sh"

# ensure_standin VARIANT RELEASE PYTHON GLITCHTIP_VERSION
ensure_standin() {
    local variant="$1" release="$2" python="$3" version="$4"
    local python_image="glitchtip-aio-test/python:$python-slim-$release"
    ensure_debian "$release"
    ensure_fixture_image "$python_image" "$here/python-slim" org.glitchtip-aio.python-digest PYTHON_DIGEST \
        --build-arg "DEBIAN_RELEASE=$release" --build-arg "PYTHON_SOURCE=python$python"
    FIXTURE_PIP_CA=1 ensure_fixture_image "glitchtip-aio-test/glitchtip-standin:$variant" "$here/standin" \
        org.glitchtip-aio.standin-digest STANDIN_DIGEST \
        --build-arg "PYTHON_IMAGE=$python_image" --build-arg "GLITCHTIP_VERSION=$version" \
        --build-arg "PYTHON_IMAGE_ID=$(docker image inspect --format '{{.Id}}' "$python_image")"
}

[ $# -gt 0 ] || set -- 5.2
for variant in "$@"; do
    case "$variant" in
        5.2) ensure_standin 5.2 trixie 3.13 5.2 ;;
        5.2-bookworm) ensure_standin 5.2-bookworm bookworm 3.11 5.2 ;;
        6.2) ensure_standin 6.2 trixie 3.13 6.2 ;;
        6.2-broken)
            ensure_standin 6.2 trixie 3.13 6.2
            ensure_fixture_image glitchtip-aio-test/glitchtip-standin:6.2-broken "$here/standin-broken" \
                org.glitchtip-aio.standin-digest STANDIN_DIGEST \
                --build-arg "BASE_IMAGE_ID=$(docker image inspect --format '{{.Id}}' glitchtip-aio-test/glitchtip-standin:6.2)"
            ;;
        *) log "unknown variant $variant (expected 5.2, 5.2-bookworm, 6.2 or 6.2-broken)"; exit 2 ;;
    esac
done
