package iso9660

import (
	"context"
	"regexp"
	"testing"
	"testing/fstest"
	"time"

	"github.com/debatom/debatom/internal/testenv"
)

// TestBootUEFI boots a hybrid ISO under OVMF, as a CD-ROM and as a disk:
// the firmware must find the El Torito UEFI entry or the GPT's ESP, read
// the FAT image (pkg/vfat) behind it, and start GRUB, which runs the
// grub.cfg it finds.
func TestBootUEFI(t *testing.T) {
	if testing.Short() {
		t.Skip("boots a virtual machine")
	}
	testenv.Tool(t, "qemu-system-x86_64")
	testenv.OVMF(t)
	const marker = "DEBATOM-ISO-OK"
	cfg := "echo " + marker + "\nhalt\n"
	tree := fstest.MapFS{
		"boot/efiboot.img":    {Data: espImage(t, testenv.SignedGRUB(t, "grubx64.efi.signed"), cfg)},
		"EFI/debian/grub.cfg": {Data: []byte(cfg)},
		"README.txt":          {Data: []byte("boot test\n")},
	}
	img := writeISO(t, tree, Options{VolumeID: "DEBATOM_TEST", Time: buildTime, EFIBootImage: "boot/efiboot.img", Hybrid: true})
	// The same hybrid image as a CD-ROM (El Torito) and as a USB disk (GPT).
	for name, o := range map[string]testenv.VMOptions{
		"cdrom": {CDROM: img},
		"disk":  {Disks: []testenv.Disk{{File: img, Format: "raw", Snapshot: true}}},
	} {
		t.Run(name, func(t *testing.T) {
			o.UEFI, o.NoReboot = true, true
			ctx, cancel := context.WithTimeout(context.Background(), 4*time.Minute)
			defer cancel()
			vm := testenv.StartVM(ctx, t, o)
			if _, err := vm.Expect(regexp.MustCompile(marker), 4*time.Minute); err != nil {
				t.Fatalf("GRUB did not run from the ESP image: %v", err)
			}
			t.Logf("GRUB ran from the ESP image after %v", vm.Elapsed().Round(time.Second))
		})
	}
}
