package atomicfile

import (
	"errors"
	"os"
	"path/filepath"
	"strings"
	"testing"
)

func TestWriteFile(t *testing.T) {
	dir := t.TempDir()
	p := filepath.Join(dir, "sub", "f")
	if err := WriteFile(p, []byte("one"), 0o600); err != nil {
		t.Fatal(err)
	}
	if err := WriteFile(p, []byte("two"), 0o644); err != nil {
		t.Fatal(err)
	}
	b, err := os.ReadFile(p)
	if err != nil || string(b) != "two" {
		t.Fatalf("content %q, %v", b, err)
	}
	if st, _ := os.Stat(p); st.Mode().Perm() != 0o644 {
		t.Errorf("mode %v", st.Mode())
	}
	ents, _ := os.ReadDir(filepath.Dir(p))
	if len(ents) != 1 {
		t.Errorf("temporary files left: %v", ents)
	}
	// A path whose parent is a file cannot be written; nothing is left.
	if err := WriteFile(filepath.Join(p, "x"), []byte("x"), 0o644); err == nil {
		t.Error("writing below a file succeeded")
	}
}

func TestWrite(t *testing.T) {
	dir := t.TempDir()
	p := filepath.Join(dir, "img")
	if err := WriteFile(p, []byte("old"), 0o600); err != nil {
		t.Fatal(err)
	}
	// fill may write at offsets, leaving a hole, as disk images do.
	err := Write(p, 0o644, func(f *os.File) error {
		_, err := f.WriteAt([]byte("end"), 1<<20)
		return err
	})
	if err != nil {
		t.Fatal(err)
	}
	b, err := os.ReadFile(p)
	if err != nil || len(b) != 1<<20+3 || string(b[1<<20:]) != "end" || b[0] != 0 {
		t.Fatalf("content: %d bytes, %v", len(b), err)
	}
	if st, _ := os.Stat(p); st.Mode().Perm() != 0o644 {
		t.Errorf("mode %v", st.Mode())
	}
	// A failing fill leaves the old file and no temporary one, and its
	// error is wrapped with the path.
	boom := errors.New("boom")
	err = Write(p, 0o600, func(f *os.File) error {
		f.WriteString("partial")
		return boom
	})
	if !errors.Is(err, boom) || !strings.Contains(err.Error(), p) {
		t.Errorf("failing fill: err = %v", err)
	}
	if b2, _ := os.ReadFile(p); len(b2) != len(b) {
		t.Errorf("a failed Write changed the file: %d bytes", len(b2))
	}
	if ents, _ := os.ReadDir(dir); len(ents) != 1 {
		t.Errorf("temporary files left: %v", ents)
	}
}
