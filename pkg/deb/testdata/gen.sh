#!/bin/sh
# Regenerates bzip2.deb and lzma.deb: .debs whose members use compressions
# that Go's libraries cannot write. Needs GNU tar, bzip2, xz and ar.
set -eu
cd "$(dirname "$0")"
tmp=$(mktemp -d)
trap 'rm -rf "$tmp"' EXIT
mkdir "$tmp/c" "$tmp/d"
printf 'Package: fixture\nVersion: 1\nArchitecture: all\n' >"$tmp/c/control"
printf 'hello\n' >"$tmp/d/hello"
printf '2.0\n' >"$tmp/debian-binary"
t="--sort=name --mtime=@1700000000 --owner=0 --group=0 --numeric-owner --format=gnu"
tar $t -C "$tmp/c" -cf "$tmp/control.tar" ./control
tar $t -C "$tmp/d" -cf "$tmp/data.tar" .
for c in bzip2 lzma; do
  case $c in
  bzip2) ext=bz2; z="bzip2 -c" ;;
  lzma) ext=lzma; z="xz --format=lzma -c" ;;
  esac
  $z "$tmp/control.tar" >"$tmp/control.tar.$ext"
  $z "$tmp/data.tar" >"$tmp/data.tar.$ext"
  rm -f "$c.deb"
  (cd "$tmp" && ar rcD "$OLDPWD/$c.deb" debian-binary "control.tar.$ext" "data.tar.$ext")
  rm "$tmp/control.tar.$ext" "$tmp/data.tar.$ext"
done
