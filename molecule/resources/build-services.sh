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

# sha256 over (path, executable bit, content) of every file of one directory.
dir_digest() {
    (
        cd "$1"
        find . -type f -print0 \
            | LC_ALL=C sort -z \
            | while IFS= read -r -d '' f; do
                if [ -x "$f" ]; then mode=x; else mode=-; fi
                printf '%s %s %s\n' "$(sha256sum <"$f" | cut -d' ' -f1)" "$mode" "$f"
            done
    ) | sha256sum | cut -d' ' -f1
}

ensure_image() {
    local tag="$1" dir="$here/services/$2" digest current
    digest="$(dir_digest "$dir")"
    if docker image inspect "$tag" >/dev/null 2>&1; then
        current="$(docker image inspect --format "{{ index .Config.Labels \"$digest_label\" }}" "$tag")"
        if [ "$current" = "$digest" ]; then
            log "$tag up to date (digest ${digest:0:12})"
            return
        fi
        log "$tag is stale (digest ${current:0:12} != ${digest:0:12}); rebuilding"
    else
        log "building $tag (digest ${digest:0:12})"
    fi
    docker build --build-arg "SERVICE_DIGEST=$digest" -t "$tag" "$dir"
    log "built $tag"
}

docker image inspect "$base_image" >/dev/null 2>&1 || {
    log "$base_image is missing: run build-standin.sh first"; exit 1; }
ensure_image glitchtip-aio-test/postgres:15 postgres
ensure_image glitchtip-aio-test/redis:7 redis
