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

# molecule test of each scenario named, all at once, each into a log of its own; when every one has
# ended, the logs one after the other in the order given, each with its wall time. Fails when one did.
# For scenarios whose tests assert no timing (no prober's gap, no window) and that share no container,
# port or directory: on 2 cores, one waits on containers starting while the other runs Ansible.
molecule_side_by_side() {
  local logs name status=0
  logs="$(mktemp -d /tmp/glitchtip-aio-ci-logs.XXXXXX)"
  for name in "$@"; do
    ( start=$SECONDS; rc=0; molecule test --scenario-name "$name" >"$logs/$name.log" 2>&1 || rc=$?
      echo "$rc $((SECONDS - start))" >"$logs/$name.rc" ) &
  done
  wait
  for name in "$@"; do
    read -r rc took <"$logs/$name.rc"
    printf '\n---- molecule %s (side by side): exit %s after %dm%02ds\n' "$name" "$rc" $((took / 60)) $((took % 60))
    cat "$logs/$name.log"
    [ "$rc" = 0 ] || status=1
  done
  rm -rf "$logs"
  return "$status"
}

step "ansible-lint (production profile)"
ansible-lint --profile production

step "unit tests"
python -m pytest -q tests/unit

# requires_ansible's floor in a virtualenv of its own (made once, ~20 s); molecule default runs the
# playbooks with it too (test_lowest_ansible_core.py).
step "unit tests on the lowest ansible-core meta/runtime.yml claims"
scripts/lowest-ansible.sh

step "ansible-test sanity (the built collection)"
scripts/sanity.sh

step "changelog: CHANGELOG.md is what antsibull-changelog generates"
antsibull-changelog lint
antsibull-changelog generate
git diff --exit-code -- CHANGELOG.md

# 6.2-broken too: the scenarios run side by side below then only find their images, none builds one.
step "test fixtures: the GlitchTip 5.2 (trixie and bookworm), 6.2 and 6.2-broken stand-in base images (built once, then cached)"
molecule/resources/build-standin.sh 5.2 5.2-bookworm 6.2 6.2-broken

# The README's own commands with the defaults a new user gets (container glitchtip-aio, port
# 8000, /srv/glitchtip-aio), a second run, health.yml, and the installed collection tarball.
step "the README's path: scripts/deploy.sh -i inventories/local, again, health.yml, the tarball"
python -m pytest -v -s tests/userpath

# The upgrades first: the newest paths, so a failure shows early in the log. Side by side: neither
# asserts a timing (pgupgrade's 100 ms prober asserts what answers, and prints the gap), and serially
# they took 13m40s of CI (upgrade 6m13s, pgupgrade 7m27s).
# upgrade: 5.2 -> 6.2-broken (rolled back) -> 6.2 -> refused downgrade -> downgrade to a named backup,
# on one host. pgupgrade: PostgreSQL 15 (bookworm stand-in) to 17 (trixie) by changing only
# glitchtip_image_base: check mode, auto-upgrade off, a broken upgrade rolled back, the upgrade under
# a 100 ms prober, the reverse refused.
step "molecule: upgrade and pgupgrade side by side (version changes; PostgreSQL-major upgrade by dump and restore)"
molecule_side_by_side upgrade pgupgrade

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
