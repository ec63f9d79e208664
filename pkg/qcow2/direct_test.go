package qcow2

import (
	"bytes"
	"fmt"
	"math/rand/v2"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"sync"
	"testing"

	"github.com/debatom/debatom/internal/testenv"
)

// createDirect writes case c through Create, its writes split into pieces
// of at most piece bytes and issued by several goroutines in an order
// shuffled by seed. Zero writes are not declared as data.
func createDirect(t testing.TB, c rawCase, path string, piece int64, seed uint64) {
	t.Helper()
	var data []Extent
	type wr struct {
		off int64
		b   []byte
	}
	var writes []wr
	for i, w := range c.writes {
		b := content(w.kind, int64(i), w.n)
		if w.kind != "zeros" {
			data = append(data, Extent{w.off, w.n})
		}
		for o := int64(0); o < w.n; o += piece {
			writes = append(writes, wr{w.off + o, b[o:min(o+piece, w.n)]})
		}
	}
	r := rand.New(rand.NewPCG(seed, 1))
	r.Shuffle(len(writes), func(i, j int) { writes[i], writes[j] = writes[j], writes[i] })
	f, err := os.Create(path)
	if err != nil {
		t.Fatal(err)
	}
	defer f.Close()
	w, err := Create(f, c.size, data, Options{})
	if err != nil {
		t.Fatal(err)
	}
	var wg sync.WaitGroup
	errs := make([]error, 4)
	for k := range errs {
		wg.Go(func() {
			for i := k; i < len(writes); i += len(errs) {
				if _, err := w.WriteAt(writes[i].b, writes[i].off); err != nil {
					errs[k] = err
					return
				}
			}
		})
	}
	wg.Wait()
	for _, err := range errs {
		if err != nil {
			t.Fatal(err)
		}
	}
	if err := w.Close(); err != nil {
		t.Fatal(err)
	}
}

// TestCreateMatchesWrite: when the declared extents are exactly the
// non-zero data, the image written in place is byte for byte the one
// Write converts from the raw image, whatever the order and size of the
// writes.
func TestCreateMatchesWrite(t *testing.T) {
	for name, c := range rawCases {
		t.Run(name, func(t *testing.T) {
			dir := t.TempDir()
			raw := makeRaw(t, c)
			want := filepath.Join(dir, "converted.qcow2")
			convert(t, raw, want, Options{})
			for i, piece := range []int64{1 << 30, 4096, 70001} {
				got := filepath.Join(dir, fmt.Sprintf("direct-%d.qcow2", i))
				createDirect(t, c, got, piece, uint64(i))
				if fileHash(t, got) != fileHash(t, want) {
					t.Errorf("pieces of %d bytes: the image differs from the converted one (%d bytes, %d)", piece, fileSize(t, got), fileSize(t, want))
				}
				compareGuest(t, raw, got, c)
			}
		})
	}
}

// TestCreateUnwrittenClusters: planned clusters never written read as
// zeros, and the image stays valid for QEMU.
func TestCreateUnwrittenClusters(t *testing.T) {
	dir := t.TempDir()
	p := filepath.Join(dir, "disk.qcow2")
	f, err := os.Create(p)
	if err != nil {
		t.Fatal(err)
	}
	defer f.Close()
	const size = 10 << 20
	w, err := Create(f, size, []Extent{{0, 1 << 20}, {5 << 20, 3 << 20}}, Options{})
	if err != nil {
		t.Fatal(err)
	}
	payload := content("random", 7, 1000)
	if _, err := w.WriteAt(payload, 6<<20+10); err != nil {
		t.Fatal(err)
	}
	if err := w.Close(); err != nil {
		t.Fatal(err)
	}
	if err := f.Close(); err != nil {
		t.Fatal(err)
	}
	b, err := os.ReadFile(p)
	if err != nil {
		t.Fatal(err)
	}
	im, err := Open(bytes.NewReader(b), int64(len(b)))
	if err != nil {
		t.Fatal(err)
	}
	got := make([]byte, size)
	if _, err := im.ReadAt(got, 0); err != nil {
		t.Fatal(err)
	}
	want := make([]byte, size)
	copy(want[6<<20+10:], payload)
	if !bytes.Equal(got, want) {
		t.Error("guest bytes differ from the one write made")
	}
	// 16 + 48 data clusters of 64 KiB follow the metadata.
	if n := int64(len(b)); n%(64<<10) != 0 || n < 64*64<<10 {
		t.Errorf("file is %d bytes, want whole clusters holding 64 data clusters", n)
	}

	// Last, as it skips without QEMU.
	qemuImg := testenv.Tool(t, "qemu-img")
	raw := filepath.Join(dir, "disk.raw")
	if err := os.WriteFile(raw, want, 0o644); err != nil {
		t.Fatal(err)
	}
	out, err := exec.Command(qemuImg, "check", p).CombinedOutput()
	if err != nil || !strings.Contains(string(out), "No errors were found") || strings.Contains(string(out), "leak") {
		t.Errorf("qemu-img check: %v\n%s", err, out)
	}
	out, err = exec.Command(qemuImg, "compare", "-f", "raw", "-F", "qcow2", raw, p).CombinedOutput()
	if err != nil || !strings.Contains(string(out), "Images are identical") {
		t.Errorf("qemu-img compare: %v\n%s", err, out)
	}
}

func TestCreateRejects(t *testing.T) {
	f, err := os.Create(filepath.Join(t.TempDir(), "disk.qcow2"))
	if err != nil {
		t.Fatal(err)
	}
	defer f.Close()
	if _, err := Create(f, 1<<20, nil, Options{Compress: true}); err == nil {
		t.Error("Create accepted compression")
	}
	if _, err := Create(f, 1<<20, nil, Options{ClusterBits: 22}); err == nil {
		t.Error("Create accepted 4 MiB clusters")
	}
	if _, err := Create(f, 1<<20, []Extent{{1 << 20, 1}}, Options{}); err == nil {
		t.Error("Create accepted an extent past the end of the disk")
	}
	w, err := Create(f, 1<<20, []Extent{{64 << 10, 64 << 10}}, Options{})
	if err != nil {
		t.Fatal(err)
	}
	if _, err := w.WriteAt(make([]byte, 200<<10), 0); err != nil {
		t.Errorf("zeros outside the extents: %v", err)
	}
	if _, err := w.WriteAt([]byte{1}, 128<<10); err == nil || !strings.Contains(err.Error(), "outside the extents") {
		t.Errorf("data outside the extents: %v", err)
	}
	if _, err := w.WriteAt([]byte{1}, 1<<20); err == nil {
		t.Error("a write past the end of the disk was accepted")
	}
	if _, err := w.WriteAt([]byte{1}, -1); err == nil {
		t.Error("a write at a negative offset was accepted")
	}
}

// BenchmarkCreate writes 64 MiB of data in place, in 1 MiB writes, to a
// file; compare with BenchmarkWrite, which converts from memory.
func BenchmarkCreate(b *testing.B) {
	const size = 64 << 20
	chunk := content("random", 1, 1<<20)
	p := filepath.Join(b.TempDir(), "disk.qcow2")
	b.SetBytes(size)
	for b.Loop() {
		f, err := os.Create(p)
		if err != nil {
			b.Fatal(err)
		}
		w, err := Create(f, size, []Extent{{0, size}}, Options{})
		if err != nil {
			b.Fatal(err)
		}
		for off := int64(0); off < size; off += int64(len(chunk)) {
			if _, err := w.WriteAt(chunk, off); err != nil {
				b.Fatal(err)
			}
		}
		if err := w.Close(); err != nil {
			b.Fatal(err)
		}
		f.Close()
	}
}
