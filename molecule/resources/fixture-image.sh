# Sourced by the build-*.sh fixture scripts: rebuild a fixture image only when the files of
# its directory changed. The caller defines log().

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

# ensure_fixture_image TAG DIR LABEL BUILD_ARG: build DIR as TAG unless TAG's LABEL already holds
# the directory's digest; the Dockerfile turns BUILD_ARG into that label.
ensure_fixture_image() {
    local tag="$1" dir="$2" label="$3" build_arg="$4" digest current
    digest="$(dir_digest "$dir")"
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
    docker build --build-arg "$build_arg=$digest" -t "$tag" "$dir"
    log "built $tag"
}
