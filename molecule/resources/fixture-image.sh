# Sourced by the build-*.sh fixture scripts: rebuild a fixture image only when the files of
# its directory (or what it is built from) changed. The caller defines log().

cache_dir="${GLITCHTIP_AIO_CACHE:-${XDG_CACHE_HOME:-$HOME/.cache}/glitchtip-aio-test}"
mirror="${DEBIAN_MIRROR:-http://deb.debian.org/debian}"

# ensure_debian RELEASE: glitchtip-aio-test/debian:RELEASE from a debootstrap of Debian's archive.
# One build per release at a time: two fixture builds at once (two scenarios, a test beside a
# bench) would otherwise debootstrap into the same directory and both fail.
ensure_debian() {
    mkdir -p "$cache_dir"
    (
        flock 9
        ensure_debian_locked "$1"
    ) 9>"$cache_dir/rootfs-$1.lock"
}

ensure_debian_locked() {
    local release="$1" image="glitchtip-aio-test/debian:$1" rootfs="$cache_dir/rootfs-$1"
    if docker image inspect "$image" >/dev/null 2>&1; then
        log "base image $image present"
        return
    fi
    # debootstrap writes this file last: its presence means a complete rootfs.
    if [ -x "$rootfs/usr/bin/apt-get" ] && [ -f "$rootfs/var/log/bootstrap.log" ] \
        && [ ! -e "$rootfs/debootstrap" ]; then
        log "reusing cached rootfs $rootfs"
    else
        command -v debootstrap >/dev/null || {
            log "debootstrap is missing (apt-get install debootstrap)"; exit 1; }
        [ "$(id -u)" -eq 0 ] || { log "debootstrap needs root"; exit 1; }
        log "debootstrap $release into $rootfs (about a minute)"
        rm -rf "$rootfs"
        debootstrap --variant=minbase "$release" "$rootfs" "$mirror" >/dev/null
    fi
    log "importing $rootfs as $image"
    tar -C "$rootfs" -c . | docker import - "$image" >/dev/null
}

# sha256 over (path, executable bit, content) of every file of a directory (bytecode left out).
dir_digest() {
    (
        cd "$1"
        find . -type f ! -name '*.pyc' ! -path '*/__pycache__/*' -print0 \
            | LC_ALL=C sort -z \
            | while IFS= read -r -d '' f; do
                if [ -x "$f" ]; then mode=x; else mode=-; fi
                printf '%s %s %s\n' "$(sha256sum <"$f" | cut -d' ' -f1)" "$mode" "$f"
            done
    ) | sha256sum | cut -d' ' -f1
}

# ensure_fixture_image TAG DIR LABEL BUILD_ARG [--build-arg K=V]...: build DIR as TAG unless
# TAG's LABEL already holds the digest of the directory and of the build arguments; the
# Dockerfile turns BUILD_ARG into that label. With FIXTURE_PIP_CA=1 the host's CA bundle is
# added to a copy of the context as pip-ca.crt (PyPI is reached through a TLS proxy here); it
# is not part of the digest.
ensure_fixture_image() {
    local tag="$1" dir="$2" label="$3" build_arg="$4" digest current context
    shift 4
    digest="$( { dir_digest "$dir"; printf '%s\n' "$@"; } | sha256sum | cut -d' ' -f1)"
    if docker image inspect "$tag" >/dev/null 2>&1; then
        current="$(docker image inspect --format "{{ index .Config.Labels \"$label\" }}" "$tag")"
        if [ "$current" = "$digest" ]; then
            log "$tag up to date (digest ${digest:0:12})"
            return
        fi
        log "$tag is stale (digest ${current:0:12} != ${digest:0:12}); rebuilding"
    else
        log "building $tag (digest ${digest:0:12})"
    fi
    context="$dir"
    if [ "${FIXTURE_PIP_CA:-0}" = 1 ]; then
        context="$(mktemp -d)"
        cp -a "$dir/." "$context/"
        cp /etc/ssl/certs/ca-certificates.crt "$context/pip-ca.crt"
    fi
    docker build -q --build-arg "$build_arg=$digest" "$@" -t "$tag" "$context" >/dev/null
    [ "$context" = "$dir" ] || rm -rf "$context"
    log "built $tag"
}
