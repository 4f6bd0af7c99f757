#!/usr/bin/env bash
# One command on a fresh Debian/Ubuntu machine: set up, then deploy.
#   scripts/deploy.sh                              # inventories/local, this machine
#   scripts/deploy.sh      -i inventories/et       # another inventory
#   scripts/deploy.sh      -e glitchtip_image_base=registry.example.com/glitchtip:v5.2
# Arguments are passed to ansible-playbook; -i defaults to inventories/local.
set -euo pipefail
cd "$(dirname "$0")/.."
scripts/setup.sh
export PATH="$PWD/.venv/bin:$PATH"
case " $* " in
  *" -i "*|*" --inventory"*) exec ansible-playbook deploy.yml "$@" ;;
  *) exec ansible-playbook deploy.yml -i inventories/local "$@" ;;
esac
