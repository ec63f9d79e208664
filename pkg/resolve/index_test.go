package resolve

import (
	"bufio"
	"errors"
	"io"
	"os"
	"path/filepath"
	"strings"
	"sync"
	"testing"

	"github.com/debatom/debatom/internal/testenv"
	"github.com/debatom/debatom/pkg/apt"
	"github.com/debatom/debatom/pkg/deb822"
	"github.com/ulikunitz/xz"
)

// The real index takes seconds to decode; tests share one parsed copy
// (read-only: the resolver never modifies packages).
var (
	indexOnce sync.Once
	indexPkgs []*apt.Package
	indexErr  error
)

// realIndex returns the 68,829 packages of the frozen Debian 13 archive.
func realIndex(t testing.TB) []*apt.Package {
	t.Helper()
	dir := testenv.Archive(t)
	indexOnce.Do(func() {
		indexPkgs, indexErr = loadIndex(filepath.Join(dir, "dists/trixie/main/binary-amd64/Packages.xz"))
	})
	if indexErr != nil {
		t.Fatal(indexErr)
	}
	return indexPkgs
}

func loadIndex(path string) ([]*apt.Package, error) {
	f, err := os.Open(path)
	if err != nil {
		return nil, err
	}
	defer f.Close()
	xr, err := xz.NewReader(bufio.NewReaderSize(f, 1<<20))
	if err != nil {
		return nil, err
	}
	return readPackages(xr, path)
}

func readPackages(r io.Reader, name string) ([]*apt.Package, error) {
	dr := deb822.NewReader(r, name)
	var out []*apt.Package
	for {
		para, err := dr.Next()
		if errors.Is(err, io.EOF) {
			return out, nil
		}
		if err != nil {
			return nil, err
		}
		p, err := apt.PackageFromParagraph(para)
		if err != nil {
			return nil, err
		}
		out = append(out, p)
	}
}

// archiveList reads PACKAGES.txt ("name version arch" per line).
func archiveList(t testing.TB) []string {
	t.Helper()
	b, err := os.ReadFile(filepath.Join(testenv.Archive(t), "PACKAGES.txt"))
	if err != nil {
		t.Fatal(err)
	}
	return strings.Fields(strings.ReplaceAll(string(b), " ", "_"))
}

// archiveIncludes reads the include list out of the archive's README.md:
// the indented lines after "minbase` set plus:" up to the first blank
// line.
func archiveIncludes(t testing.TB) []string {
	t.Helper()
	b, err := os.ReadFile(filepath.Join(testenv.Archive(t), "README.md"))
	if err != nil {
		t.Fatal(err)
	}
	s := string(b)
	i := strings.Index(s, "set plus:")
	if i < 0 {
		t.Fatal("README.md of the archive has no include list")
	}
	s = s[i+len("set plus:"):]
	if j := strings.Index(s, "\n  The index"); j >= 0 {
		s = s[:j]
	}
	s = strings.TrimSuffix(strings.TrimSpace(s), ".")
	return strings.Fields(s)
}
