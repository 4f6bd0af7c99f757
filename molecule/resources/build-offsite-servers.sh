#!/usr/bin/env bash
# Build the off-host backup repository stand-ins (TEST FIXTURES, see offsite/README.md):
#   glitchtip-aio-test/sftp  from offsite/sftp/  (Debian trixie openssh-server, internal-sftp only)
#   glitchtip-aio-test/s3    from offsite/s3/    (moto's S3 server from PyPI, over TLS)
# both FROM glitchtip-aio-test/debian:trixie (made here when missing). Each is rebuilt only
# when the files of its directory changed (label org.glitchtip-aio.service-digest), so a
# repeat run costs nothing. The keys and the certificate are the test's, mounted at run time.
#
# Environment: GLITCHTIP_AIO_CACHE, DEBIAN_MIRROR as for build-standin.sh.
set -euo pipefail

here="$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)"
digest_label="org.glitchtip-aio.service-digest"

log() { printf 'build-offsite-servers: %s\n' "$*"; }
# shellcheck source=fixture-image.sh
. "$here/fixture-image.sh"

ensure_debian trixie
ensure_fixture_image glitchtip-aio-test/sftp "$here/offsite/sftp" "$digest_label" SERVICE_DIGEST
FIXTURE_PIP_CA=1 ensure_fixture_image glitchtip-aio-test/s3 "$here/offsite/s3" "$digest_label" SERVICE_DIGEST
