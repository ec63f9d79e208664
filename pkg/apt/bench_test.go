package apt

import (
	"context"
	"net/http"
	"net/http/httptest"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/debatom/debatom/internal/testenv"
)

// realIndexText is the decompressed trixie amd64 index (56 MB).
func realIndexText(b *testing.B) []byte {
	b.Helper()
	src := archiveSource(b)
	data, err := os.ReadFile(strings.TrimPrefix(src.URL, "file://") + "/dists/trixie/main/binary-amd64/Packages.xz")
	if err != nil {
		b.Fatal(err)
	}
	text, err := decompress(data, "Packages.xz", nil, "Packages.xz")
	if err != nil {
		b.Fatal(err)
	}
	return text
}

// BenchmarkLoadIndexCold verifies InRelease, checks, decompresses and
// parses the full index: what a first run pays.
func BenchmarkLoadIndexCold(b *testing.B) {
	src := archiveSource(b)
	for b.Loop() {
		ix, err := LoadIndex(context.Background(), []Source{src}, Options{})
		if err != nil || len(ix.Packages) != 68829 {
			b.Fatal(err)
		}
	}
}

// BenchmarkLoadIndexWarm is the same with the parsed index cached.
func BenchmarkLoadIndexWarm(b *testing.B) {
	src := archiveSource(b)
	cache := b.TempDir()
	if _, err := LoadIndex(context.Background(), []Source{src}, Options{CacheDir: cache}); err != nil {
		b.Fatal(err)
	}
	for b.Loop() {
		ix, err := LoadIndex(context.Background(), []Source{src}, Options{CacheDir: cache})
		if err != nil || len(ix.Packages) != 68829 {
			b.Fatal(err)
		}
	}
}

// BenchmarkParsePackages is the parse alone, on the decompressed text.
func BenchmarkParsePackages(b *testing.B) {
	text := realIndexText(b)
	b.SetBytes(int64(len(text)))
	for b.Loop() {
		if _, err := parsePackages(text, "Packages", "o"); err != nil {
			b.Fatal(err)
		}
	}
}

// BenchmarkDecodeIndexCache is the cache decode alone.
func BenchmarkDecodeIndexCache(b *testing.B) {
	pkgs, err := parsePackages(realIndexText(b), "Packages", "o")
	if err != nil {
		b.Fatal(err)
	}
	enc := encodeIndex(pkgs)
	b.SetBytes(int64(len(enc)))
	for b.Loop() {
		if _, err := decodeIndex(enc); err != nil {
			b.Fatal(err)
		}
	}
}

// BenchmarkDecompressIndex is xz decoding of the index alone: as one
// stream, and with its three blocks decoded in parallel.
func BenchmarkDecompressIndex(b *testing.B) {
	data, err := os.ReadFile(filepath.Join(testenv.Archive(b), "dists/trixie/main/binary-amd64/Packages.xz"))
	if err != nil {
		b.Fatal(err)
	}
	b.Run("stream", func(b *testing.B) {
		for b.Loop() {
			text, err := decompress(data, "Packages.xz", nil, "Packages.xz")
			if err != nil {
				b.Fatal(err)
			}
			b.SetBytes(int64(len(text)))
		}
	})
	b.Run("blocks", func(b *testing.B) {
		for b.Loop() {
			text, err := xzDecodeBlocks(data, 56634892, "Packages.xz")
			if err != nil {
				b.Fatal(err)
			}
			b.SetBytes(int64(len(text)))
		}
	})
}

// BenchmarkFetchArchive downloads the 213 packages of the frozen archive
// from a loopback HTTP server into an empty cache, verifying each.
func BenchmarkFetchArchive(b *testing.B) {
	archive := testenv.Archive(b)
	src := archiveSource(b)
	ix, err := LoadIndex(context.Background(), []Source{src}, Options{CacheDir: b.TempDir()})
	if err != nil {
		b.Fatal(err)
	}
	data, err := os.ReadFile(filepath.Join(archive, "PACKAGES.txt"))
	if err != nil {
		b.Fatal(err)
	}
	want := map[string]bool{}
	for _, l := range strings.Split(strings.TrimSpace(string(data)), "\n") {
		want[strings.TrimSpace(l)] = true
	}
	srv := httptest.NewServer(http.FileServer(http.Dir(archive)))
	defer srv.Close()
	var items []Item
	var total int64
	for _, p := range ix.Packages {
		if want[p.ID()] {
			it, err := ItemFor(p)
			if err != nil {
				b.Fatal(err)
			}
			it.URL = srv.URL + "/" + p.Filename
			items = append(items, it)
			total += it.Size
		}
	}
	if len(items) != len(want) {
		b.Fatalf("found %d of the %d packages of PACKAGES.txt", len(items), len(want))
	}
	b.SetBytes(total)
	for b.Loop() {
		f := &Fetcher{CacheDir: b.TempDir()}
		if _, err := f.Fetch(context.Background(), append([]Item(nil), items...)); err != nil {
			b.Fatal(err)
		}
	}
}
