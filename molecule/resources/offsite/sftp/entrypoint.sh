#!/bin/sh
# sshd in the foreground (logs on stderr) with the keys the test mounts read-only in /keys:
#   /keys/ssh_host_ed25519_key  the one host key (private; its .pub is not needed)
#   /keys/authorized_keys       the public key(s) user `backup` logs in with
# They are copied in with the owners and modes sshd insists on, whatever the mount's are.
# Any other command runs as given (e.g. `sh -c 'dd ... of=/srv/repo/...'` to corrupt a file).
set -eu

if [ "${1:-}" != "sshd" ]; then
    exec "$@"
fi

for f in /keys/ssh_host_ed25519_key /keys/authorized_keys; do
    [ -s "$f" ] || { echo "entrypoint: $f missing or empty (mount the test's keys on /keys)" >&2; exit 2; }
done
install -m 0600 -o root -g root /keys/ssh_host_ed25519_key /etc/ssh/ssh_host_ed25519_key
install -m 0644 -o root -g root /keys/authorized_keys /etc/ssh/authorized_keys/backup
mkdir -p /run/sshd
/usr/sbin/sshd -t
exec /usr/sbin/sshd -D -e
