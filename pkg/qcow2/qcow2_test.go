package qcow2

import (
	"bytes"
	"context"
	"crypto/sha256"
	"encoding/binary"
	"encoding/json"
	"fmt"
	"io"
	"math/rand/v2"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"testing"

	"github.com/debatom/debatom/internal/testenv"
)

// write is one write into a raw test image.
type write struct {
	off  int64
	kind string // "random", "text" or "zeros"
	n    int64
}

func content(kind string, seed, n int64) []byte {
	b := make([]byte, n)
	r := rand.New(rand.NewPCG(uint64(seed), uint64(n)))
	switch kind {
	case "random":
		for i := range b {
			b[i] = byte(r.Uint32())
		}
	case "text":
		words := []string{"debian ", "atomic ", "ostree ", "qcow2 ", "cluster ", "\n", "deflate ", "0123 "}
		for i := 0; i < len(b); {
			i += copy(b[i:], words[r.IntN(len(words))])
		}
	}
	return b
}

// rawCase is a raw image made of holes and writes.
type rawCase struct {
	size   int64
	writes []write
}

var rawCases = map[string]rawCase{
	// Data at the start, an unaligned compressible run, written zeros
	// (data extents that must stay unallocated), a write straddling two
	// clusters, and a partial last cluster.
	"holes-and-data": {64<<20 + 12345, []write{
		{0, "random", 1 << 20},
		{5<<20 + 100, "text", 300 << 10},
		{10 << 20, "zeros", 2 << 20},
		{20<<20 - 10, "random", 20},
		{64<<20 + 12345 - 10, "random", 10},
	}},
	// A multi-GiB disk holding a few MiB, as a fresh root file system.
	"sparse-8GiB": {8 << 30, []write{
		{0, "text", 4 << 20},
		{3 << 30, "random", 1 << 20},
		{8<<30 - 64<<10, "text", 64 << 10},
	}},
	"empty": {1 << 20, nil},
}

// makeRaw creates the raw image as a sparse file.
func makeRaw(t testing.TB, c rawCase) string {
	t.Helper()
	p := filepath.Join(t.TempDir(), "disk.raw")
	f, err := os.Create(p)
	if err != nil {
		t.Fatal(err)
	}
	defer f.Close()
	if err := f.Truncate(c.size); err != nil {
		t.Fatal(err)
	}
	for i, w := range c.writes {
		if _, err := f.WriteAt(content(w.kind, int64(i), w.n), w.off); err != nil {
			t.Fatal(err)
		}
	}
	return p
}

func convert(t testing.TB, raw, out string, opts Options) {
	t.Helper()
	in, err := os.Open(raw)
	if err != nil {
		t.Fatal(err)
	}
	defer in.Close()
	src, err := FileSource(in)
	if err != nil {
		t.Fatal(err)
	}
	f, err := os.Create(out)
	if err != nil {
		t.Fatal(err)
	}
	defer f.Close()
	if err := Write(context.Background(), f, src, opts); err != nil {
		t.Fatal(err)
	}
	if err := f.Close(); err != nil {
		t.Fatal(err)
	}
}

// compareGuest reads img with the package's reader and compares it with
// raw over every written range, the bytes around them and a sample of
// holes, which covers all data without reading GiBs of zeros.
func compareGuest(t *testing.T, raw, img string, c rawCase) {
	t.Helper()
	rf, err := os.Open(raw)
	if err != nil {
		t.Fatal(err)
	}
	defer rf.Close()
	qf, err := os.Open(img)
	if err != nil {
		t.Fatal(err)
	}
	defer qf.Close()
	st, _ := qf.Stat()
	im, err := Open(qf, st.Size())
	if err != nil {
		t.Fatal(err)
	}
	if want := (c.size + 511) / 512 * 512; im.Size() != want {
		t.Fatalf("%s: virtual size %d, want %d (%d rounded up to whole sectors)", img, im.Size(), want, c.size)
	}
	ranges := [][2]int64{{0, min(c.size, 1<<20)}, {c.size - min(c.size, 1<<20), c.size}, {c.size / 2, c.size/2 + 70000}}
	for _, w := range c.writes {
		ranges = append(ranges, [2]int64{max(0, w.off-70000), min(c.size, w.off+w.n+70000)})
	}
	for _, r := range ranges {
		want := make([]byte, r[1]-r[0])
		got := make([]byte, r[1]-r[0])
		if _, err := rf.ReadAt(want, r[0]); err != nil && err != io.EOF {
			t.Fatal(err)
		}
		if _, err := im.ReadAt(got, r[0]); err != nil && err != io.EOF {
			t.Fatalf("%s: ReadAt(%d): %v", img, r[0], err)
		}
		if !bytes.Equal(got, want) {
			t.Errorf("%s: guest bytes %d–%d differ from the raw image", img, r[0], r[1])
		}
	}
}

func TestRoundTripInMemory(t *testing.T) {
	// A plain (non-sparse) source: every cluster is read and zero ones
	// dropped. Sizes exercise a partial cluster and several L2 tables.
	for _, bits := range []int{9, 12, 16} {
		for _, compress := range []bool{false, true} {
			t.Run(fmt.Sprintf("bits%d-compress=%v", bits, compress), func(t *testing.T) {
				raw := make([]byte, 3<<20+777)
				copy(raw[1000:], content("random", 1, 5000))
				copy(raw[1<<20:], content("text", 2, 1<<20))
				copy(raw[len(raw)-300:], content("random", 3, 300))
				var out bytes.Buffer
				if err := Write(context.Background(), &out, RawSource(bytes.NewReader(raw), int64(len(raw))), Options{ClusterBits: bits, Compress: compress}); err != nil {
					t.Fatal(err)
				}
				im, err := Open(bytes.NewReader(out.Bytes()), int64(out.Len()))
				if err != nil {
					t.Fatal(err)
				}
				got := make([]byte, (len(raw)+511)/512*512)
				if _, err := im.ReadAt(got, 0); err != nil {
					t.Fatal(err)
				}
				if !bytes.Equal(got[:len(raw)], raw) || !bytes.Equal(got[len(raw):], make([]byte, len(got)-len(raw))) {
					t.Fatal("guest differs from the source")
				}
				if int64(out.Len()) > int64(len(raw))/2+2<<20 {
					t.Errorf("image is %d bytes for %d of mostly zeros", out.Len(), len(raw))
				}
				// Same source, same options: same bytes.
				var again bytes.Buffer
				if err := Write(context.Background(), &again, RawSource(bytes.NewReader(raw), int64(len(raw))), Options{ClusterBits: bits, Compress: compress, Workers: 1}); err != nil {
					t.Fatal(err)
				}
				if !bytes.Equal(out.Bytes(), again.Bytes()) {
					t.Error("writing the same source twice (with different worker counts) gave different bytes")
				}
			})
		}
	}
}

type qemuInfo struct {
	Format         string `json:"format"`
	VirtualSize    int64  `json:"virtual-size"`
	ClusterSize    int64  `json:"cluster-size"`
	FormatSpecific struct {
		Data struct {
			Compat string `json:"compat"`
		} `json:"data"`
	} `json:"format-specific"`
}

func TestOracle(t *testing.T) {
	qemuImg := testenv.Tool(t, "qemu-img")
	for name, c := range rawCases {
		for _, compress := range []bool{false, true} {
			t.Run(fmt.Sprintf("%s-compress=%v", name, compress), func(t *testing.T) {
				raw := makeRaw(t, c)
				dir := t.TempDir()
				img := filepath.Join(dir, "ours.qcow2")
				convert(t, raw, img, Options{Compress: compress})

				out, err := exec.Command(qemuImg, "check", img).CombinedOutput()
				if err != nil || !strings.Contains(string(out), "No errors were found") {
					t.Errorf("qemu-img check: %v\n%s", err, out)
				}
				if strings.Contains(string(out), "leak") {
					t.Errorf("qemu-img check reports leaks:\n%s", out)
				}
				out, err = exec.Command(qemuImg, "compare", "-f", "raw", "-F", "qcow2", raw, img).CombinedOutput()
				if err != nil || !strings.Contains(string(out), "Images are identical") {
					t.Errorf("qemu-img compare: %v\n%s", err, out)
				}
				out, err = exec.Command(qemuImg, "info", "--output=json", img).Output()
				if err != nil {
					t.Fatalf("qemu-img info: %v", err)
				}
				var info qemuInfo
				if err := json.Unmarshal(out, &info); err != nil {
					t.Fatal(err)
				}
				if info.Format != "qcow2" || info.FormatSpecific.Data.Compat != "1.1" || info.VirtualSize != (c.size+511)/512*512 || info.ClusterSize != 1<<16 {
					t.Errorf("qemu-img info: %s", out)
				}

				// Against qemu-img convert: no larger, or (compressed) within 10%.
				ref := filepath.Join(dir, "qemu.qcow2")
				args := []string{"convert", "-f", "raw", "-O", "qcow2"}
				if compress {
					args = append(args, "-c")
				}
				if out, err := exec.Command(qemuImg, append(args, raw, ref)...).CombinedOutput(); err != nil {
					t.Fatalf("qemu-img convert: %v\n%s", err, out)
				}
				ours, theirs := fileSize(t, img), fileSize(t, ref)
				t.Logf("size: ours %d, qemu-img %d", ours, theirs)
				if (!compress && ours > theirs) || (compress && float64(ours) > 1.1*float64(theirs)) {
					t.Errorf("our image is %d bytes, qemu-img's %d", ours, theirs)
				}

				compareGuest(t, raw, img, c)
				// The reader also reads what qemu-img writes, with either
				// compression type.
				compareGuest(t, raw, ref, c)
				if compress {
					zref := filepath.Join(dir, "qemu-zstd.qcow2")
					if out, err := exec.Command(qemuImg, append(args, "-o", "compression_type=zstd", raw, zref)...).CombinedOutput(); err != nil {
						t.Fatalf("qemu-img convert zstd: %v\n%s", err, out)
					}
					compareGuest(t, raw, zref, c)
					zf, err := os.Open(zref)
					if err != nil {
						t.Fatal(err)
					}
					defer zf.Close()
					if im, err := Open(zf, fileSize(t, zref)); err != nil || !im.zstd {
						t.Errorf("%s does not open as a zstd image: %v", zref, err)
					}
				}

				again := filepath.Join(dir, "again.qcow2")
				convert(t, raw, again, Options{Compress: compress})
				if fileHash(t, img) != fileHash(t, again) {
					t.Error("converting the same raw image twice gave different bytes")
				}
			})
		}
	}
}

func TestClusterSizesOracle(t *testing.T) {
	qemuImg := testenv.Tool(t, "qemu-img")
	c := rawCases["holes-and-data"]
	raw := makeRaw(t, c)
	for _, bits := range []int{9, 12, 21} {
		for _, compress := range []bool{false, true} {
			t.Run(fmt.Sprintf("bits%d-compress=%v", bits, compress), func(t *testing.T) {
				img := filepath.Join(t.TempDir(), "ours.qcow2")
				convert(t, raw, img, Options{ClusterBits: bits, Compress: compress})
				out, err := exec.Command(qemuImg, "check", img).CombinedOutput()
				if err != nil || !strings.Contains(string(out), "No errors were found") {
					t.Errorf("qemu-img check: %v\n%s", err, out)
				}
				out, err = exec.Command(qemuImg, "compare", "-f", "raw", "-F", "qcow2", raw, img).CombinedOutput()
				if err != nil || !strings.Contains(string(out), "Images are identical") {
					t.Errorf("qemu-img compare: %v\n%s", err, out)
				}
				compareGuest(t, raw, img, c)
			})
		}
	}
}

func fileSize(t testing.TB, p string) int64 {
	st, err := os.Stat(p)
	if err != nil {
		t.Fatal(err)
	}
	return st.Size()
}

func fileHash(t testing.TB, p string) [32]byte {
	b, err := os.ReadFile(p)
	if err != nil {
		t.Fatal(err)
	}
	return sha256.Sum256(b)
}

func TestWriteRejects(t *testing.T) {
	src := RawSource(bytes.NewReader(make([]byte, 4096)), 4096)
	for _, bits := range []int{8, 22} {
		err := Write(context.Background(), io.Discard, src, Options{ClusterBits: bits})
		if err == nil || !strings.Contains(err.Error(), "cluster bits") {
			t.Errorf("cluster bits %d: %v", bits, err)
		}
	}
	bad := badExtents{src}
	if err := Write(context.Background(), io.Discard, bad, Options{}); err == nil || !strings.Contains(err.Error(), "outside the") {
		t.Errorf("extent outside the source: %v", err)
	}
	short := RawSource(bytes.NewReader(make([]byte, 100)), 1<<20)
	if err := Write(context.Background(), io.Discard, short, Options{}); err == nil || !strings.Contains(err.Error(), "reading the source") {
		t.Errorf("short source: %v", err)
	}
	ctx, cancel := context.WithCancel(context.Background())
	cancel()
	if err := Write(ctx, io.Discard, src, Options{}); err == nil {
		t.Error("a cancelled context did not stop Write")
	}
}

type badExtents struct{ Source }

func (badExtents) DataExtents(context.Context) ([]Extent, error) {
	return []Extent{{0, 1 << 30}}, nil
}

// smallImage is a compact qcow2 for corruption tests and fuzz seeds:
// 512-byte clusters, a few KiB in all, with compressible and random data
// and holes.
func smallImage(t testing.TB, compress bool) []byte {
	raw := make([]byte, 12000)
	copy(raw[600:], content("text", 1, 1000))
	copy(raw[9000:], content("random", 2, 600))
	var out bytes.Buffer
	if err := Write(context.Background(), &out, RawSource(bytes.NewReader(raw), int64(len(raw))), Options{ClusterBits: 9, Compress: compress}); err != nil {
		t.Fatal(err)
	}
	return out.Bytes()
}

func TestReadRejects(t *testing.T) {
	l2Of := func(b []byte) int64 {
		l1 := int64(binary.BigEndian.Uint64(b[40:]))
		return int64(binary.BigEndian.Uint64(b[l1:]) & offsetMask)
	}
	firstData := func(b []byte) int64 {
		l2 := l2Of(b)
		for i := l2; ; i += 8 {
			if e := binary.BigEndian.Uint64(b[i:]); e != 0 {
				return i
			}
		}
	}
	cases := map[string]struct {
		compress bool
		corrupt  func([]byte) []byte
		want     string
	}{
		"magic":     {false, func(b []byte) []byte { b[0] = 'X'; return b }, "bad magic"},
		"version":   {false, func(b []byte) []byte { b[7] = 4; return b }, "version 4"},
		"backing":   {false, func(b []byte) []byte { b[15] = 1; return b }, "backing file"},
		"cluster":   {false, func(b []byte) []byte { b[23] = 30; return b }, "cluster bits"},
		"encrypted": {false, func(b []byte) []byte { b[35] = 2; return b }, "encrypted"},
		"features":  {false, func(b []byte) []byte { b[79] = 0x10; return b }, "incompatible features"},
		"l1 small":  {false, func(b []byte) []byte { binary.BigEndian.PutUint32(b[36:], 0); return b }, "cannot map"},
		"l1 past":   {false, func(b []byte) []byte { binary.BigEndian.PutUint64(b[40:], 1<<40); return b }, "does not fit"},
		"truncated": {false, func(b []byte) []byte { return b[:len(b)-600] }, "past the end"},
		"l2 past end": {false, func(b []byte) []byte {
			l1 := int64(binary.BigEndian.Uint64(b[40:]))
			binary.BigEndian.PutUint64(b[l1:], 1<<40|1<<63)
			return b
		}, "L2 table at 1099511627776 is misaligned or past the end"},
		"data past end": {false, func(b []byte) []byte {
			binary.BigEndian.PutUint64(b[firstData(b):], 1<<40|1<<63)
			return b
		}, "maps to 1099511627776"},
		"bad deflate": {true, func(b []byte) []byte {
			e := binary.BigEndian.Uint64(b[firstData(b):])
			coff := e & (1<<(62-1) - 1)
			for i := range 64 {
				b[int(coff)+i] = 0xFF
			}
			return b
		}, "inflating"},
	}
	for name, c := range cases {
		t.Run(name, func(t *testing.T) {
			b := smallImage(t, c.compress)
			if _, err := readAll(b); err != nil {
				t.Fatalf("uncorrupted image: %v", err)
			}
			_, err := readAll(c.corrupt(b))
			if err == nil || !strings.Contains(err.Error(), c.want) {
				t.Fatalf("got %v, want an error containing %q", err, c.want)
			}
			if strings.Contains(err.Error(), "\n") || !strings.HasPrefix(err.Error(), "qcow2: ") {
				t.Errorf("error is not one line starting with qcow2: %q", err)
			}
		})
	}
}

// readAll opens b and reads its whole guest disk.
func readAll(b []byte) ([]byte, error) {
	im, err := Open(bytes.NewReader(b), int64(len(b)))
	if err != nil {
		return nil, err
	}
	out := make([]byte, min(im.Size(), 4<<20))
	_, err = im.ReadAt(out, 0)
	if err == io.EOF {
		err = nil
	}
	return out, err
}

func FuzzOpen(f *testing.F) {
	f.Add(smallImage(f, false))
	f.Add(smallImage(f, true))
	// The zstd path: compression type bit and field set (the clusters are
	// deflate, so they fail to decompress, which is also worth exercising).
	z := smallImage(f, true)
	z[79] |= 8
	z[104] = 1
	f.Add(z)
	f.Fuzz(func(t *testing.T, b []byte) {
		readAll(b)
	})
}

func BenchmarkWrite(b *testing.B) {
	// 64 MiB with half of it data: compressible text and random bytes.
	raw := make([]byte, 64<<20)
	for off := 0; off < len(raw); off += 4 << 20 {
		kind := "text"
		if off%(8<<20) == 0 {
			kind = "random"
		}
		copy(raw[off:], content(kind, int64(off), 2<<20))
	}
	for _, compress := range []bool{false, true} {
		b.Run(fmt.Sprintf("compress=%v", compress), func(b *testing.B) {
			b.SetBytes(int64(len(raw)))
			for b.Loop() {
				if err := Write(context.Background(), io.Discard, RawSource(bytes.NewReader(raw), int64(len(raw))), Options{Compress: compress, TempDir: b.TempDir()}); err != nil {
					b.Fatal(err)
				}
			}
		})
	}
}

func TestFileSourceExtents(t *testing.T) {
	c := rawCase{size: 64 << 20, writes: []write{{1 << 20, "random", 4096}, {40 << 20, "text", 1 << 20}}}
	f, err := os.Open(makeRaw(t, c))
	if err != nil {
		t.Fatal(err)
	}
	defer f.Close()
	src, err := FileSource(f)
	if err != nil {
		t.Fatal(err)
	}
	ext, err := src.DataExtents(context.Background())
	if err != nil {
		t.Fatal(err)
	}
	var total int64
	for _, e := range ext {
		total += e.Length
	}
	// Every write must lie inside an extent; a file system that reports
	// holes must keep the total well under the file size.
	for _, w := range c.writes {
		in := false
		for _, e := range ext {
			in = in || (w.off >= e.Offset && w.off+w.n <= e.Offset+e.Length)
		}
		if !in {
			t.Errorf("write at %d+%d is outside the extents %v", w.off, w.n, ext)
		}
	}
	if total == c.size {
		t.Logf("the file system of %s reports no holes", os.TempDir())
	} else if total > 8<<20 {
		t.Errorf("extents cover %d bytes of a file with %d written", total, 1<<20+4096)
	}
}

func TestDataClusters(t *testing.T) {
	cases := []struct {
		ext  []Extent
		want []int64
	}{
		{nil, nil},
		{[]Extent{{0, 1}}, []int64{0}},
		{[]Extent{{100, 1000}}, []int64{0, 1, 2}},
		{[]Extent{{3000, 10}, {0, 600}, {512, 1}}, []int64{0, 1, 5}},
		{[]Extent{{0, 0}, {4095, 1}}, []int64{7}},
	}
	for _, c := range cases {
		got, err := dataClusters(c.ext, 4096, 512)
		if err != nil || fmt.Sprint(got) != fmt.Sprint(c.want) {
			t.Errorf("dataClusters(%v) = %v, %v; want %v", c.ext, got, err, c.want)
		}
	}
	if _, err := dataClusters([]Extent{{4000, 200}}, 4096, 512); err == nil {
		t.Error("an extent past the end was accepted")
	}
}

func TestTinySources(t *testing.T) {
	for _, n := range []int{0, 1, 511, 512, 513} {
		raw := bytes.Repeat([]byte{0xA5}, n)
		var out bytes.Buffer
		if err := Write(context.Background(), &out, RawSource(bytes.NewReader(raw), int64(n)), Options{Compress: n%2 == 1}); err != nil {
			t.Fatalf("%d bytes: %v", n, err)
		}
		got, err := readAll(out.Bytes())
		if err != nil {
			t.Fatalf("%d bytes: %v", n, err)
		}
		if want := (n + 511) / 512 * 512; len(got) != want || !bytes.Equal(got[:n], raw) || !bytes.Equal(got[n:], make([]byte, want-n)) {
			t.Errorf("%d bytes: read back %d bytes that differ", n, len(got))
		}
	}
}
