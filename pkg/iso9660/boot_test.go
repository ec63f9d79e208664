package iso9660

import (
	"archive/tar"
	"bytes"
	"context"
	"io"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"sync"
	"testing"
	"testing/fstest"
	"time"

	"github.com/debatom/debatom/internal/testenv"
)

// signedGRUB returns grubx64.efi.signed from Debian's signed GRUB package
// in the test archive, read with dpkg-deb.
func signedGRUB(t *testing.T) []byte {
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
			t.Fatalf("grubx64.efi.signed not found in %s: %v", debs[0], err)
		}
		if h.Name == "./usr/lib/grub/x86_64-efi-signed/grubx64.efi.signed" {
			b, err := io.ReadAll(tr)
			if err != nil {
				t.Fatal(err)
			}
			return b
		}
	}
}

// watchWriter collects console output and reports when marker appears.
type watchWriter struct {
	mu     sync.Mutex
	buf    bytes.Buffer
	marker string
	found  chan struct{}
	once   sync.Once
}

func (w *watchWriter) Write(p []byte) (int, error) {
	w.mu.Lock()
	defer w.mu.Unlock()
	w.buf.Write(p)
	if strings.Contains(w.buf.String(), w.marker) {
		w.once.Do(func() { close(w.found) })
	}
	return len(p), nil
}

// TestBootUEFI boots a hybrid ISO under OVMF, as a CD-ROM and as a disk:
// the firmware must find the El Torito UEFI entry or the GPT's ESP, read
// the FAT image (pkg/vfat) behind it, and start GRUB, which runs the
// grub.cfg it finds.
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
	const marker = "DEBATOM-ISO-OK"
	cfg := "echo " + marker + "\nhalt\n"
	tree := fstest.MapFS{
		"boot/efiboot.img":    {Data: espImage(t, signedGRUB(t), cfg)},
		"EFI/debian/grub.cfg": {Data: []byte(cfg)},
		"README.txt":          {Data: []byte("boot test\n")},
	}
	img := writeISO(t, tree, Options{VolumeID: "DEBATOM_TEST", Time: buildTime, EFIBootImage: "boot/efiboot.img", Hybrid: true})
	// The same hybrid image as a CD-ROM (El Torito) and as a USB disk (GPT).
	for name, drive := range map[string][]string{
		"cdrom": {"-cdrom", img},
		"disk":  {"-drive", "file=" + img + ",format=raw,if=virtio,snapshot=on"},
	} {
		t.Run(name, func(t *testing.T) { bootGRUB(t, qemu, ovmf, drive, marker) })
	}
}

// bootGRUB boots OVMF with the given drive and waits for marker.
func bootGRUB(t *testing.T, qemu, ovmf string, drive []string, marker string) {
	ctx, cancel := context.WithTimeout(context.Background(), 4*time.Minute)
	defer cancel()
	// TCG: nested KVM trips over OVMF on some hosts.
	args := append([]string{"-machine", "q35,accel=tcg", "-m", "256", "-nographic", "-no-reboot",
		"-net", "none", "-bios", ovmf}, drive...)
	cmd := exec.CommandContext(ctx, qemu, args...)
	console := &watchWriter{marker: marker, found: make(chan struct{})}
	cmd.Stdout, cmd.Stderr = console, console
	start := time.Now()
	if err := cmd.Start(); err != nil {
		t.Fatal(err)
	}
	done := make(chan error, 1)
	go func() { done <- cmd.Wait() }()
	select {
	case <-console.found:
		t.Logf("GRUB ran from the ESP image after %v", time.Since(start).Round(time.Second))
		cmd.Process.Kill()
		<-done
	case err := <-done:
		console.mu.Lock()
		defer console.mu.Unlock()
		if !strings.Contains(console.buf.String(), marker) {
			s := console.buf.String()
			t.Fatalf("GRUB did not run from the ESP image (qemu: %v); console:\n%s", err, s[max(0, len(s)-3000):])
		}
	}
}
