#!/bin/sh
# redis-server in the foreground on every address, append-only file in /data,
# password $REDIS_PASSWORD when set. The configuration goes into a file only this
# user can read, so the password is never on a command line (ps would show it),
# and redis-server replaces the shell as PID 1 so it gets docker's SIGTERM and
# saves before it exits. Any other command
# (redis-cli ...) runs as given, so the image is also the test's Redis client.
set -eu

if [ "${1:-}" != "redis-server" ]; then
    exec "$@"
fi

config() {
    echo "bind * -::*"
    echo "port 6379"
    echo "dir /data"
    echo "appendonly yes"
    echo "daemonize no"
    echo "logfile \"\""
    if [ -n "${REDIS_PASSWORD:-}" ]; then
        # Inside double quotes redis unescapes \\ and \" only: escape those two.
        escaped=$(printf '%s' "$REDIS_PASSWORD" | sed -e 's/\\/\\\\/g' -e 's/"/\\"/g')
        # printf, not echo: dash's echo would undo the backslash escaping.
        printf 'requirepass "%s"\n' "$escaped"
        echo "protected-mode no"
    fi
}

umask 077
config >/tmp/redis.conf
exec redis-server /tmp/redis.conf
