#!/usr/bin/env bash
# Set up a fresh Debian/Ubuntu machine (as root) to deploy and test glitchtip-aio:
# the Docker engine (started if nothing runs it), debootstrap for the test
# fixture, and a virtualenv in .venv with the pinned Python requirements.
#   scripts/setup.sh            deploy requirements
#   scripts/setup.sh --test     plus the test suite's
set -euo pipefail
cd "$(dirname "$0")/.."
requirements=requirements.txt
[ "${1:-}" = "--test" ] && requirements=requirements-test.txt

log() { printf 'setup: %s\n' "$*"; }

[ "$(id -u)" -eq 0 ] || { log "run as root (it installs packages and starts Docker)"; exit 1; }

missing=()
command -v dockerd >/dev/null || missing+=(docker.io)
command -v debootstrap >/dev/null || missing+=(debootstrap)
python3 -c 'import ensurepip, venv' 2>/dev/null || missing+=(python3-venv)
# The push test's loopback registry (molecule/resources/registry.py).
[ "$requirements" = requirements-test.txt ] && ! command -v docker-registry >/dev/null && missing+=(docker-registry)
if [ ${#missing[@]} -gt 0 ]; then
  log "installing ${missing[*]}"
  apt-get update -qq
  DEBIAN_FRONTEND=noninteractive apt-get install -y -qq --no-install-recommends "${missing[@]}" >/dev/null
fi

if ! docker info >/dev/null 2>&1; then
  if command -v systemctl >/dev/null && systemctl is-system-running >/dev/null 2>&1; then
    systemctl start docker
  else
    log "starting dockerd (no systemd here); its log is /var/log/dockerd.log"
    nohup dockerd >/var/log/dockerd.log 2>&1 &
  fi
  for _ in $(seq 1 60); do docker info >/dev/null 2>&1 && break; sleep 1; done
  docker info >/dev/null 2>&1 || { log "Docker did not come up; see /var/log/dockerd.log"; exit 1; }
fi
log "Docker $(docker version --format '{{.Server.Version}}') is running"

if [ ! -x .venv/bin/python ]; then
  python3 -m venv .venv
fi
stamp=".venv/.installed-$(sha256sum requirements*.txt | sha256sum | cut -c1-16)-$(basename "$requirements")"
if [ ! -f "$stamp" ]; then
  log "installing $requirements into .venv"
  .venv/bin/pip install -q --upgrade pip
  .venv/bin/pip install -q -r "$requirements"
  touch "$stamp"
fi
# The whole output, then its first line: `| head` would close the pipe on ansible mid-write.
version="$(.venv/bin/ansible --version)"
log "ready: ${version%%$'\n'*}"
