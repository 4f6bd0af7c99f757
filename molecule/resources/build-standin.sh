#!/usr/bin/env bash
# Build the GlitchTip stand-in image (a TEST FIXTURE, see standin/README.md).
#
#   1. the Debian base image glitchtip-aio-test/debian:bookworm, made with
#      debootstrap when it is missing (the rootfs is cached);
#   2. glitchtip-aio-test/glitchtip-standin:5.2 from standin/, rebuilt only
#      when the files of standin/ changed (label org.glitchtip-aio.standin-digest).
#
# Environment:
#   STANDIN_TAG          image to build (default glitchtip-aio-test/glitchtip-standin:5.2)
#   GLITCHTIP_AIO_CACHE  cache directory (default ${XDG_CACHE_HOME:-$HOME/.cache}/glitchtip-aio-test)
#   DEBIAN_MIRROR        mirror for debootstrap (default http://deb.debian.org/debian)
set -euo pipefail

here="$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)"
standin_dir="$here/standin"
base_image="glitchtip-aio-test/debian:bookworm"
standin_tag="${STANDIN_TAG:-glitchtip-aio-test/glitchtip-standin:5.2}"
cache_dir="${GLITCHTIP_AIO_CACHE:-${XDG_CACHE_HOME:-$HOME/.cache}/glitchtip-aio-test}"
mirror="${DEBIAN_MIRROR:-http://deb.debian.org/debian}"
digest_label="org.glitchtip-aio.standin-digest"

log() { printf 'build-standin: %s\n' "$*"; }
# shellcheck source=fixture-image.sh
. "$here/fixture-image.sh"

image_exists() { docker image inspect "$1" >/dev/null 2>&1; }

ensure_base_image() {
    if image_exists "$base_image"; then
        log "base image $base_image present"
        return
    fi
    local rootfs="$cache_dir/rootfs"
    # debootstrap writes this file last: its presence means a complete rootfs.
    if [ -x "$rootfs/usr/bin/apt-get" ] && [ -f "$rootfs/var/log/bootstrap.log" ] \
        && [ ! -e "$rootfs/debootstrap" ]; then
        log "reusing cached rootfs $rootfs"
    else
        command -v debootstrap >/dev/null || {
            log "debootstrap is missing (apt-get install debootstrap)"; exit 1; }
        [ "$(id -u)" -eq 0 ] || { log "debootstrap needs root"; exit 1; }
        log "debootstrap bookworm into $rootfs"
        mkdir -p "$cache_dir"
        rm -rf "$rootfs"
        debootstrap --variant=minbase bookworm "$rootfs" "$mirror"
    fi
    log "importing $rootfs as $base_image"
    tar -C "$rootfs" -c . | docker import - "$base_image" >/dev/null
}

ensure_base_image
ensure_fixture_image "$standin_tag" "$standin_dir" "$digest_label" STANDIN_DIGEST
