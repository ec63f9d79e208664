package ext4

import (
	"bytes"
	"context"
	"crypto/sha256"
	"encoding/hex"
	"fmt"
	"io"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"syscall"
	"testing"
)

// TestKernelMount mounts an image read-only with the kernel's ext4 driver
// when this machine allows it (root and loop devices), as a second opinion
// next to e2fsck. It skips otherwise, even in CI: e2fsck is the oracle.
func TestKernelMount(t *testing.T) {
	if testing.Short() {
		t.Skip("short")
	}
	if os.Geteuid() != 0 {
		t.Skip("mounting needs root")
	}
	if _, err := os.Stat("/dev/loop-control"); err != nil {
		t.Skip("no loop devices")
	}
	mount, err := exec.LookPath("mount")
	if err != nil {
		t.Skip("no mount program")
	}
	// With the huge file, so that the kernel also reads a depth-1 extent
	// tree.
	s := buildSynthetic(t, testOptions(), true)
	img := filepath.Join(t.TempDir(), "mount.img")
	if err := s.b.WriteFile(context.Background(), img); err != nil {
		t.Fatal(err)
	}
	mnt := t.TempDir()
	if out, err := exec.Command(mount, "-o", "loop,ro", "-t", "ext4", img, mnt).CombinedOutput(); err != nil {
		t.Skipf("mount -o loop,ro refused here: %v %s", err, out)
	}
	// Should the test stop early, do not leave the image mounted (the
	// explicit unmounts below make this a no-op).
	t.Cleanup(func() { exec.Command("umount", mnt).Run() })
	umount := func() {
		t.Helper()
		if out, err := exec.Command("umount", mnt).CombinedOutput(); err != nil {
			t.Fatalf("umount: %v %s", err, out)
		}
	}
	for _, e := range s.want {
		p := filepath.Join(mnt, e.path)
		st, err := os.Lstat(p)
		if err != nil {
			t.Errorf("kernel: %v", err)
			continue
		}
		if st.Sys().(*syscall.Stat_t).Mode&0o7777 != e.mode {
			t.Errorf("kernel: %s mode %v, want %#o", e.path, st.Mode(), e.mode)
		}
		switch e.kind {
		case kindFile:
			f, err := os.Open(p)
			if err != nil {
				t.Fatal(err)
			}
			h := sha256.New()
			_, err = io.Copy(h, f)
			f.Close()
			if err != nil || hex.EncodeToString(h.Sum(nil)) != e.sha {
				t.Errorf("kernel: %s content differs (%v)", e.path, err)
			}
		case kindSymlink:
			if got, err := os.Readlink(p); got != e.target || err != nil {
				t.Errorf("kernel: %s -> %q, %v", e.path, got, err)
			}
		}
	}
	for _, name := range []string{"system.posix_acl_access", "system.posix_acl_default"} {
		buf := make([]byte, 256)
		n, err := syscall.Getxattr(filepath.Join(mnt, "srv/acl"), name, buf)
		if err != nil || !bytes.Equal(buf[:n], testACL) {
			t.Errorf("kernel: %s of srv/acl: %x, %v; want %x", name, buf[:max(n, 0)], err, testACL)
		}
	}
	for dir, n := range map[string]int{"many": 5000, "wide": 10000, "links": 3001} {
		ents, err := os.ReadDir(filepath.Join(mnt, dir))
		if err != nil || len(ents) != n {
			t.Errorf("kernel: %s has %d entries (%v), want %d", dir, len(ents), err, n)
		}
	}
	// Lookups through the htree (not readdir) for names in both trees.
	for _, p := range []string{"many/entry-04321", "many/näme-ü-04900-日本", "wide/" + strings.Repeat("w", 240) + "-07777"} {
		if _, err := os.Lstat(filepath.Join(mnt, p)); err != nil {
			t.Errorf("kernel lookup: %v", err)
		}
	}
	umount()

	// Read-write: the kernel uses the journal, the free-space counts and
	// the htree; e2fsck must still find nothing afterwards.
	if out, err := exec.Command(mount, "-o", "loop", "-t", "ext4", img, mnt).CombinedOutput(); err != nil {
		t.Fatalf("mount -o loop (read-write): %v %s", err, out)
	}
	for i := range 500 {
		if err := os.WriteFile(filepath.Join(mnt, "many", fmt.Sprintf("new-%04d", i)), []byte("new"), 0o644); err != nil {
			t.Error(err)
			break
		}
	}
	if err := os.RemoveAll(filepath.Join(mnt, "links")); err != nil {
		t.Error(err)
	}
	if err := os.WriteFile(filepath.Join(mnt, "grown"), make([]byte, 50<<20), 0o644); err != nil {
		t.Error(err)
	}
	umount()
	e2fsck(t, img)
}
