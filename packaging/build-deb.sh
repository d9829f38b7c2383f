#!/bin/bash
# Builds the Debian package: build-deb.sh BINARY OUTDIR  ->  OUTDIR/rendezvous_<version>_<arch>.deb
# (the path is printed on the last line).
#
# The version comes from the binary itself (-version: git describe at build time), in Debian's
# syntax: 0.1.0-48-gabc1234 becomes 0.1.0+48.gabc1234. Depends is computed by dpkg-shlibdeps
# from the libraries the binary really links (package dpkg-dev); the unit is installed and
# enabled by the postinst only when systemd runs (not in a container or a chroot).
set -euo pipefail
binary=$(realpath "$1") outdir=$(realpath "$2")
here=$(cd "$(dirname "$0")" && pwd)
command -v dpkg-shlibdeps >/dev/null || { echo "dpkg-shlibdeps missing: apt-get install dpkg-dev" >&2; exit 1; }

version=$("$binary" -version | sed -n 's/^rendezvous-server //p')
[[ -n $version ]] || { echo "$binary -version printed no version" >&2; exit 1; }
deb_version=$(sed -E 's/-([0-9]+)-g/+\1.g/; s/-dirty$/.dirty/' <<<"$version")
arch=$(dpkg --print-architecture)

stage=$(mktemp -d)
trap 'rm -rf "$stage"' EXIT
root=$stage/root
"$here/install.sh" "$binary" "$root" /usr /lib/systemd/system
install -d "$root/DEBIAN"

# dpkg-shlibdeps wants to run inside a source package: give it the smallest one.
mkdir -p "$stage/debian"
printf 'Source: rendezvous\n\nPackage: rendezvous\nArchitecture: any\n' > "$stage/debian/control"
depends=$(cd "$stage" && dpkg-shlibdeps -O -e"$root/usr/bin/rendezvous-server" 2>/dev/null |
          sed -n 's/^shlibs:Depends=//p')
[[ -n $depends ]] || depends="libc6"

size=$(du -sk "$root/usr" "$root/lib" | awk '{s += $1} END {print s}')
cat > "$root/DEBIAN/control" <<CONTROL
Package: rendezvous
Version: $deb_version
Architecture: $arch
Maintainer: rendezvous maintainers <rendezvous@localhost>
Installed-Size: $size
Depends: $depends
Section: net
Priority: optional
Description: public key-value rendezvous server over HTTP
 Peers POST small values under a key and GET them back; keys expire, each
 client is rate limited, and /ip/ keys are scoped to the caller's address.
 Runs as the systemd service rendezvous.service on port 80, keeping its
 store in /var/lib/rendezvous.
CONTROL

# Harmless: only tells a running systemd about the unit and starts it; removes nothing, asks
# nothing, and does nothing inside a chroot or container without systemd.
cat > "$root/DEBIAN/postinst" <<'POSTINST'
#!/bin/sh
set -e
if [ "$1" = configure ] && [ -d /run/systemd/system ]; then
  systemctl daemon-reload || true
  systemctl enable rendezvous.service || true
  systemctl restart rendezvous.service || true
fi
exit 0
POSTINST
cat > "$root/DEBIAN/prerm" <<'PRERM'
#!/bin/sh
set -e
if [ "$1" = remove ] && [ -d /run/systemd/system ]; then
  systemctl disable --now rendezvous.service || true
fi
exit 0
PRERM
cat > "$root/DEBIAN/postrm" <<'POSTRM'
#!/bin/sh
set -e
if [ -d /run/systemd/system ]; then
  systemctl daemon-reload || true
fi
exit 0
POSTRM
chmod 0755 "$root/DEBIAN/postinst" "$root/DEBIAN/prerm" "$root/DEBIAN/postrm"

mkdir -p "$outdir"
deb=$outdir/rendezvous_${deb_version}_${arch}.deb
dpkg-deb --root-owner-group --build "$root" "$deb" >/dev/null
echo "$deb"
