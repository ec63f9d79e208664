package ext4

import (
	"context"
	"io"
	"os"
	"path/filepath"
	"testing"
)

// TestOffsetTarget writes an image into a region of a larger file, as the
// disk stage writes a partition, and checks it in place with e2fsck's
// offset io option.
func TestOffsetTarget(t *testing.T) {
	const start = 1 << 20
	opts := testOptions()
	opts.Size = 256 << 20
	b := NewBuilder(opts)
	b.AddFile("etc/hostname", 0o644, 0, 0, nil, 8, bytesOpen([]byte("debatom\n")))
	disk := filepath.Join(t.TempDir(), "disk.raw")
	f, err := os.Create(disk)
	if err != nil {
		t.Fatal(err)
	}
	defer f.Close()
	if err := f.Truncate(start + opts.Size + start); err != nil {
		t.Fatal(err)
	}
	size, err := b.Write(context.Background(), io.NewOffsetWriter(f, start))
	if err != nil {
		t.Fatal(err)
	}
	if size != opts.Size {
		t.Errorf("size %d, want %d", size, opts.Size)
	}
	st, _ := f.Stat()
	if st.Size() != start+opts.Size+start {
		t.Errorf("the disk file changed size to %d", st.Size())
	}
	e2fsck(t, disk+"?offset=1048576")
	r, err := NewReader(io.NewSectionReader(f, start, size))
	if err != nil {
		t.Fatal(err)
	}
	if _, err := r.Lookup("etc/hostname"); err != nil {
		t.Error(err)
	}
}
