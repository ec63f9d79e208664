package testenv

import (
	"archive/tar"
	"bytes"
	"errors"
	"fmt"
	"io"
	"io/fs"
	"path"
	"testing"
	"testing/fstest"
)

// CompareTree checks that got, a file system read back by the code under
// test or extracted by an oracle, holds exactly the files of want with
// their contents, and every directory leading to them.
func CompareTree(t testing.TB, got fs.FS, want fstest.MapFS) {
	t.Helper()
	seen := map[string]bool{}
	err := fs.WalkDir(got, ".", func(p string, d fs.DirEntry, err error) error {
		if err != nil {
			return err
		}
		seen[p] = true
		if p == "." || d.IsDir() {
			return nil
		}
		b, err := fs.ReadFile(got, p)
		if err != nil {
			return err
		}
		if w, ok := want[p]; !ok {
			t.Errorf("unexpected file %s", p)
		} else if !bytes.Equal(b, w.Data) {
			t.Errorf("%s: %d bytes read back differ from the %d written", p, len(b), len(w.Data))
		}
		return nil
	})
	if err != nil {
		t.Fatal(err)
	}
	for p := range want {
		for q := p; q != "."; q = path.Dir(q) {
			if !seen[q] {
				t.Errorf("%s is missing", q)
			}
		}
	}
}

// TarFiles calls fn with each regular file of the tar stream r, in order,
// and stops at the first error fn returns.
func TarFiles(r io.Reader, fn func(h *tar.Header, body io.Reader) error) error {
	tr := tar.NewReader(r)
	for {
		h, err := tr.Next()
		if errors.Is(err, io.EOF) {
			return nil
		}
		if err != nil {
			return fmt.Errorf("reading tar: %w", err)
		}
		if h.Typeflag != tar.TypeReg {
			continue
		}
		if err := fn(h, tr); err != nil {
			return err
		}
	}
}
