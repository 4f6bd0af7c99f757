#!/usr/bin/env bash
# Deploy figures for issue 2 (and, through bench/restart.py, bench/ingest.py and bench/backup.py,
# issues 3, 10 and 4), printed as tables (measured, never asserted):
#   cold deploy wall time, no-op re-deploy wall time and changed count,
#   container start -> healthy, size the AIO layers add over the base image.
# BENCH_VARS adds -e settings to compare (e.g. BENCH_VARS="glitchtip_image_web_preload=false").
# Uses its own container, image name, data dir and port; removes them at the end.
# Needs: scripts/setup.sh --test done, the stand-in base (molecule/resources/build-standin.sh).
set -euo pipefail
cd "$(dirname "$0")/.."
export PATH="$PWD/.venv/bin:$PATH" ANSIBLE_COLLECTIONS_PATH="$PWD/collections"

base=${BENCH_BASE_IMAGE:-glitchtip-aio-test/glitchtip-standin:5.2}
name=glitchtip-aio-bench
data=/tmp/glitchtip-aio-bench
port=18900
vars=(-e "glitchtip_image_base=$base" -e glitchtip_image_pull_base=never -e glitchtip_host_manage_docker=false
      -e "glitchtip_data_dir=$data" -e "glitchtip_container_name=$name" -e "glitchtip_image_name=$name"
      -e "glitchtip_container_web_host_port=$port" -e glitchtip_container_web_host_address=127.0.0.1)
for setting in ${BENCH_VARS:-}; do vars+=(-e "$setting"); done

cleanup() {
  docker rm -f "$name" >/dev/null 2>&1 || true
  docker images --format '{{.Repository}}:{{.Tag}}' "$name" | xargs -r docker rmi -f >/dev/null 2>&1 || true
  rm -rf "$data"
}
trap cleanup EXIT
cleanup
molecule/resources/build-standin.sh >/dev/null

now() { date +%s.%N; }
calc() { python3 -c "print(round($1, 1))"; }
deploy() { ansible-playbook deploy.yml -i inventories/local "${vars[@]}" > "$1" 2>&1; }
changed() { grep -Eo 'changed=[0-9]+' "$1" | tail -n 1 | cut -d= -f2; }

log=$(mktemp -d)
t0=$(now); deploy "$log/cold.log"; t1=$(now)
cold=$(calc "$t1 - $t0")
t0=$(now); deploy "$log/noop.log"; t1=$(now)
noop=$(calc "$t1 - $t0"); noop_changed=$(changed "$log/noop.log")

# Start -> healthy: restart the container and poll the same health check the deploy waits on.
healthy_times=()
for _ in 1 2 3; do
  docker stop "$name" >/dev/null
  t0=$(now); docker start "$name" >/dev/null
  until docker exec "$name" /usr/local/bin/aio health --quiet --component supervisor --component postgres \
        --component redis --component web --component worker 2>/dev/null; do sleep 0.1; done
  t1=$(now); healthy_times+=("$(calc "$t1 - $t0")")
done

image_size=$(docker image inspect "$name:latest" --format '{{.Size}}')
base_size=$(docker image inspect "$base" --format '{{.Size}}')
added_mb=$(calc "($image_size - $base_size) / 1e6")

printf '\n| measure | value | target |\n|---|---|---|\n'
printf '| cold deploy (build + first start) | %.1f s | - |\n' "$cold"
printf '| no-op re-deploy | %.1f s, changed=%s | <= 10 s, 0 |\n' "$noop" "$noop_changed"
printf '| container start -> healthy (3 runs) | %s s | <= 20 s |\n' "$(printf '%.1f ' "${healthy_times[@]}")"
printf '| size added over the base image | %s MB | <= 200 MB |\n' "$added_mb"
printf '\nbase image: %s (%s MB); logs in %s\n' "$base" "$(calc "$base_size / 1e6")" "$log"

printf '\n'
python3 bench/restart.py "$name" "http://127.0.0.1:$port"

if [ "${BENCH_SKIP_INGEST:-}" != "1" ]; then
  printf '\n'
  python3 bench/ingest.py "$name" "http://127.0.0.1:$port" 30 8 32
fi

# Last: it replaces the bench container's data with a generated database of >= 1 GiB.
if [ "${BENCH_SKIP_BACKUP:-}" != "1" ]; then
  printf '\n'
  python3 bench/backup.py "$name" "${BENCH_BACKUP_ROWS:-750000}"
fi
