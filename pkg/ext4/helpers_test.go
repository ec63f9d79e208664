package ext4

import (
	"bytes"
	"crypto/sha256"
	"encoding/binary"
	"encoding/hex"
	"io"
	"os"
	"os/exec"
	"path/filepath"
	"sort"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/debatom/debatom/internal/testenv"
)

func testOptions() Options {
	return Options{
		Label:     "root",
		Timestamp: time.Date(2025, 6, 1, 12, 30, 45, 123456789, time.UTC),
		UUID:      [16]byte{0x6b, 0x8e, 0x2c, 0x41, 0x1f, 0x3a, 0x4d, 0x52, 0x9a, 0x10, 0x3c, 0x77, 0xe2, 0x05, 0xb1, 0x9f},
		HashSeed:  [16]byte{0x11, 0x22, 0x33, 0x44, 0x55, 0x66, 0x77, 0x88, 0x99, 0xaa, 0xbb, 0xcc, 0xdd, 0xee, 0xf0, 0x01},
	}
}

// genContent is a deterministic content stream: a pseudo-random block
// every `every` blocks and zeros between, so large files stay cheap.
type genContent struct {
	size  int64
	seed  uint64
	every int64
	pos   int64
}

func (g *genContent) Read(p []byte) (int, error) {
	if g.pos >= g.size {
		return 0, io.EOF
	}
	n := int(min(int64(len(p)), g.size-g.pos))
	for i := 0; i < n; {
		blk := (g.pos + int64(i)) / blockSize
		inBlk := int((g.pos + int64(i)) % blockSize)
		k := min(n-i, blockSize-inBlk)
		dst := p[i : i+k]
		if g.every > 1 && blk%g.every != 0 {
			clear(dst)
		} else {
			x := g.seed ^ uint64(blk)*0x9E3779B97F4A7C15
			for j := range dst {
				off := uint64(inBlk + j)
				v := x + off*0xBF58476D1CE4E5B9
				v ^= v >> 31
				dst[j] = byte(v) | 1 // never a whole zero block
			}
		}
		i += k
	}
	g.pos += int64(n)
	return n, nil
}

func (g *genContent) Close() error { return nil }

func gen(size int64, seed uint64, every int64) func() (io.ReadCloser, error) {
	return func() (io.ReadCloser, error) { return &genContent{size: size, seed: seed, every: every}, nil }
}

func genSum(size int64, seed uint64, every int64) string {
	h := sha256.New()
	io.Copy(h, &genContent{size: size, seed: seed, every: every})
	return hex.EncodeToString(h.Sum(nil))
}

func bytesOpen(b []byte) func() (io.ReadCloser, error) {
	return func() (io.ReadCloser, error) { return io.NopCloser(bytes.NewReader(b)), nil }
}

func sum(b []byte) string { s := sha256.Sum256(b); return hex.EncodeToString(s[:]) }

// e2fsck runs e2fsck -fn and fails unless it exits 0 having printed only
// its five pass lines and the summary.
func e2fsck(t *testing.T, img string) {
	t.Helper()
	tool := testenv.Tool(t, "e2fsck")
	out, err := exec.Command(tool, "-fn", img).CombinedOutput()
	if err != nil {
		t.Fatalf("e2fsck -fn %s: %v\n%s", img, err, out)
	}
	for _, l := range strings.Split(strings.TrimSpace(string(out)), "\n") {
		if strings.HasPrefix(l, "Pass ") || strings.HasPrefix(l, "e2fsck ") || strings.Contains(l, " files (") {
			continue
		}
		t.Errorf("e2fsck -fn %s reported: %s", img, l)
	}
}

// debugfs runs commands in one debugfs session and returns each command's
// output, split on the "debugfs: " prompt echo.
func debugfs(t *testing.T, img string, cmds ...string) []string {
	t.Helper()
	tool := testenv.Tool(t, "debugfs")
	f := filepath.Join(t.TempDir(), "cmds")
	if err := os.WriteFile(f, []byte(strings.Join(cmds, "\n")+"\n"), 0o644); err != nil {
		t.Fatal(err)
	}
	out, err := exec.Command(tool, "-f", f, img).Output()
	if err != nil {
		t.Fatalf("debugfs %s: %v", img, err)
	}
	parts := strings.Split(string(out), "debugfs: ")
	if len(parts) != len(cmds)+1 {
		t.Fatalf("debugfs: %d outputs for %d commands:\n%s", len(parts)-1, len(cmds), out)
	}
	return parts[1:]
}

// memImage is a sparse in-memory io.WriterAt and io.ReaderAt that records
// what was written, for reproducibility and sparseness checks.
type memImage struct {
	mu     sync.Mutex
	blocks map[int64][]byte
	size   int64
	writes int64 // bytes written
}

func newMemImage() *memImage { return &memImage{blocks: map[int64][]byte{}} }

func (m *memImage) WriteAt(p []byte, off int64) (int, error) {
	m.mu.Lock()
	defer m.mu.Unlock()
	m.writes += int64(len(p))
	for i := 0; i < len(p); {
		o := off + int64(i)
		b := m.blocks[o/blockSize]
		if b == nil {
			b = make([]byte, blockSize)
			m.blocks[o/blockSize] = b
		}
		n := copy(b[o%blockSize:], p[i:])
		i += n
	}
	m.size = max(m.size, off+int64(len(p)))
	return len(p), nil
}

func (m *memImage) ReadAt(p []byte, off int64) (int, error) {
	m.mu.Lock()
	defer m.mu.Unlock()
	for i := 0; i < len(p); {
		o := off + int64(i)
		n := min(len(p)-i, int(blockSize-o%blockSize))
		if b := m.blocks[o/blockSize]; b != nil {
			copy(p[i:i+n], b[o%blockSize:])
		} else {
			clear(p[i : i+n])
		}
		i += n
	}
	if off+int64(len(p)) > m.size {
		return len(p), io.EOF
	}
	return len(p), nil
}

// digest hashes the written blocks in order, with their numbers.
func (m *memImage) digest() string {
	keys := make([]int64, 0, len(m.blocks))
	for k := range m.blocks {
		keys = append(keys, k)
	}
	sort.Slice(keys, func(i, j int) bool { return keys[i] < keys[j] })
	h := sha256.New()
	for _, k := range keys {
		binary.Write(h, binary.LittleEndian, k)
		h.Write(m.blocks[k])
	}
	binary.Write(h, binary.LittleEndian, m.size)
	return hex.EncodeToString(h.Sum(nil))
}
