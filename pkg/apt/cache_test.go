package apt

import (
	"bytes"
	"io"
	"os"
	"path/filepath"
	"reflect"
	"strings"
	"testing"

	"github.com/debatom/debatom/internal/testenv"
	"github.com/debatom/debatom/pkg/deb822"
)

func TestIndexCacheRoundTrip(t *testing.T) {
	pkgs, err := parsePackages(indexSample(), "Packages", "")
	if err != nil {
		t.Fatal(err)
	}
	enc := encodeIndex(pkgs)
	if !bytes.Equal(enc, encodeIndex(pkgs)) {
		t.Fatal("encoding is not deterministic")
	}
	got, err := decodeIndex(enc)
	if err != nil {
		t.Fatal(err)
	}
	if !reflect.DeepEqual(got, pkgs) {
		t.Fatal("decoded packages differ")
	}
	// Every damaged or truncated form is refused, not misread.
	for _, bad := range [][]byte{enc[:len(enc)-1], enc[:len(indexCacheMagic)+3], append([]byte("x"), enc[1:]...)} {
		if _, err := decodeIndex(bad); err != errBadCache {
			t.Fatalf("damaged cache: error %v", err)
		}
	}
	flipped := append([]byte(nil), enc...)
	flipped[len(flipped)/2] ^= 0x20
	if _, err := decodeIndex(flipped); err != errBadCache {
		t.Fatalf("flipped byte: error %v", err)
	}
}

func indexSample() []byte {
	return []byte("Package: a\nVersion: 1\nArchitecture: all\nSize: 10\nDescription: one\n two\n\n" +
		"Package: b\nversion: 2\nArchitecture: amd64\nEssential: yes\nX-Custom: 1\n")
}

func FuzzDecodeIndexCache(f *testing.F) {
	pkgs, err := parsePackages(indexSample(), "Packages", "")
	if err != nil {
		f.Fatal(err)
	}
	f.Add(encodeIndex(pkgs))
	f.Add([]byte(indexCacheMagic))
	f.Fuzz(func(t *testing.T, data []byte) {
		got, err := decodeIndex(data)
		if err != nil {
			return
		}
		// What decodes must encode back to the same bytes.
		if again := encodeIndex(got); !bytes.Equal(again, data) {
			t.Fatal("decode then encode changed the bytes")
		}
	})
}

// TestParseRealIndexMatchesReader checks the fast parser against the line
// Reader on the first 4 MB of the real trixie index (the Reader is too slow
// for all 56 MB in a unit test).
func TestParseRealIndexMatchesReader(t *testing.T) {
	if testing.Short() {
		t.Skip("decompresses a 56 MB index")
	}
	data, err := os.ReadFile(filepath.Join(testenv.Archive(t), "dists/trixie/main/binary-amd64/Packages.xz"))
	if err != nil {
		t.Fatal(err)
	}
	text, err := decompress(data, "Packages.xz", nil, "Packages.xz")
	if err != nil {
		t.Fatal(err)
	}
	cut := strings.Index(string(text[4<<20:]), "\n\n") + 4<<20 + 2
	text = text[:cut]
	fast, err := deb822.Parse(text, "Packages")
	if err != nil {
		t.Fatal(err)
	}
	var slow []*deb822.Paragraph
	rd := deb822.NewReader(bytes.NewReader(text), "Packages")
	for {
		p, err := rd.Next()
		if err == io.EOF {
			break
		}
		if err != nil {
			t.Fatal(err)
		}
		slow = append(slow, p)
	}
	if len(fast) < 4000 || !reflect.DeepEqual(fast, slow) {
		t.Fatalf("Parse (%d paragraphs) and Reader (%d) differ", len(fast), len(slow))
	}
}

// TestReadIndexCacheFile goes through the file: what writeIndexCache
// writes, readIndexCache reads back equal, and a damaged file is refused.
func TestReadIndexCacheFile(t *testing.T) {
	pkgs, err := parsePackages(indexSample(), "Packages", "")
	if err != nil {
		t.Fatal(err)
	}
	dir := t.TempDir()
	if err := writeIndexCache(dir, "k", pkgs); err != nil {
		t.Fatal(err)
	}
	got, err := readIndexCache(dir, "k")
	if err != nil {
		t.Fatal(err)
	}
	if !reflect.DeepEqual(got, pkgs) {
		t.Fatal("read packages differ")
	}
	good, err := os.ReadFile(indexCachePath(dir, "k"))
	if err != nil {
		t.Fatal(err)
	}
	flipped := append([]byte(nil), good...)
	flipped[len(flipped)/2] ^= 0x20
	badCRC := append([]byte(nil), good...)
	badCRC[len(badCRC)-1] ^= 1
	for name, b := range map[string][]byte{
		"empty":     nil,
		"tiny":      good[:len(indexCacheMagic)+3],
		"truncated": good[:len(good)-1],
		"flipped":   flipped,
		"crc":       badCRC,
		"longer":    append(append([]byte(nil), good...), 0),
	} {
		if err := os.WriteFile(indexCachePath(dir, name), b, 0o644); err != nil {
			t.Fatal(err)
		}
		if _, err := readIndexCache(dir, name); err != errBadCache {
			t.Errorf("%s: error %v, want errBadCache", name, err)
		}
	}
	if _, err := readIndexCache(dir, "missing"); !os.IsNotExist(err) {
		t.Errorf("missing: error %v", err)
	}
}
