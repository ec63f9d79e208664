#!/usr/bin/env bash
# bench/disk/run.sh: raw → qcow2 conversion speed of pkg/qcow2 against
# `qemu-img convert`, plain and compressed, on one 1 GiB sparse raw image
# holding ~300 MB of data. Prints times, MB/s of data and the ratio.
# Then the same for a FAT32 ESP (against mkfs.vfat + mcopy) and an ISO (against
# xorriso). Needs qemu-img, dosfstools, mtools, xorriso. Results go in
# bench/disk/RESULTS.md by hand.
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

# ESP: pkg/vfat against mkfs.vfat + mcopy, 512 MiB with ~95 MiB of boot files.
esp="$tmp/esp"
mkdir -p "$esp/EFI/BOOT" "$esp/ostree/debian-1" "$esp/loader/entries"
head -c 3M /dev/urandom >"$esp/EFI/BOOT/BOOTX64.EFI"
head -c 12M /dev/urandom >"$esp/ostree/debian-1/vmlinuz-6.12"
find /usr/lib -type f -size +100k | sort | head -2000 | xargs cat 2>/dev/null | head -c 80M >"$esp/ostree/debian-1/initramfs-6.12.img" || true
echo "title Debian" >"$esp/loader/entries/ostree-1.conf"
t0=$(now)
mkfs.vfat -F 32 -n ESP -C "$tmp/mkfs.img" 524288 >/dev/null
mcopy -s -i "$tmp/mkfs.img" "$esp"/* ::/
t1=$(now)
"$tmp/disk" esp "$esp" "$tmp/vfat.img" 512
t2=$(now)
fsck.vfat -n "$tmp/vfat.img" >/dev/null
awk -v q="$(echo "$t1 - $t0" | bc)" -v d="$(echo "$t2 - $t1" | bc)" 'BEGIN {
  printf "esp        mkfs.vfat+mcopy %6.2f s | debatom %6.2f s | time ratio debatom/tools %.2f\n", q, d, d / q }'

# ISO: pkg/iso9660 against xorriso, the same tree plus a 64 MiB boot image.
"$tmp/disk" esp "$esp/EFI" "$tmp/efiboot.img" 64
mkdir -p "$esp/boot" && mv "$tmp/efiboot.img" "$esp/boot/efiboot.img"
t0=$(now)
xorriso -as mkisofs -quiet -R -J -e boot/efiboot.img -no-emul-boot -o "$tmp/xorriso.iso" "$esp" 2>/dev/null
t1=$(now)
"$tmp/disk" iso "$esp" "$tmp/debatom.iso" boot/efiboot.img
t2=$(now)
awk -v q="$(echo "$t1 - $t0" | bc)" -v d="$(echo "$t2 - $t1" | bc)" \
    -v qs="$(stat -c %s "$tmp/xorriso.iso")" -v ds="$(stat -c %s "$tmp/debatom.iso")" 'BEGIN {
  printf "iso        xorriso %6.2f s %5d MiB | debatom %6.2f s %5d MiB | time ratio debatom/xorriso %.2f\n", q, qs / 1048576, d, ds / 1048576, d / q }'
