#!/usr/bin/env bash
# bench/disk/run.sh: raw → qcow2 conversion speed of pkg/qcow2 against
# `qemu-img convert`, plain and compressed, on one 1 GiB sparse raw image
# holding ~300 MB of data. Prints times, MB/s of data and the ratio.
# Needs qemu-img. Results go in bench/disk/RESULTS.md by hand.
set -euo pipefail
cd "$(dirname "$0")/../.."
tmp=$(mktemp -d)
trap 'rm -rf "$tmp"' EXIT

go build -o "$tmp/disk" ./bench/disk
"$tmp/disk" mkraw "$tmp/disk.raw"
data_mb=$(du -m "$tmp/disk.raw" | cut -f1)
# Warm the page cache for both tools alike.
cat "$tmp/disk.raw" >/dev/null

now() { date +%s.%N; }
for mode in plain compressed; do
  flag=""
  [ "$mode" = compressed ] && flag="-c"
  t0=$(now)
  qemu-img convert -f raw -O qcow2 $flag "$tmp/disk.raw" "$tmp/qemu.qcow2"
  t1=$(now)
  "$tmp/disk" convert $flag "$tmp/disk.raw" "$tmp/debatom.qcow2" 2>/dev/null
  t2=$(now)
  qemu-img compare -q "$tmp/disk.raw" "$tmp/debatom.qcow2"
  awk -v mode="$mode" -v mb="$data_mb" -v q="$(echo "$t1 - $t0" | bc)" -v d="$(echo "$t2 - $t1" | bc)" \
      -v qs="$(stat -c %s "$tmp/qemu.qcow2")" -v ds="$(stat -c %s "$tmp/debatom.qcow2")" 'BEGIN {
    printf "%-10s qemu-img %6.2f s %7.1f MB/s %5d MiB | debatom %6.2f s %7.1f MB/s %5d MiB | time ratio debatom/qemu-img %.2f\n",
      mode, q, mb / q, qs / 1048576, d, mb / d, ds / 1048576, d / q }'
done
