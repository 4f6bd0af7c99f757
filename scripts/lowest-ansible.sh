#!/usr/bin/env bash
# The lowest ansible-core that meta/runtime.yml claims (requires_ansible: ">=X"), tested: CI pins
# the newest 2.19 (requirements.txt), so the claimed floor gets its own virtualenv, outside the
# checkout (nothing for ansible-lint, git or the collection build to pick up), made once.
#   scripts/lowest-ansible.sh          the virtualenv, then the unit tests that run Ansible's code:
#                                      every module's main(), the filter and test plugins, the roles'
#                                      variable checks
#   scripts/lowest-ansible.sh --venv   the virtualenv only; prints its bin directory
# molecule/default's test_lowest_ansible_core.py runs the playbooks with that ansible-playbook.
set -euo pipefail
cd "$(dirname "$0")/.."

lowest="$(sed -n 's/^requires_ansible: *">=\([0-9][0-9.]*\)".*/\1/p' meta/runtime.yml)"
[ -n "$lowest" ] || { echo "lowest-ansible: no requires_ansible: \">=X.Y.Z\" in meta/runtime.yml" >&2; exit 1; }
# When the floor is the ansible-core requirements.txt pins, every step of the suite already runs it:
# a second virtualenv would repeat them (minutes of CI) and prove nothing more.
pinned="$(sed -n 's/^ansible-core==\([0-9.]*\).*/\1/p' requirements.txt)"
if [ "$lowest" = "$pinned" ]; then
  if [ "${1:-}" = "--venv" ]; then
    echo "$PWD/.venv/bin"
  else
    echo "lowest-ansible: the claimed floor $lowest is the pinned ansible-core: the whole suite tests it"
  fi
  exit 0
fi
venv="${XDG_CACHE_HOME:-$HOME/.cache}/glitchtip-aio/ansible-core-$lowest"
# The tested pins of everything else (the Docker SDK the modules use, pytest, supervisor's parser
# for the render tests), so only ansible-core differs from the main virtualenv.
pins=("ansible-core==$lowest")
for package in docker requests pytest supervisor; do
  pins+=("$(grep -h -m1 "^$package==" requirements.txt requirements-test.txt | sed 's/ *#.*//')")
done
stamp="$venv/.installed-$(printf '%s\n' "${pins[@]}" | sha256sum | cut -c1-16)"
if [ ! -f "$stamp" ]; then
  echo "lowest-ansible: installing ${pins[*]} into $venv" >&2
  rm -rf "$venv"
  # The main virtualenv's interpreter: the same Python as every other test (ansible-core 2.19 needs 3.11+).
  .venv/bin/python -m venv "$venv"
  "$venv/bin/pip" install -q "${pins[@]}"
  touch "$stamp"
fi
if [ "${1:-}" = "--venv" ]; then
  echo "$venv/bin"
  exit 0
fi

"$venv/bin/ansible" --version | sed -n 1p
# The unit tests where ansible-core's version matters: every module's main() (tests/unit/plugins), the
# filter and test plugins (render, version_change; secrets, also through ansible-playbook runs of the
# container role) and the roles' variable checks with Ansible's own tests (validate). test_templates
# renders the whole build context through ansible-playbook (minutes on 2 cores): the molecule test's
# converge --check on this ansible-core renders it too.
PATH="$venv/bin:$PATH" ANSIBLE_COLLECTIONS_PATH="$PWD/collections" \
  "$venv/bin/python" -m pytest -q -p no:cacheprovider tests/unit/plugins tests/unit/test_render.py \
  tests/unit/test_secrets.py tests/unit/test_version_change.py tests/unit/test_validate.py
