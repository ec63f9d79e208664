package ext4

import (
	"context"
	"crypto/sha256"
	"encoding/hex"
	"fmt"
	"io"
	"os"
	"os/exec"
	"path"
	"path/filepath"
	"strings"
	"testing"

	"github.com/debatom/debatom/internal/testenv"
)

// smallImage builds a 16 MiB image with a little of everything, as the
// fuzz target's base.
func smallImage(t testing.TB) *memImage {
	t.Helper()
	opts := testOptions()
	opts.Size = 16 << 20
	b := NewBuilder(opts)
	b.AddFile("etc/hostname", 0o644, 0, 0, []Xattr{{"user.a", []byte("b")}}, 8, bytesOpen([]byte("debatom\n")))
	b.AddFile("etc/big", 0o644, 0, 0, []Xattr{{"user.big", make([]byte, 200)}}, 50000, gen(50000, 1, 1))
	b.Symlink("etc/fast", "hostname", 0, 0, nil)
	b.Symlink("etc/slow", strings.Repeat("s", 100), 0, 0, nil)
	b.Hardlink("etc/link", "etc/hostname")
	for i := range 300 {
		b.AddFile(fmt.Sprintf("dir/entry-%03d", i), 0o600, 1, 1, nil, 0, nil)
	}
	m := newMemImage()
	if _, err := b.Write(context.Background(), m); err != nil {
		t.Fatal(err)
	}
	return m
}

// patched overlays patch at off on a base image.
type patched struct {
	base  io.ReaderAt
	off   int64
	patch []byte
}

func (p *patched) ReadAt(b []byte, off int64) (int, error) {
	n, err := p.base.ReadAt(b, off)
	lo, hi := max(off, p.off), min(off+int64(len(b)), p.off+int64(len(p.patch)))
	if lo < hi {
		copy(b[lo-off:hi-off], p.patch[lo-p.off:hi-p.off])
	}
	return n, err
}

// zeroExtended reads data and zeros beyond it, like a sparse file.
type zeroExtended []byte

func (z zeroExtended) ReadAt(b []byte, off int64) (int, error) {
	clear(b)
	if off < int64(len(z)) {
		copy(b, z[off:])
	}
	return len(b), nil
}

// exercise walks everything the reader can reach, with bounds so that a
// hostile image cannot make it run long.
func exercise(r *Reader) {
	budget := 300
	var walk func(in *Inode, depth int)
	walk = func(in *Inode, depth int) {
		if budget--; budget < 0 || depth > 8 {
			return
		}
		r.Xattrs(in)
		switch {
		case in.IsDir() && in.Size < 1<<20:
			ents, err := r.ReadDir(in)
			if err != nil {
				return
			}
			for _, e := range ents {
				if e.Name == "." || e.Name == ".." {
					continue
				}
				if c, err := r.Inode(e.Ino); err == nil {
					walk(c, depth+1)
				}
			}
		case in.IsSymlink():
			r.Readlink(in)
		case in.IsRegular():
			if in.Size < 1<<20 {
				r.ReadFile(in, io.Discard)
			}
		}
	}
	if root, err := r.Inode(rootIno); err == nil {
		walk(root, 0)
	}
	r.Lookup("etc/hostname")
	r.Lookup("dir/entry-123")
}

func FuzzReader(f *testing.F) {
	base := smallImage(f)
	f.Add(uint32(1024), []byte{0}, false)
	f.Add(uint32(4096), []byte{0xff, 0xff}, false)
	f.Add(uint32(0x1000*5+0x28), []byte{0x0a, 0xf3, 1, 0, 4, 0, 9, 0}, false)
	head := make([]byte, 8192)
	base.ReadAt(head, 0)
	f.Add(uint32(0), head, true)
	f.Fuzz(func(t *testing.T, off uint32, patch []byte, raw bool) {
		var ra io.ReaderAt
		if raw {
			ra = zeroExtended(patch)
		} else {
			// Aim patches at the metadata (the first 256 blocks) most
			// of the time.
			o := int64(off) % (16 << 20)
			if off&1 == 0 {
				o = int64(off) % (256 * blockSize)
			}
			ra = &patched{base: base, off: o, patch: patch}
		}
		r, err := NewReader(ra)
		if err != nil {
			return
		}
		exercise(r)
	})
}

// TestReaderOnMkfs reads an image that mkfs.ext4 -d made, so the reader
// is checked against the real tool and not only against this writer.
func TestReaderOnMkfs(t *testing.T) {
	mkfs := testenv.Tool(t, "mkfs.ext4")
	src := t.TempDir()
	files := map[string]string{
		"etc/hostname":   "debatom\n",
		"usr/lib/a.so":   strings.Repeat("ELF", 100000),
		"usr/share/x.md": "",
	}
	for p, c := range files {
		os.MkdirAll(filepath.Join(src, path.Dir(p)), 0o755)
		if err := os.WriteFile(filepath.Join(src, p), []byte(c), 0o640); err != nil {
			t.Fatal(err)
		}
	}
	for i := range 400 {
		os.WriteFile(filepath.Join(src, "usr/share", fmt.Sprintf("doc-%03d", i)), []byte(fmt.Sprint(i)), 0o644)
	}
	os.Symlink("usr/lib", filepath.Join(src, "lib"))
	img := filepath.Join(t.TempDir(), "mkfs.img")
	if out, err := exec.Command(mkfs, "-q", "-F", "-L", "ref", "-d", src, img, "64M").CombinedOutput(); err != nil {
		t.Fatalf("mkfs.ext4: %v\n%s", err, out)
	}
	fh, err := os.Open(img)
	if err != nil {
		t.Fatal(err)
	}
	defer fh.Close()
	r, err := NewReader(fh)
	if err != nil {
		t.Fatal(err)
	}
	if r.Label != "ref" {
		t.Errorf("label %q", r.Label)
	}
	for p, c := range files {
		in, err := r.Lookup(p)
		if err != nil {
			t.Fatal(err)
		}
		h := sha256.New()
		if err := r.ReadFile(in, h); err != nil {
			t.Fatal(err)
		}
		if hex.EncodeToString(h.Sum(nil)) != sum([]byte(c)) || in.Mode&0o777 != 0o640 {
			t.Errorf("%s: content or mode %#o differ", p, in.Mode)
		}
	}
	in, err := r.Lookup("usr/share")
	if err != nil {
		t.Fatal(err)
	}
	ents, err := r.ReadDir(in)
	if err != nil || len(ents) != 403 {
		t.Errorf("usr/share: %d entries, %v; want 403", len(ents), err)
	}
	in, err = r.Lookup("lib")
	if err != nil {
		t.Fatal(err)
	}
	if target, err := r.Readlink(in); target != "usr/lib" || err != nil {
		t.Errorf("lib -> %q, %v", target, err)
	}
}

// TestReaderRejects feeds hand-broken images and wants one-line errors.
func TestReaderRejects(t *testing.T) {
	base := smallImage(t)
	tests := []struct {
		name  string
		off   int64
		patch []byte
		want  string
	}{
		{"magic", 1024 + 0x38, []byte{0, 0}, "bad superblock magic"},
		{"sb-checksum", 1024 + 0x10, []byte{9}, "superblock checksum"},
		{"block-size", 1024 + 0x18, []byte{40}, "block size"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			_, err := NewReader(&patched{base: base, off: tt.off, patch: tt.patch})
			if err == nil || !strings.Contains(err.Error(), tt.want) || strings.Contains(err.Error(), "\n") {
				t.Errorf("error %v, want one line with %q", err, tt.want)
			}
		})
	}
	// A corrupted inode fails its checksum.
	r, err := NewReader(base)
	if err != nil {
		t.Fatal(err)
	}
	in, err := r.Lookup("etc/hostname")
	if err != nil {
		t.Fatal(err)
	}
	d := make([]byte, descSize)
	base.ReadAt(d, blockSize)
	table := int64(get32(d, 0x08))
	off := table*blockSize + int64(in.Ino-1)*inodeSize + 4
	r2, _ := NewReader(&patched{base: base, off: off, patch: []byte{0xEE}})
	if _, err := r2.Inode(in.Ino); err == nil || !strings.Contains(err.Error(), "checksum") {
		t.Errorf("corrupted inode: %v, want a checksum error", err)
	}
}
