#!/usr/bin/env bash
# Time `debatom commit` against `ostree commit` on the same real Debian root
# filesystem, archive and bare-user modes, in one run, and print the ratios.
# Both must produce the same commit checksum, or the run fails.
#
#   bash bench/ostree/run.sh [ROOTFS]
#
# Without ROOTFS, every .deb of $DEBATOM_TEST_ARCHIVE (default
# ../shared/debian-archive) is unpacked as root into a temp dir first
# (dpkg-deb --fsys-tarfile | tar -xp --same-owner), not timed.
# RUNS (default 2) repetitions per tool and mode; the fastest counts, since
# on a shared machine noise only ever adds time.
set -euo pipefail
cd "$(dirname "$0")/../.."
runs=${RUNS:-2}
work=$(mktemp -d)
trap 'rm -rf "$work"' EXIT

go build -o "$work/debatom" ./cmd/debatom

rootfs=${1:-}
if [ -z "$rootfs" ]; then
  archive=${DEBATOM_TEST_ARCHIVE:-$(cd .. && pwd)/shared/debian-archive}
  rootfs=$work/rootfs
  mkdir "$rootfs"
  find "$archive/pool" -name '*.deb' | sort | while read -r deb; do
    dpkg-deb --fsys-tarfile "$deb" | tar -x -p --same-owner --numeric-owner --keep-directory-symlink -C "$rootfs"
  done
fi
files=$(find "$rootfs" -type f | wc -l)
size=$(du -sm "$rootfs" | cut -f1)
echo "tree: $rootfs, $files files, $size MB; $(nproc) cores; load $(cut -d' ' -f1-3 /proc/loadavg)"
sync

stamp=2024-05-06T07:08:09Z
# measure TOOL MODE: prints "wall user+sys checksum" of the fastest run.
measure() {
  local tool=$1 mode=$2 best="" i repo out t csum
  for i in $(seq "$runs"); do
    repo=$work/repo-$tool-$mode-$i
    if [ "$tool" = ostree ]; then
      ostree init --repo="$repo" --mode="$mode"
      cmd=(ostree commit --repo="$repo" --branch=bench --timestamp=$stamp --subject=bench "$rootfs")
    else
      m=$mode; [ "$m" = archive-z2 ] && m=archive
      cmd=("$work/debatom" commit --repo "$repo" --mode "$m" --branch bench --timestamp $stamp --subject bench "$rootfs")
    fi
    out=$( { /usr/bin/time -f '%e %U %S' "${cmd[@]}" >"$work/csum"; } 2>&1 | tail -1)
    csum=$(cat "$work/csum")
    t=$(awk '{printf "%.2f %.2f", $1, $2+$3}' <<<"$out")
    if [ -z "$best" ] || awk -v a="${t%% *}" -v b="${best%% *}" 'BEGIN{exit !(a<b)}'; then best=$t; fi
    rm -rf "$repo"
  done
  echo "$best $csum"
}

printf '%-11s %-8s %9s %9s  %s\n' mode tool wall_s cpu_s commit
for mode in archive-z2 bare-user; do
  read -r ow oc osum < <(measure ostree $mode)
  read -r dw dc dsum < <(measure debatom $mode)
  printf '%-11s %-8s %9s %9s  %s\n' $mode ostree "$ow" "$oc" "$osum" $mode debatom "$dw" "$dc" "$dsum"
  if [ "$osum" != "$dsum" ]; then echo "FAIL: checksums differ in $mode" >&2; exit 1; fi
  awk -v m=$mode -v ow="$ow" -v dw="$dw" -v oc="$oc" -v dc="$dc" \
    'BEGIN{printf "%-11s ratio    wall %.1fx, cpu %.1fx faster\n", m, ow/dw, oc/dc}'
done
