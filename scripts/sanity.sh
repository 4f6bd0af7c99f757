#!/usr/bin/env bash
# ansible-test sanity on the collection as built: the tarball, installed into a temporary
# ansible_collections tree (ansible-test runs only from inside one). Every test that can run
# here; tests/sanity/ignore-2.19.txt says why each of its entries is there.
set -euo pipefail
cd "$(dirname "$0")/.."
export PATH="$PWD/.venv/bin:$PATH"
work="$(mktemp -d)"
trap 'rm -rf "$work"' EXIT

ansible-galaxy collection build --force --output-path "$work" >/dev/null
ansible-galaxy collection install --no-deps --force -p "$work/collections" "$work"/glitchtip-aio-*.tar.gz >/dev/null

# Each sanity test's virtualenv gets pip from a bootstrap script ansible-test downloads from a host
# outside PyPI; the stand-in does the same from ensurepip and PyPI (a real download, if cached, wins).
pip_version="$(python -c 'from ansible_test._internal.python_requirements import get_venv_packages as p
print(p(type("Python", (), {"version": "3.11"})())["pip"])')"
cache="$HOME/.ansible/test/cache/get_pip_${pip_version//./_}.py"
if [ ! -f "$cache" ]; then
  mkdir -p "$(dirname "$cache")"
  cp scripts/ansible-test-get-pip.py "$cache"
fi

cd "$work/collections/ansible_collections/glitchtip/aio"
python_version="$(python -c 'import sys; print("%d.%d" % sys.version_info[:2])')"
ansible-test sanity --local --python "$python_version" --color no "$@"
