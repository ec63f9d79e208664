package apt

import (
	"bytes"
	"errors"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"testing"

	"github.com/debatom/debatom/internal/testenv"
)

// TestXZBlocksReal: the real index is split into its three blocks, and
// decoding them in parallel gives what decoding the stream gives.
func TestXZBlocksReal(t *testing.T) {
	if testing.Short() {
		t.Skip("decompresses a 56 MB index twice")
	}
	data, err := os.ReadFile(filepath.Join(testenv.Archive(t), "dists/trixie/main/binary-amd64/Packages.xz"))
	if err != nil {
		t.Fatal(err)
	}
	blocks, total, err := xzBlocks(data)
	if err != nil {
		t.Fatal(err)
	}
	if len(blocks) != 3 || total != 56634892 || blocks[1].uoff != 24<<20 {
		t.Fatalf("blocks %+v, total %d", blocks, total)
	}
	par, err := xzDecodeBlocks(data, total, "Packages.xz")
	if err != nil {
		t.Fatal(err)
	}
	seq, err := decompress(data, "Packages.xz", nil, "Packages.xz")
	if err != nil {
		t.Fatal(err)
	}
	if !bytes.Equal(par, seq) {
		t.Fatal("block-parallel and stream decoding differ")
	}
}

// TestXZBlocksOracle has xz-utils make multi-block files and checks the
// split decode against the original text, and damaged files against
// clear errors.
func TestXZBlocksOracle(t *testing.T) {
	xzTool := testenv.Tool(t, "xz")
	text := indexTextForXZ()
	for _, args := range [][]string{
		{"-T2", "--block-size=4KiB"},
		{"--block-size=1000", "--check=sha256"},
		{"--block-list=100,5000,0", "--check=crc32"},
	} {
		t.Run(strings.Join(args, " "), func(t *testing.T) {
			cmd := exec.Command(xzTool, append([]string{"-c", "-6"}, args...)...)
			cmd.Stdin = bytes.NewReader(text)
			data, err := cmd.Output()
			if err != nil {
				t.Fatal(err)
			}
			blocks, _, err := xzBlocks(data)
			if err != nil || len(blocks) < 3 {
				t.Fatalf("%d blocks, %v", len(blocks), err)
			}
			got, err := xzDecodeBlocks(data, int64(len(text)), "x")
			if err != nil || !bytes.Equal(got, text) {
				t.Fatalf("split decode: %v", err)
			}
			sum := sha256Hex(text)
			want := &FileHash{Size: int64(len(text)), SHA256: sum}
			if got, err := decompress(data, "Packages.xz", want, "x"); err != nil || !bytes.Equal(got, text) {
				t.Fatalf("decompress: %v", err)
			}
			// A flipped byte inside a block fails that block's check.
			bad := append([]byte(nil), data...)
			bad[blocks[1].off+20] ^= 1
			if _, err := decompress(bad, "Packages.xz", want, "x"); err == nil || !strings.HasPrefix(err.Error(), "x: ") {
				t.Fatalf("damaged block: error %v", err)
			}
			// A damaged index is not split; the stream decoder then refuses it.
			bad = append([]byte(nil), data...)
			bad[len(bad)-14] ^= 1
			if _, _, err := xzBlocks(bad); !errors.Is(err, errNotBlocked) {
				t.Fatalf("damaged index: %v", err)
			}
			if _, err := decompress(bad, "Packages.xz", want, "x"); err == nil {
				t.Fatal("damaged index accepted")
			}
			// An index that disagrees with the signed size allocates nothing.
			if _, err := xzDecodeBlocks(data, 10, "x"); err == nil || !strings.Contains(err.Error(), "signed Release says 10") {
				t.Fatalf("size mismatch: %v", err)
			}
		})
	}
	// One block, or not xz at all: not split.
	for _, data := range [][]byte{compressAll(t, text)["Packages.xz"], text} {
		if _, _, err := xzBlocks(data); !errors.Is(err, errNotBlocked) {
			t.Fatalf("error %v, want errNotBlocked", err)
		}
	}
}

func indexTextForXZ() []byte {
	var b strings.Builder
	for i := range 800 {
		b.WriteString("Package: p")
		b.WriteString(strings.Repeat("q", i%13))
		b.WriteString("\nVersion: 1\nArchitecture: amd64\n\n")
	}
	return []byte(b.String())
}

func FuzzXZBlocks(f *testing.F) {
	f.Add([]byte{0xfd, '7', 'z', 'X', 'Z', 0, 0, 4, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 'Y', 'Z'})
	f.Fuzz(func(t *testing.T, data []byte) {
		blocks, total, err := xzBlocks(data)
		if err != nil {
			return
		}
		var sum int64
		for _, b := range blocks {
			if b.off < 12 || b.off+b.unpadded > int64(len(data)) {
				t.Fatalf("block %+v outside the data", b)
			}
			sum += b.unpacked
		}
		if sum != total {
			t.Fatal("sizes do not add up")
		}
		if total < 1<<20 { // a crafted index can claim gigabytes
			xzDecodeBlocks(data, total, "fuzz") // must not panic
		}
	})
}
