#!/usr/bin/env bash
# Times debatom's depmod and initramfs against kmod's depmod on the frozen
# Debian 13 archive. Prints wall and CPU seconds; record them in RESULTS.md
# with the date and the machine's load (uptime), since CPU time is the
# figure that survives a busy machine.
set -euo pipefail
cd "$(dirname "$0")/../.."
archive=${DEBATOM_TEST_ARCHIVE:-$PWD/../shared/debian-archive}
work=$(mktemp -d)
trap 'rm -rf "$work"' EXIT
go build -o "$work/boot" ./bench/boot

# 1. The cloud kernel alone, depmod twice: kmod, then debatom.
mkdir "$work/k"
dpkg-deb -x "$archive"/pool/main/l/linux-signed-amd64/linux-image-[0-9]*-cloud-amd64_*.deb "$work/k"
ln -s usr/lib "$work/k/lib"
kver=$(ls "$work/k/usr/lib/modules")
t() { /usr/bin/time -f "  wall %e s, cpu %U+%S s" "$@"; }
echo "depmod, $kver, $(find "$work/k" -name '*.ko*' | wc -l) modules"
echo " kmod depmod $(depmod -V | head -1 | awk '{print $3}'):"; t depmod -b "$work/k" "$kver"
mkdir "$work/kmod-out" && cp "$work/k/usr/lib/modules/$kver"/modules.* "$work/kmod-out/"
echo " debatom:"; t "$work/boot" depmod "$work/k" "$kver" >/dev/null

# 2. The whole archive unpacked; initramfs without and with depmod files.
mkdir "$work/root"
for d in $(find "$archive/pool" -name '*.deb'); do dpkg-deb -x "$d" "$work/root"; done
echo "initramfs (tree without depmod files: includes a full depmod):"
t "$work/boot" initramfs "$work/root" "$work/a.img"
"$work/boot" depmod "$work/root" "$kver" >/dev/null
echo "initramfs (tree with depmod files, as in a build):"
t "$work/boot" initramfs "$work/root" "$work/b.img"
cmp "$work/a.img" "$work/b.img" && echo " both images identical"
uptime
