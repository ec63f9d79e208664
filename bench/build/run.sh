#!/usr/bin/env bash
# Whole-command comparison, in one run on one machine, same input:
#   debatom build of the frozen archive's 213-package set (cold: packages in
#   the cache, nothing unpacked; then warm: unchanged lock)
# against
#   mmdebstrap --mode=root installing the same set + ostree commit (archive).
# Prints the times and the ratios; append the output to RESULTS.md with the date.
# Needs root, mmdebstrap and ostree; ARCHIVE defaults to ../shared/debian-archive.
set -euo pipefail
here=$(cd "$(dirname "$0")" && pwd)
top=$(cd "$here/../.." && pwd)
ARCHIVE=${ARCHIVE:-$(cd "$top/../shared/debian-archive" && pwd)}
KEYRING=${KEYRING:-/usr/share/keyrings/debian-archive-keyring.gpg}
# Both sides run on a freshly made ext4 (default mkfs options, loop-mounted)
# unless BENCH_FRESH_FS=0: file creation on a long-used filesystem depends
# on its history (ext4 without a journal, as on the build VMs, skips every
# inode deleted in the last 1-5 minutes when allocating, so a run after a
# big `rm -rf` pays seconds of system time for someone else's deletion).
# BENCH_FRESH_FS=0 runs in $TMPDIR as it is; RESULTS.md has both.
fresh=${BENCH_FRESH_FS:-1}
if [ "$fresh" = 1 ]; then
  img=$(mktemp /var/tmp/debatom-bench-XXXXXX.img)
  mnt=$(mktemp -d)
  truncate -s 16G "$img"
  mkfs.ext4 -q -F "$img"
  mount -o loop "$img" "$mnt"
  work=$(mktemp -d -p "$mnt")
  trap 'rm -rf "$work"; umount "$mnt"; rmdir "$mnt"; rm -f "$img"' EXIT
else
  work=$(mktemp -d)
  trap 'rm -rf "$work"' EXIT
fi

(cd "$top" && go build -o "$work/debatom" ./cmd/debatom)
includes=$(sed -n '/^packages:/,/dracut\]/p' "$top/pkg/compose/testdata/oracle.yaml" | tr -d '[]' | sed 's/packages://' | tr -s ' \n,' ',' | sed 's/^,//;s/,$//')
cat > "$work/tree.yaml" <<YAML
include: $top/pkg/compose/testdata/oracle.yaml
sources:
  - mirror: file://$ARCHIVE
    suite: trixie
    keyring: $KEYRING
YAML

now() { date +%s.%N; }
# measure FILE CMD...: runs CMD under GNU time, which writes
# "wall user sys maxrss_kb" to FILE. CPU seconds (user + sys) are the
# steadier figure on a shared machine; peak RSS checks the 1 GiB goal.
measure() { local out=$1; shift; /usr/bin/time -f '%e %U %S %M' -o "$out" "$@"; }
# Download once so both sides start from local packages. The warm-up's
# output stays until the end: deleting 12,000 files just before a timed run
# makes ext4's inode allocator slower for minutes (it skips recently
# deleted inodes), which would charge the deletion to the next command.
"$work/debatom" build -f "$work/tree.yaml" -o "$work/warmup" --cache "$work/cache" --quiet >/dev/null
# Cold: nothing unpacked and nothing derived from unpacked files.
rm -rf "$work/cache/unpacked" "$work/cache/boot" "$work/cache/ldcache-facts"
sync

t0=$(now)
measure "$work/cold.time" "$work/debatom" build -f "$work/tree.yaml" -o "$work/out" --cache "$work/cache" --json >"$work/cold.json"
t1=$(now)
measure "$work/warm.time" "$work/debatom" build -f "$work/tree.yaml" -o "$work/out" --cache "$work/cache" --json >"$work/warm.json"
t2=$(now)
mmdebstrap --mode=root --variant=minbase --keyring="$KEYRING" --quiet --include="$includes" trixie "$work/mm" "copy://$ARCHIVE"
t3=$(now)
ostree init --repo="$work/ostree-repo" --mode=archive
rm -rf "$work/mm/dev"/* 
ostree commit --repo="$work/ostree-repo" --branch=bench --tree=dir="$work/mm" >/dev/null
t4=$(now)

cold=$(echo "$t1 - $t0" | bc); warm=$(echo "$t2 - $t1" | bc)
mm=$(echo "$t3 - $t2" | bc); oc=$(echo "$t4 - $t3" | bc); ref=$(echo "$mm + $oc" | bc)
printf '%s  %s, %d cores, %s\n' "$(date -u +%Y-%m-%d)" "$(uname -m)" "$(nproc)" "$( [ "$fresh" = 1 ] && echo 'fresh ext4 (loop)' || echo "$(df --output=fstype "$work" | tail -1) at $work" )"
printf '  debatom build, cold (unpack+configure+initramfs+commit): %6.1f s\n' "$cold"
printf '  debatom build, warm (unchanged lock):                   %6.1f s\n' "$warm"
printf '  mmdebstrap (213 packages, root mode):                   %6.1f s\n' "$mm"
printf '  ostree commit (archive) of that tree:                   %6.1f s\n' "$oc"
printf '  ratio cold: (mmdebstrap + ostree commit) / debatom =    %6.1fx\n' "$(echo "$ref / $cold" | bc -l)"
for run in cold warm; do
  read -r _ user sys rss <"$work/$run.time"
  printf '  debatom %s: %5.1f s CPU (%.1f user + %.1f sys), peak RSS %d MB\n' "$run" "$(echo "$user + $sys" | bc)" "$user" "$sys" "$((rss / 1024))"
  # Per-stage wall times from the summary event.
  printf '    stages:'
  grep -o '"stage":"[a-z]*","elapsed_ns":[0-9]*' "$work/$run.json" | tail -7 |
    sed 's/"stage":"\([a-z]*\)","elapsed_ns":\([0-9]*\)/\1 \2/' |
    while read -r st ns; do printf ' %s %.2f' "$st" "$(echo "$ns / 1000000000" | bc -l)"; done
  printf '\n'
done
