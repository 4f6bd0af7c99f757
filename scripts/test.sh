#!/usr/bin/env bash
# One command on a fresh Debian/Ubuntu machine: set up, then run the whole test
# suite: lint, unit tests, and the molecule scenarios on the real Docker engine.
set -euo pipefail
cd "$(dirname "$0")/.."
scripts/setup.sh --test
export PATH="$PWD/.venv/bin:$PATH"
export ANSIBLE_COLLECTIONS_PATH="$PWD/collections"

# Each step says when it starts (minutes since the suite began): where CI's time goes is in its log.
step() { printf '\n==== [%dm%02ds] %s\n' $((SECONDS / 60)) $((SECONDS % 60)) "$*"; }

# side_by_side LABEL COMMAND [LABEL COMMAND]...: the commands (bash -c, this environment) all at once,
# each into a log of its own; when every one has ended, the logs one after the other in the order
# given, each under its label with its exit status and wall time. Fails when one did. For steps that
# assert no timing (no prober's gap, no window) and share no container, port or directory: on 2
# cores one waits on a container or a download while the other computes.
side_by_side() {
  local logs i=0 status=0 rc took labels=()
  logs="$(mktemp -d /tmp/glitchtip-aio-ci-logs.XXXXXX)"
  while [ $# -ge 2 ]; do
    labels+=("$1")
    ( start=$SECONDS; rc=0; bash -c "set -euo pipefail; $2" >"$logs/$i.log" 2>&1 || rc=$?
      echo "$rc $((SECONDS - start))" >"$logs/$i.rc" ) &
    i=$((i + 1))
    shift 2
  done
  wait
  for i in "${!labels[@]}"; do
    read -r rc took <"$logs/$i.rc"
    printf '\n---- %s (side by side): exit %s after %dm%02ds\n' "${labels[$i]}" "$rc" $((took / 60)) $((took % 60))
    cat "$logs/$i.log"
    [ "$rc" = 0 ] || status=1
  done
  rm -rf "$logs"
  return "$status"
}

# The unit tests beside the other static checks (each mostly one core): 1m59s here, 2m09s-2m54s of CI
# serially.
# lowest-ansible.sh: requires_ansible's floor in a virtualenv of its own (made once, ~20 s); molecule
# default runs the playbooks with it too (test_lowest_ansible_core.py).
step "unit tests, beside ansible-lint (production profile), the lowest ansible-core's unit tests, ansible-test sanity (the built collection) and the changelog check"
side_by_side \
  "unit tests" "python -m pytest -q tests/unit" \
  "ansible-lint, lowest ansible-core, sanity, changelog (CHANGELOG.md is what antsibull-changelog generates)" \
  "ansible-lint --profile production; scripts/lowest-ansible.sh; scripts/sanity.sh
   antsibull-changelog lint; antsibull-changelog generate; git diff --exit-code -- CHANGELOG.md"

# 6.2-broken too: the scenarios run side by side below then only find their images, none builds one.
step "test fixtures: the GlitchTip 5.2 (trixie and bookworm), 6.2 and 6.2-broken stand-in base images, the SFTP and S3 repository servers (built once, then cached)"
molecule/resources/build-standin.sh 5.2 5.2-bookworm 6.2 6.2-broken
molecule/resources/build-offsite-servers.sh

# The README's own commands with the defaults a new user gets (container glitchtip-aio, port 8000,
# /srv/glitchtip-aio), a second run, health.yml, and the installed collection tarball; beside it the
# upgrades, first as the newest paths, so a failure shows early in the log. Side by side: none
# asserts a timing (pgupgrade's 100 ms prober asserts what answers, and prints the gap). Measured on
# 2 cores: 6m38s side by side; serially upgrade 4m27s and pgupgrade 4m43s, the README's path 2m00s.
# upgrade: 5.2 -> 6.2-broken (rolled back) -> 6.2 -> refused downgrade -> downgrade to a named backup,
# on one host. pgupgrade: PostgreSQL 15 (bookworm stand-in) to 17 (trixie) by changing only
# glitchtip_image_base: check mode, auto-upgrade off, a broken upgrade rolled back, the upgrade under
# a 100 ms prober, the reverse refused.
# offsite: backups copied to real SFTP and S3 servers (restic), a failed copy, a wrong key, retention,
# a lost host recovered from S3, a corrupted repository refused; it asserts no timing either.
step "side by side: the README's path (scripts/deploy.sh -i inventories/local, again, health.yml, the tarball); molecule upgrade (version changes); molecule pgupgrade (PostgreSQL-major upgrade by dump and restore); molecule offsite (off-host copies)"
side_by_side \
  "the README's path" "python -m pytest -v -s tests/userpath" \
  "molecule upgrade" "molecule test --scenario-name upgrade" \
  "molecule pgupgrade" "molecule test --scenario-name pgupgrade" \
  "molecule offsite" "molecule test --scenario-name offsite"

step "molecule: default (deploy on the local Docker engine)"
molecule test --scenario-name default

# GlitchTip 6.x: the whole default sequence on the 6.2 stand-in (the real django-vtasks runworker),
# its own container, image, data directory and port.
step "molecule: glitchtip6 (GlitchTip 6.x: runworker --scheduler, granian, health-check file)"
molecule test --scenario-name glitchtip6
step "molecule: glitchtip6-postgres (GlitchTip 6.x without Valkey/Redis: the queue in PostgreSQL)"
molecule test --scenario-name glitchtip6-postgres

# Several hosts on this machine sharing external PostgreSQL 15 (older than the image's client 17)
# and Redis stand-ins.
step "molecule: multihost (web1, web2, worker1 + external services on the local Docker engine)"
molecule test --scenario-name multihost
step "molecule: multihost6 (GlitchTip 6.x: web1, two worker hosts whose schedulers share one lock)"
molecule test --scenario-name multihost6

step "all passed"
