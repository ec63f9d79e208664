#!/usr/bin/env bash
# bench/ext4/run.sh: writing a ~200 MB tree as an ext4 image with pkg/ext4
# against `mkfs.ext4 -d`, same tree, same image size, page cache warm.
# Both images are then checked with e2fsck -fn. Needs e2fsprogs.
# Results go in bench/ext4/RESULTS.md by hand.
set -euo pipefail
cd "$(dirname "$0")/../.."
tmp=$(mktemp -d)
trap 'rm -rf "$tmp"' EXIT

go build -o "$tmp/ext4" ./bench/ext4
"$tmp/ext4" mktree "$tmp/tree"
data_mb=$(du -sm --apparent-size "$tmp/tree" | cut -f1)
files=$(find "$tmp/tree" | wc -l)
size=$((1 << 30))
tar -cf - -C "$tmp" tree >/dev/null   # warm the page cache

now() { date +%s.%N; }
for run in 1 2 3; do
  rm -f "$tmp/mkfs.img" "$tmp/debatom.img"
  t0=$(now)
  truncate -s "$size" "$tmp/mkfs.img"
  mkfs.ext4 -q -F -b 4096 -L bench -d "$tmp/tree" "$tmp/mkfs.img"
  sync -f "$tmp/mkfs.img"
  t1=$(now)
  "$tmp/ext4" build -size "$size" "$tmp/tree" "$tmp/debatom.img" 2>/dev/null
  t2=$(now)
  awk -v mb="$data_mb" -v n="$files" -v m="$(echo "$t1 - $t0" | bc)" -v d="$(echo "$t2 - $t1" | bc)" 'BEGIN {
    printf "%d MB, %d paths: mkfs.ext4 -d %6.2f s %7.1f MB/s | pkg/ext4 %6.2f s %7.1f MB/s | time ratio pkg/ext4/mkfs %.2f\n",
      mb, n, m, mb / m, d, mb / d, d / m }'
done
e2fsck -fn "$tmp/mkfs.img" >/dev/null
e2fsck -fn "$tmp/debatom.img" >/dev/null
echo "both images pass e2fsck -fn"
