#!/bin/bash
# Installs the server and its systemd unit: install.sh BINARY DESTDIR PREFIX UNITDIR
#   BINARY   the built rendezvous-server
#   DESTDIR  staging root ("" installs into the live system)
#   PREFIX   the binary goes to PREFIX/bin; the unit's ExecStart is rewritten to that path
#   UNITDIR  where the unit goes (make install: PREFIX/lib/systemd/system, which systemd reads
#            for /usr/local as well; the Debian package: /lib/systemd/system)
# Used by `make install` and `make deb`; the binary is stripped of its debug information.
set -euo pipefail
binary=$1 destdir=$2 prefix=$3 unitdir=$4
here=$(cd "$(dirname "$0")" && pwd)

install -d "$destdir$prefix/bin" "$destdir$unitdir"
install -m 0755 "$binary" "$destdir$prefix/bin/rendezvous-server"
strip --strip-debug "$destdir$prefix/bin/rendezvous-server"
sed "s|/usr/bin/rendezvous-server|$prefix/bin/rendezvous-server|g" \
  "$here/rendezvous.service" > "$destdir$unitdir/rendezvous.service"
chmod 0644 "$destdir$unitdir/rendezvous.service"
