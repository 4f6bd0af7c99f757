#!/bin/bash
# moto_server on 127.0.0.1:5000 (plain HTTP) behind stunnel, which speaks TLS on port 443 with
# the certificate the test makes and mounts read-only in /certs (cert.pem: the server
# certificate, its SAN the name clients use, e.g. the container name; key.pem: its key,
# readable by uid 2001). stunnel, not moto's own --ssl-cert: werkzeug closes a TLS connection
# without close_notify (Python's SSLSocket.shutdown drops the TLS layer first), which
# OpenSSL 3 clients such as pgBackRest report as "unexpected eof while reading" after every
# PUT. State is in memory only: stopping the container loses every bucket. When either process
# exits the container exits. Any other command runs as given (e.g. `python3 -c 'import boto3
# ...'` against http://127.0.0.1:5000 to make the bucket or re-put an object).
set -euo pipefail

if [ "${1:-}" != "moto_server" ]; then
    exec "$@"
fi

for f in /certs/cert.pem /certs/key.pem; do
    [ -r "$f" ] || { echo "entrypoint: $f missing or unreadable (mount the test's certificate on /certs)" >&2; exit 2; }
done
cat >/tmp/stunnel.conf <<'CONF'
foreground = yes
pid =
output = /dev/stderr
[s3]
accept = 443
connect = 127.0.0.1:5000
cert = /certs/cert.pem
key = /certs/key.pem
CONF
moto_server -H 127.0.0.1 -p 5000 &
stunnel4 /tmp/stunnel.conf &
# Either one exiting ends the container (the other is killed with it).
wait -n
status=$?
kill $(jobs -p) 2>/dev/null || true
exit "$status"
