package qcow2_test

import (
	"archive/tar"
	"bytes"
	"context"
	"io"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"testing"
	"testing/fstest"
	"time"

	"github.com/debatom/debatom/internal/testenv"
	"github.com/debatom/debatom/pkg/gpt"
	"github.com/debatom/debatom/pkg/qcow2"
	"github.com/debatom/debatom/pkg/vfat"
)

// signedGRUB returns a file of Debian's signed GRUB EFI package from the
// test archive, read with dpkg-deb.
func signedGRUB(t *testing.T, name string) []byte {
	t.Helper()
	archive := testenv.Archive(t)
	dpkgDeb := testenv.Tool(t, "dpkg-deb")
	debs, _ := filepath.Glob(filepath.Join(archive, "pool/main/g/grub-efi-amd64-signed/grub-efi-amd64-signed_*_amd64.deb"))
	if len(debs) == 0 {
		t.Fatal("grub-efi-amd64-signed is not in the test archive")
	}
	out, err := exec.Command(dpkgDeb, "--fsys-tarfile", debs[0]).Output()
	if err != nil {
		t.Fatalf("dpkg-deb --fsys-tarfile %s: %v", debs[0], err)
	}
	tr := tar.NewReader(bytes.NewReader(out))
	for {
		h, err := tr.Next()
		if err != nil {
			t.Fatalf("%s not found in %s: %v", name, debs[0], err)
		}
		if h.Name == "./usr/lib/grub/x86_64-efi-signed/"+name {
			b, err := io.ReadAll(tr)
			if err != nil {
				t.Fatal(err)
			}
			return b
		}
	}
}

// TestBootUEFI is the end-to-end oracle for the disk formats: a GPT disk
// whose ESP (pkg/vfat) holds Debian's signed GRUB, converted to qcow2, is
// booted by OVMF under QEMU. GRUB finds its grub.cfg on the ESP and prints
// a marker, which only happens if the firmware read the partition table,
// the FAT file system and the qcow2 image correctly.
func TestBootUEFI(t *testing.T) {
	if testing.Short() {
		t.Skip("boots a virtual machine")
	}
	qemu := testenv.Tool(t, "qemu-system-x86_64")
	const ovmf = "/usr/share/ovmf/OVMF.fd"
	if _, err := os.Stat(ovmf); err != nil {
		if testenv.Strict() {
			t.Fatalf("OVMF firmware: %v (apt-get install ovmf)", err)
		}
		t.Skip("no OVMF firmware")
	}
	grub := signedGRUB(t, "grubx64.efi.signed")
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
	args := []string{"-machine", "q35,accel=tcg", "-m", "256", "-nographic", "-no-reboot", "-net", "none",
		"-bios", ovmf, "-drive", "file=" + img + ",format=qcow2,if=virtio,snapshot=on"}
	cmd := exec.CommandContext(ctx, qemu, args...)
	var console bytes.Buffer
	cmd.Stdout, cmd.Stderr = &console, &console
	start := time.Now()
	err = cmd.Run()
	t.Logf("QEMU ran %v", time.Since(start).Round(time.Second))
	if !strings.Contains(console.String(), "DEBATOM-ESP-OK") {
		t.Fatalf("GRUB did not run from the ESP (qemu: %v); console:\n%s", err, tail(console.String(), 3000))
	}
}

func tail(s string, n int) string {
	if len(s) > n {
		return s[len(s)-n:]
	}
	return s
}
