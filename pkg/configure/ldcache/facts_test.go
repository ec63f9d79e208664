package ldcache

import (
	"bytes"
	"context"
	"io"
	"os"
	"path/filepath"
	"strings"
	"sync/atomic"
	"testing"

	"github.com/debatom/debatom/pkg/configure/sysroot"
	"github.com/debatom/debatom/pkg/fstree"
)

// store serves file contents by object checksum and counts the reads.
// With raw set it serves them as an uncompressed store does: readers
// that are also io.ReaderAt.
type store struct {
	objs  map[string][]byte
	raw   bool
	opens atomic.Int64
}

type rawReader struct{ *bytes.Reader }

func (rawReader) Close() error { return nil }

func (s *store) Open(p string, e *fstree.Entry) (io.ReadCloser, error) {
	s.opens.Add(1)
	b, ok := s.objs[e.Object]
	if !ok {
		return nil, os.ErrNotExist
	}
	if s.raw {
		return rawReader{bytes.NewReader(b)}, nil
	}
	return io.NopCloser(bytes.NewReader(b)), nil
}

const libObject = "1111111111111111111111111111111111111111111111111111111111111111"

// storedTree is tree's layout with the library held in a store, as after
// unpacking, instead of inline.
func storedTree(t testing.TB) (*sysroot.Root, *store) {
	t.Helper()
	lib, err := os.ReadFile("testdata/libattr.so.1.1.2502")
	if err != nil {
		t.Fatal(err)
	}
	s := &store{objs: map[string][]byte{libObject: lib}}
	r := sysroot.New(fstree.New(), s, nil)
	r.Symlink("lib", "usr/lib")
	d := "usr/lib/x86_64-linux-gnu/"
	if err := r.Tree.Put(d+"libattr.so.1.1.2502", &fstree.Entry{Kind: fstree.File, Meta: fstree.Meta{Mode: 0o644}, Object: libObject, Size: int64(len(lib))}); err != nil {
		t.Fatal(err)
	}
	r.Symlink(d+"libattr.so.1", "libattr.so.1.1.2502")
	return r, s
}

func TestScanFacts(t *testing.T) {
	ctx := context.Background()
	dirs := []string{"/lib/x86_64-linux-gnu"}
	want := "libattr.so.1"

	r, s := storedTree(t)
	facts := NewFacts()
	es, err := Scan(ctx, r, dirs, facts)
	if err != nil {
		t.Fatal(err)
	}
	if len(es) != 1 || es[0].Key != want || s.opens.Load() != 1 {
		t.Fatalf("first scan: %+v after %d reads", es, s.opens.Load())
	}
	path := filepath.Join(t.TempDir(), "facts")
	if err := facts.Save(path); err != nil {
		t.Fatal(err)
	}

	// A later build loads the facts and reads nothing.
	loaded, err := LoadFacts(path)
	if err != nil || loaded.Len() != 1 {
		t.Fatalf("LoadFacts: %d facts, %v", loaded.Len(), err)
	}
	r, s = storedTree(t)
	es2, err := Scan(ctx, r, dirs, loaded)
	if err != nil {
		t.Fatal(err)
	}
	if s.opens.Load() != 0 {
		t.Errorf("second scan read %d files, want none", s.opens.Load())
	}
	if len(es2) != 1 || es2[0] != es[0] {
		t.Errorf("second scan %+v, want %+v", es2, es)
	}
	if a, b := Build(es, "g"), Build(es2, "g"); !bytes.Equal(a, b) {
		t.Error("cache bytes differ with facts")
	}

	// An unreadable object is skipped and not remembered.
	r, s = storedTree(t)
	delete(s.objs, libObject)
	empty := NewFacts()
	if es, err := Scan(ctx, r, dirs, empty); err != nil || len(es) != 0 || empty.Len() != 0 {
		t.Errorf("unreadable: %+v, %v, %d facts", es, err, empty.Len())
	}
}

// TestScanReaderAt reads the library in place, as from an uncompressed
// store, and finds the same entry.
func TestScanReaderAt(t *testing.T) {
	dirs := []string{"/lib/x86_64-linux-gnu"}
	r, _ := storedTree(t)
	want, err := Scan(context.Background(), r, dirs, nil)
	if err != nil {
		t.Fatal(err)
	}
	r, s := storedTree(t)
	s.raw = true
	got, err := Scan(context.Background(), r, dirs, nil)
	if err != nil {
		t.Fatal(err)
	}
	if len(got) != 1 || got[0] != want[0] || s.opens.Load() != 1 {
		t.Errorf("in place: %+v after %d reads, want %+v", got, s.opens.Load(), want)
	}
}

func TestScanCanceled(t *testing.T) {
	r, _ := storedTree(t)
	ctx, cancel := context.WithCancel(context.Background())
	cancel()
	if _, err := Scan(ctx, r, []string{"/lib/x86_64-linux-gnu"}, nil); err == nil {
		t.Error("no error from a canceled scan")
	}
}

func TestFactsBadFile(t *testing.T) {
	f := NewFacts()
	f.put(libObject, fact{soname: "liba.so.1", flags: 0x303, ok: true})
	f.put(strings.Repeat("2", 64), fact{})
	good := f.encode()
	if g, err := decodeFacts(good); err != nil || g.Len() != 2 {
		t.Fatalf("good file: %v", err)
	}
	flipped := append([]byte(nil), good...)
	flipped[len(factsMagic)+5] ^= 1
	older := append([]byte(nil), good...)
	older[len(factsMagic)-2] = '0'
	dir := t.TempDir()
	for name, b := range map[string][]byte{
		"empty":     nil,
		"truncated": good[:len(good)-1],
		"flipped":   flipped,
		"version":   older,
		"garbage":   []byte(strings.Repeat("x", 200)),
	} {
		p := filepath.Join(dir, name)
		if err := os.WriteFile(p, b, 0o644); err != nil {
			t.Fatal(err)
		}
		got, err := LoadFacts(p)
		if err == nil || got == nil || got.Len() != 0 {
			t.Errorf("%s: want empty facts and an error, got %v", name, err)
		}
	}
	if got, err := LoadFacts(filepath.Join(dir, "missing")); err != nil || got.Len() != 0 {
		t.Errorf("missing file: %v", err)
	}
	// Nothing new, nothing written.
	g, _ := decodeFacts(good)
	if err := g.Save(filepath.Join(dir, "unchanged")); err != nil {
		t.Fatal(err)
	}
	if _, err := os.Stat(filepath.Join(dir, "unchanged")); !os.IsNotExist(err) {
		t.Errorf("unchanged facts were written: %v", err)
	}
}

func FuzzDecodeFacts(f *testing.F) {
	fs := NewFacts()
	fs.put(libObject, fact{soname: "liba.so.1", flags: 0x303, ok: true})
	f.Add(fs.encode())
	f.Add([]byte(factsMagic))
	f.Fuzz(func(t *testing.T, b []byte) {
		g, err := decodeFacts(b)
		if err != nil {
			return
		}
		again, err := decodeFacts(g.encode())
		if err != nil || again.Len() != g.Len() {
			t.Fatalf("re-encode: %v", err)
		}
	})
}

// BenchmarkScan compares a scan that reads the library with one that
// finds its facts from an earlier build.
func BenchmarkScan(b *testing.B) {
	dirs := []string{"/lib/x86_64-linux-gnu"}
	b.Run("read", func(b *testing.B) {
		r, _ := storedTree(b)
		for b.Loop() {
			if _, err := Scan(context.Background(), r, dirs, NewFacts()); err != nil {
				b.Fatal(err)
			}
		}
	})
	b.Run("facts", func(b *testing.B) {
		r, _ := storedTree(b)
		facts := NewFacts()
		Scan(context.Background(), r, dirs, facts)
		for b.Loop() {
			if _, err := Scan(context.Background(), r, dirs, facts); err != nil {
				b.Fatal(err)
			}
		}
	})
}

// TestScanParallelSameAsSerial reads several libraries on the parallel
// workers and checks the entries match a scan with every fact known.
func TestScanParallelSameAsSerial(t *testing.T) {
	ctx := context.Background()
	build := func() (*sysroot.Root, *store) {
		r, s := storedTree(t)
		lib := s.objs[libObject]
		for i, d := range []string{"usr/local/lib/", "opt/a/", "opt/b/", "opt/c/"} {
			obj := strings.Repeat(string(rune('2'+i)), 64)
			s.objs[obj] = lib
			if err := r.Tree.Put(d+"libattr.so.1", &fstree.Entry{Kind: fstree.File, Meta: fstree.Meta{Mode: 0o644}, Object: obj, Size: int64(len(lib))}); err != nil {
				t.Fatal(err)
			}
		}
		return r, s
	}
	dirs := []string{"/usr/local/lib", "/opt/a", "/opt/b", "/opt/c", "/lib/x86_64-linux-gnu"}
	r, s := build()
	facts := NewFacts()
	first, err := Scan(ctx, r, dirs, facts)
	if err != nil {
		t.Fatal(err)
	}
	if len(first) != 5 || s.opens.Load() != 5 || facts.Len() != 5 {
		t.Fatalf("first scan: %d entries, %d reads, %d facts", len(first), s.opens.Load(), facts.Len())
	}
	r, s = build()
	again, err := Scan(ctx, r, dirs, facts)
	if err != nil {
		t.Fatal(err)
	}
	if s.opens.Load() != 0 || !bytes.Equal(Build(first, "g"), Build(again, "g")) {
		t.Errorf("with facts: %d reads, entries %+v, want %+v", s.opens.Load(), again, first)
	}
}
