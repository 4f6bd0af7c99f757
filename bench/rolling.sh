#!/usr/bin/env bash
# Rolling re-deploy figures (issue 10), printed as a table (measured, never asserted here):
# the multihost scenario (web1, web2, worker1, external PostgreSQL/Redis) converged, then its
# rolling test: every container replaced one host at a time while both webs are probed; each
# web's down window and the longest gap a load balancer in front of both would see.
# Needs: scripts/setup.sh --test done. Leaves nothing behind (molecule destroy).
set -euo pipefail
cd "$(dirname "$0")/.."
export PATH="$PWD/.venv/bin:$PATH" ANSIBLE_COLLECTIONS_PATH="$PWD/collections"
trap 'molecule destroy --scenario-name multihost >/dev/null 2>&1 || true' EXIT
molecule destroy --scenario-name multihost >/dev/null 2>&1 || true
molecule converge --scenario-name multihost >/dev/null
PYTEST_ADDOPTS="-s -q -k test_rolling_redeploy" molecule verify --scenario-name multihost 2>&1 \
    | grep -E '^\|' || { echo "the rolling test printed no figures (did it fail?)" >&2; exit 1; }
