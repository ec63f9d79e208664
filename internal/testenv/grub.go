package testenv

import (
	"archive/tar"
	"bytes"
	"errors"
	"io"
	"os/exec"
	"path/filepath"
	"testing"
)

// SignedGRUB returns a file of /usr/lib/grub/x86_64-efi-signed from
// Debian's signed GRUB package in the test archive (e.g.
// "grubx64.efi.signed"), read with the real dpkg-deb so that a bug in
// pkg/deb cannot hide behind a boot test.
func SignedGRUB(t testing.TB, name string) []byte {
	t.Helper()
	archive := Archive(t)
	dpkgDeb := Tool(t, "dpkg-deb")
	debs, _ := filepath.Glob(filepath.Join(archive, "pool/main/g/grub-efi-amd64-signed/grub-efi-amd64-signed_*_amd64.deb"))
	if len(debs) == 0 {
		t.Fatal("grub-efi-amd64-signed is not in the test archive")
	}
	out, err := exec.Command(dpkgDeb, "--fsys-tarfile", debs[0]).Output()
	if err != nil {
		t.Fatalf("dpkg-deb --fsys-tarfile %s: %v", debs[0], err)
	}
	want := "./usr/lib/grub/x86_64-efi-signed/" + name
	var file []byte
	var readErr error
	err = TarFiles(bytes.NewReader(out), func(h *tar.Header, body io.Reader) error {
		if h.Name != want {
			return nil
		}
		file, readErr = io.ReadAll(body)
		return errFound
	})
	if !errors.Is(err, errFound) {
		t.Fatalf("%s not found in %s (%v)", want, debs[0], err)
	}
	if readErr != nil {
		t.Fatalf("%s in %s: %v", want, debs[0], readErr)
	}
	return file
}

// errFound stops a TarFiles walk once it has what it looked for.
var errFound = errors.New("found")
