package qcow2_test

import (
	"context"
	"io"
	"os"
	"path/filepath"
	"regexp"
	"testing"
	"testing/fstest"
	"time"

	"github.com/debatom/debatom/internal/testenv"
	"github.com/debatom/debatom/pkg/gpt"
	"github.com/debatom/debatom/pkg/qcow2"
	"github.com/debatom/debatom/pkg/vfat"
)

// TestBootUEFI is the end-to-end oracle for the disk formats: a GPT disk
// whose ESP (pkg/vfat) holds Debian's signed GRUB, converted to qcow2, is
// booted by OVMF under QEMU. GRUB finds its grub.cfg on the ESP and prints
// a marker, which only happens if the firmware read the partition table,
// the FAT file system and the qcow2 image correctly.
func TestBootUEFI(t *testing.T) {
	if testing.Short() {
		t.Skip("boots a virtual machine")
	}
	testenv.Tool(t, "qemu-system-x86_64")
	testenv.OVMF(t)
	grub := testenv.SignedGRUB(t, "grubx64.efi.signed")
	esp := fstest.MapFS{
		"EFI/BOOT/BOOTX64.EFI":  {Data: grub},
		"EFI/debian/grub.cfg":   {Data: []byte("echo DEBATOM-ESP-OK\nhalt\n")},
		"loader/entries/x.conf": {Data: []byte("title unused\n")},
	}

	const diskSize, espSize = 128 << 20, 64 << 20
	dir := t.TempDir()
	raw := filepath.Join(dir, "disk.raw")
	f, err := os.Create(raw)
	if err != nil {
		t.Fatal(err)
	}
	defer f.Close()
	if err := f.Truncate(diskSize); err != nil {
		t.Fatal(err)
	}
	espFirst := gpt.AlignLBA(gpt.FirstUsableLBA)
	espLast := espFirst + espSize/gpt.SectorSize - 1
	table := gpt.Table{
		DiskGUID: gpt.DeriveGUID("boot-test/disk"),
		Partitions: []gpt.Partition{
			{Type: gpt.TypeEFISystem, GUID: gpt.DeriveGUID("boot-test/esp"), Name: "ESP", FirstLBA: espFirst, LastLBA: espLast},
			{Type: gpt.TypeLinuxRootAMD64, GUID: gpt.DeriveGUID("boot-test/root"), Name: "root", FirstLBA: espLast + 1, LastLBA: gpt.LastUsableLBA(diskSize)},
		},
	}
	if err := gpt.Write(f, diskSize, table); err != nil {
		t.Fatal(err)
	}
	espW := io.NewOffsetWriter(f, int64(espFirst)*gpt.SectorSize)
	if err := vfat.Write(context.Background(), espW, esp, vfat.Options{Size: espSize, VolumeID: 0xDEBA7000, Label: "ESP", HiddenSectors: uint32(espFirst)}); err != nil {
		t.Fatal(err)
	}
	src, err := qcow2.FileSource(f)
	if err != nil {
		t.Fatal(err)
	}
	img := filepath.Join(dir, "disk.qcow2")
	out, err := os.Create(img)
	if err != nil {
		t.Fatal(err)
	}
	if err := qcow2.Write(context.Background(), out, src, qcow2.Options{Compress: true}); err != nil {
		t.Fatal(err)
	}
	if err := out.Close(); err != nil {
		t.Fatal(err)
	}

	ctx, cancel := context.WithTimeout(context.Background(), 4*time.Minute)
	defer cancel()
	vm := testenv.StartVM(ctx, t, testenv.VMOptions{UEFI: true, NoReboot: true,
		Disks: []testenv.Disk{{File: img, Format: "qcow2", Snapshot: true}}})
	if _, err := vm.Expect(regexp.MustCompile("DEBATOM-ESP-OK"), 4*time.Minute); err != nil {
		t.Fatalf("GRUB did not run from the ESP: %v", err)
	}
	t.Logf("GRUB ran from the ESP after %v", vm.Elapsed().Round(time.Second))
}
