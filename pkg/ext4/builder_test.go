package ext4

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"io"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"
)

// TestEmpty checks the smallest tree: the root and lost+found.
func TestEmpty(t *testing.T) {
	img := filepath.Join(t.TempDir(), "empty.img")
	b := NewBuilder(testOptions())
	planned, err := b.Size()
	if err != nil {
		t.Fatal(err)
	}
	if err := b.WriteFile(context.Background(), img); err != nil {
		t.Fatal(err)
	}
	st, err := os.Stat(img)
	if err != nil {
		t.Fatal(err)
	}
	if st.Size() != 1<<30 || planned != st.Size() {
		t.Errorf("default size %d (planned %d), want 1 GiB", st.Size(), planned)
	}
	e2fsck(t, img)
	f, err := os.Open(img)
	if err != nil {
		t.Fatal(err)
	}
	defer f.Close()
	r, err := NewReader(f)
	if err != nil {
		t.Fatal(err)
	}
	lf, err := r.Lookup("lost+found")
	if err != nil {
		t.Fatal(err)
	}
	if lf.Ino != lostFoundIno || lf.Mode != sIFDIR|0o700 || lf.Size != 4*blockSize {
		t.Errorf("lost+found: inode %d mode %#o size %d", lf.Ino, lf.Mode, lf.Size)
	}
	root, _ := r.Inode(rootIno)
	if root.Links != 3 {
		t.Errorf("root has %d links, want 3", root.Links)
	}
}

// TestSizes checks explicit sizes, including ones that leave a partial
// last group, and a small inode ratio.
func TestSizes(t *testing.T) {
	for _, tc := range []struct {
		name string
		opts func(*Options)
		size int64
	}{
		{"64MiB", func(o *Options) { o.Size = 64 << 20 }, 64 << 20},
		{"partial-group", func(o *Options) { o.Size = 300<<20 + 12345 }, 300<<20 + 3*blockSize},
		{"tiny-tail-dropped", func(o *Options) { o.Size = 256<<20 + 100*blockSize }, 256 << 20},
		{"5GiB", func(o *Options) { o.Size = 5 << 30; o.InodeRatio = 65536 }, 5 << 30},
		// The journal (256 MiB) crosses backup superblocks: an extent tree.
		{"64GiB", func(o *Options) { o.Size = 64 << 30; o.InodeRatio = 1 << 20 }, 64 << 30},
	} {
		t.Run(tc.name, func(t *testing.T) {
			opts := testOptions()
			tc.opts(&opts)
			b := NewBuilder(opts)
			if err := b.AddFile("f", 0o644, 0, 0, nil, 3, bytesOpen([]byte("abc"))); err != nil {
				t.Fatal(err)
			}
			img := filepath.Join(t.TempDir(), "img")
			if err := b.WriteFile(context.Background(), img); err != nil {
				t.Fatal(err)
			}
			st, _ := os.Stat(img)
			if st.Size() != tc.size {
				t.Errorf("size %d, want %d", st.Size(), tc.size)
			}
			e2fsck(t, img)
		})
	}
}

// TestReproducible builds the same tree twice (and once more with the
// files added in another order) and wants identical bytes; a different
// timestamp must change them.
func TestReproducible(t *testing.T) {
	build := func(opts Options) *memImage {
		s := buildSynthetic(t, opts, false)
		m := newMemImage()
		if _, err := s.b.Write(context.Background(), m); err != nil {
			t.Fatal(err)
		}
		return m
	}
	a, b := build(testOptions()), build(testOptions())
	if a.digest() != b.digest() {
		t.Fatal("two builds of the same tree differ")
	}
	// Sparse: only a small part of the 1+ GiB image is written.
	if a.writes > 64<<20 {
		t.Errorf("wrote %d MiB of a %d MiB image", a.writes>>20, a.size>>20)
	}
	opts := testOptions()
	opts.Timestamp = opts.Timestamp.Add(1)
	if build(opts).digest() == a.digest() {
		t.Error("a different timestamp gave the same image")
	}

	// Insertion order does not matter.
	add := func(b *Builder, names []string) {
		for _, n := range names {
			if err := b.AddFile(n, 0o644, 0, 0, nil, int64(len(n)), bytesOpen([]byte(n))); err != nil {
				t.Fatal(err)
			}
		}
	}
	m1, m2 := newMemImage(), newMemImage()
	b1, b2 := NewBuilder(testOptions()), NewBuilder(testOptions())
	add(b1, []string{"a/x", "b/y", "a/z"})
	add(b2, []string{"a/z", "b/y", "a/x"})
	b1.Write(context.Background(), m1)
	b2.Write(context.Background(), m2)
	if m1.digest() != m2.digest() {
		t.Error("adding the same files in another order changed the image")
	}
}

type shortReader struct{ n int }

func (s *shortReader) Read(p []byte) (int, error) {
	if s.n == 0 {
		return 0, io.EOF
	}
	k := min(len(p), s.n)
	clear(p[:k])
	p[0] = 1
	s.n -= k
	return k, nil
}

func TestBadInput(t *testing.T) {
	openErr := errors.New("object store is gone")
	tests := []struct {
		name  string
		opts  func(*Options)
		setup func(b *Builder) error
		want  string
	}{
		{"escape", nil, func(b *Builder) error {
			return b.AddFile("../etc/passwd", 0o644, 0, 0, nil, 0, nil)
		}, "leaves the root"},
		{"escape-inner", nil, func(b *Builder) error {
			return b.Mkdir("usr/../../x", 0o755, 0, 0, nil)
		}, "leaves the root"},
		{"escape-symlink-path", nil, func(b *Builder) error {
			return b.Symlink("a/../../..", "x", 0, 0, nil)
		}, "leaves the root"},
		{"nul", nil, func(b *Builder) error {
			return b.AddFile("a\x00b", 0o644, 0, 0, nil, 0, nil)
		}, "NUL"},
		{"hardlink-missing", nil, func(b *Builder) error {
			return b.Hardlink("usr/bin/x", "usr/bin/nothere")
		}, "target usr/bin/nothere: not found"},
		{"hardlink-dir", nil, func(b *Builder) error {
			b.Mkdir("d", 0o755, 0, 0, nil)
			return b.Hardlink("e", "d")
		}, "is a directory"},
		{"short-content", nil, func(b *Builder) error {
			return b.AddFile("f", 0o644, 0, 0, nil, 10000, func() (io.ReadCloser, error) {
				return io.NopCloser(&shortReader{n: 100}), nil
			})
		}, "content of /f ended after 100 bytes, 10000 declared"},
		{"long-content", nil, func(b *Builder) error {
			return b.AddFile("f", 0o644, 0, 0, nil, 10, bytesOpen(make([]byte, 11)))
		}, "longer than the 10 bytes declared"},
		{"open-fails", nil, func(b *Builder) error {
			return b.AddFile("f", 0o644, 0, 0, nil, 10, func() (io.ReadCloser, error) { return nil, openErr })
		}, "opening content of /f: object store is gone"},
		{"too-small", func(o *Options) { o.Size = 16 << 20 }, func(b *Builder) error {
			return b.AddFile("f", 0o644, 0, 0, nil, 20<<20, bytesOpen(make([]byte, 20<<20)))
		}, "image too small"},
		{"too-many-inodes", func(o *Options) { o.Size = 16 << 20 }, func(b *Builder) error {
			for i := range 34000 {
				if err := b.AddFile(fmt.Sprintf("d%d/f%05d", i%7, i), 0o644, 0, 0, nil, 0, nil); err != nil {
					return err
				}
			}
			return nil
		}, "image too small"},
		{"too-many-extents", nil, func(b *Builder) error {
			// 200 GiB in 128 MiB extents needs more leaves than fit the inode.
			return b.AddFile("f", 0o644, 0, 0, nil, 200<<30, func() (io.ReadCloser, error) { return nil, errors.New("not reached") })
		}, "more than a one-level tree holds"},
		{"label", func(o *Options) { o.Label = "a-label-longer-than-16" }, func(*Builder) error { return nil }, "longer than 16 bytes"},
		{"timestamp", func(o *Options) { o.Timestamp = time.Date(1800, 1, 1, 0, 0, 0, 0, time.UTC) }, func(*Builder) error { return nil }, "outside ext4's range"},
		{"blocksize", func(o *Options) { o.BlockSize = 1024 }, func(*Builder) error { return nil }, "block size 1024 not supported"},
		{"xattr-namespace", nil, func(b *Builder) error {
			return b.AddFile("f", 0o644, 0, 0, []Xattr{{"foo.bar", nil}}, 0, nil)
		}, "unknown namespace"},
		{"xattr-too-big", nil, func(b *Builder) error {
			return b.AddFile("f", 0o644, 0, 0, []Xattr{{"user.a", make([]byte, 3000)}, {"user.b", make([]byte, 3000)}}, 0, nil)
		}, "more than a block"},
		{"posix-acl-version", nil, func(b *Builder) error {
			return b.Mkdir("d", 0o755, 0, 0, []Xattr{{"system.posix_acl_access", []byte{1, 0, 0, 0}}})
		}, "ACL version 1, want 2"},
		{"posix-acl-length", nil, func(b *Builder) error {
			return b.Mkdir("d", 0o755, 0, 0, []Xattr{{"system.posix_acl_default", []byte{2, 0, 0, 0, 1, 0}}})
		}, "8-byte entries"},
		{"parent-is-file", nil, func(b *Builder) error {
			b.AddFile("f", 0o644, 0, 0, nil, 0, nil)
			return b.AddFile("f/g", 0o644, 0, 0, nil, 0, nil)
		}, "parent /f is not a directory"},
		{"duplicate", nil, func(b *Builder) error {
			b.AddFile("f", 0o644, 0, 0, nil, 0, nil)
			return b.Symlink("f", "x", 0, 0, nil)
		}, "/f already exists"},
		{"mode", nil, func(b *Builder) error {
			return b.AddFile("f", 0o100644, 0, 0, nil, 0, nil)
		}, "bits beyond 07777"},
		{"lost+found", nil, func(b *Builder) error {
			return b.AddFile("lost+found", 0o644, 0, 0, nil, 0, nil)
		}, "already exists"},
		{"symlink-empty", nil, func(b *Builder) error {
			return b.Symlink("s", "", 0, 0, nil)
		}, "symlink target length 0"},
		{"too-many-links", nil, func(b *Builder) error {
			b.AddFile("f", 0o644, 0, 0, nil, 0, nil)
			for i := range maxLinks {
				b.Hardlink(fmt.Sprintf("l/%05d", i), "f")
			}
			return nil
		}, "more than ext4's 65000"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			opts := testOptions()
			if tt.opts != nil {
				tt.opts(&opts)
			}
			b := NewBuilder(opts)
			dir := t.TempDir()
			img := filepath.Join(dir, "out.img")
			err := tt.setup(b)
			if err == nil {
				err = b.WriteFile(context.Background(), img)
			}
			if err == nil {
				t.Fatalf("no error, want %q", tt.want)
			}
			t.Log(err)
			if !strings.Contains(err.Error(), tt.want) || strings.Contains(err.Error(), "\n") {
				t.Errorf("error %q, want one line containing %q", err, tt.want)
			}
			if tt.name == "open-fails" && !errors.Is(err, openErr) {
				t.Errorf("error %v does not wrap the callback's error", err)
			}
			left, _ := os.ReadDir(dir)
			if len(left) != 0 {
				t.Errorf("left behind after the error: %v", left)
			}
		})
	}
}

// TestCancel stops a build through its context.
func TestCancel(t *testing.T) {
	b := NewBuilder(testOptions())
	ctx, cancel := context.WithCancel(context.Background())
	b.AddFile("f", 0o644, 0, 0, nil, 100<<20, func() (io.ReadCloser, error) {
		cancel()
		return io.NopCloser(bytes.NewReader(make([]byte, 100<<20))), nil
	})
	dir := t.TempDir()
	err := b.WriteFile(ctx, filepath.Join(dir, "img"))
	if !errors.Is(err, context.Canceled) {
		t.Fatalf("error %v, want context.Canceled", err)
	}
	if left, _ := os.ReadDir(dir); len(left) != 0 {
		t.Errorf("left behind: %v", left)
	}
}
