#!/usr/bin/env bash
# [RUNS=N] bench/disk-image/run.sh REPO REF: commit → bootable qcow2, debatom against
# the chain it replaces, on the same commit in one run:
#   ostree admin init-fs --modern / os-init / pull-local / deploy into a dir,
#   mkfs.ext4 -d, mkfs.vfat + mcopy (systemd-boot, entry, kernel), sfdisk,
#   dd into place, qemu-img convert.
# Wall time is what the ratio uses; the CPU time (user + system of the
# processes each side ran, from bash's `times`) is printed too, since wall
# time on a shared machine is noisy. With RUNS=N, N rounds and the
# fastest of each side.
# Then debatom's ext4 writer alone (MB/s of file content). Needs root (the
# chain writes real owners), ostree, e2fsprogs, dosfstools, mtools, fdisk,
# qemu-utils. Results go into RESULTS.md by hand.
set -euo pipefail
repo=$(realpath "$1") ref=$2
cd "$(dirname "$0")/../.."
tmp=$(mktemp -d)
# ostree marks deployments immutable (chattr +i); lift that before removing.
trap 'chattr -R -i "$tmp" 2>/dev/null; rm -rf "$tmp"' EXIT
go build -o "$tmp/disk-image" ./bench/disk-image
now() { date +%s.%N; }
# cpu sets $cpu to the user + system seconds of all finished child
# processes. `times` must run in this shell: a subshell has no children.
cpu() {
  times >"$tmp/times"
  cpu=$(awk 'NR == 2 { split($1, u, /[ms]/); split($2, s, /[ms]/); printf "%.3f", u[1] * 60 + u[2] + s[1] * 60 + s[2] }' "$tmp/times")
}

# One run of each side, debatom first; both leave their image in $tmp.
debatom() { "$tmp/disk-image" qcow2 "$repo" "$ref" "$tmp/debatom.qcow2"; }
# clean removes the chain's files of the round before and waits for the
# file system to settle (the removal and the last round's images would
# otherwise still be in the journal and being written back while the next
# round is timed); it is not timed.
clean() {
  chattr -R -i "$tmp/sysroot" 2>/dev/null || true
  rm -rf "$tmp/sysroot" "$tmp/esp" "$tmp"/*.img "$tmp/disk.raw" "$tmp/chain.qcow2"
  sync
}
chain() {
  sr="$tmp/sysroot"
  mkdir -p "$sr"
  ostree admin init-fs --modern "$sr" >/dev/null
  ostree admin os-init debian --sysroot="$sr" >/dev/null
  ostree --repo="$sr/ostree/repo" pull-local "$repo" "$ref" >/dev/null
  ostree admin deploy --sysroot="$sr" --os=debian --karg=root=LABEL=root --karg=rw \
    --karg=console=tty0 --karg=console=ttyS0,115200 "$ref" >/dev/null
  used=$(du -sm "$sr" | cut -f1)
  root_mb=$(( (used * 3 / 2 + 2048 + 127) / 128 * 128 ))
  truncate -s "${root_mb}M" "$tmp/root.img"
  mkfs.ext4 -q -L root -d "$sr" "$tmp/root.img"
  esp="$tmp/esp"
  mkdir -p "$esp/EFI/BOOT" "$esp/loader"
  dep=$(ls -d "$sr"/ostree/deploy/debian/deploy/*.0)
  cp "$dep/usr/lib/systemd/boot/efi/systemd-bootx64.efi" "$esp/EFI/BOOT/BOOTX64.EFI"
  cp -r "$sr/boot/loader/entries" "$esp/loader/"
  cp -r "$sr/boot/ostree" "$esp/"
  mkfs.vfat -F 32 -n ESP -C "$tmp/esp.img" 524288 >/dev/null
  mcopy -s -i "$tmp/esp.img" "$esp"/* ::/
  disk_mb=$(( 1 + 512 + root_mb + 1 ))
  truncate -s "${disk_mb}M" "$tmp/disk.raw"
  sfdisk -q "$tmp/disk.raw" <<SFDISK
label: gpt
start=1MiB, size=512MiB, type=C12A7328-F81F-11D2-BA4B-00A0C93EC93B, name=ESP
start=513MiB, size=${root_mb}MiB, type=4F68BCE3-E8CD-4DB1-96E7-FBCAF984B709, name=root
SFDISK
  dd if="$tmp/esp.img" of="$tmp/disk.raw" bs=1M seek=1 conv=notrunc,sparse status=none
  dd if="$tmp/root.img" of="$tmp/disk.raw" bs=1M seek=513 conv=notrunc,sparse status=none
  qemu-img convert -O qcow2 "$tmp/disk.raw" "$tmp/chain.qcow2"
}

# RUNS (default 1) rounds, each side once per round so that both see the
# same load; on a shared machine the fastest round of each side is the
# figure least disturbed by others.
for round in $(seq "${RUNS:-1}"); do
  clean
  cpu; c0=$cpu t0=$(now)
  debatom
  t1=$(now); cpu; c1=$cpu
  chain
  t2=$(now); cpu; c2=$cpu
  awk -v r="$round" -v d="$(echo "$t1 - $t0" | bc)" -v c="$(echo "$t2 - $t1" | bc)" \
      -v ds="$(du -m "$tmp/debatom.qcow2" | cut -f1)" -v cs="$(du -m "$tmp/chain.qcow2" | cut -f1)" \
      -v dc="$(echo "$c1 - $c0" | bc)" -v cc="$(echo "$c2 - $c1" | bc)" -v load="$(cut -d' ' -f1 /proc/loadavg)" 'BEGIN {
    printf "round %d, load %s: commit → qcow2: tool chain %6.2f s (%d MiB) | debatom %6.2f s (%d MiB) | time ratio debatom/chain %.2f\n", r, load, c, cs, d, ds, d / c
    printf "round %d: CPU (user + system): tool chain %6.2f s | debatom %6.2f s | ratio %.2f\n", r, cc, dc, dc / cc }' | tee -a "$tmp/rounds"
done
if [ "${RUNS:-1}" -gt 1 ]; then
  awk '/time ratio/ { c = $10; d = $16; if (!mc || c < mc) mc = c; if (!md || d < md) md = d }
       /CPU/ { c = $9; d = $13; if (!mcc || c < mcc) mcc = c; if (!mdc || d < mdc) mdc = d }
       END { printf "fastest rounds: tool chain %.2f s, debatom %.2f s, ratio %.2f; CPU %.2f s, %.2f s, ratio %.2f\n", mc, md, md / mc, mcc, mdc, mdc / mcc }' "$tmp/rounds"
fi
"$tmp/disk-image" ext4 "$repo" "$ref" "$tmp/root-debatom.img"
