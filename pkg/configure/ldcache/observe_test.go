package ldcache

import (
	"bytes"
	"context"
	"io"
	"os"
	"path/filepath"
	"testing"

	"github.com/klauspost/compress/flate"
)

// TestObserve: facts observed from a library's bytes are the ones Scan
// would have read, so a scan after Observe reads nothing and writes the
// same cache; what Scan never asks about is not recorded.
func TestObserve(t *testing.T) {
	ctx := context.Background()
	dirs := []string{"/lib/x86_64-linux-gnu"}
	r, s := storedTree(t)
	read, err := Scan(ctx, r, dirs, NewFacts())
	if err != nil {
		t.Fatal(err)
	}

	facts := NewFacts()
	facts.Observe(libObject, s.objs[libObject])
	if facts.Len() != 1 {
		t.Fatalf("%d facts after observing the library, want 1", facts.Len())
	}
	r, s = storedTree(t)
	observed, err := Scan(ctx, r, dirs, facts)
	if err != nil {
		t.Fatal(err)
	}
	if s.opens.Load() != 0 {
		t.Errorf("scan after Observe read %d files, want none", s.opens.Load())
	}
	if !bytes.Equal(Build(read, "g"), Build(observed, "g")) {
		t.Errorf("entries from observed facts %+v, read %+v", observed, read)
	}
	// Observed facts are saved like read ones.
	path := filepath.Join(t.TempDir(), "facts")
	if err := facts.Save(path); err != nil {
		t.Fatal(err)
	}
	if loaded, err := LoadFacts(path); err != nil || loaded.Len() != 1 {
		t.Fatalf("LoadFacts: %v, %v", loaded, err)
	}

	// Not ELF: recorded as not a library, as reading it would.
	notELF := bytes.Repeat([]byte("#!/bin/sh\n"), 10)
	const textObject = "2222222222222222222222222222222222222222222222222222222222222222"
	facts.Observe(textObject, notELF)
	if v, ok := facts.get(textObject); !ok || v.ok {
		t.Errorf("a script observed as %+v, %v", v, ok)
	}
	// Too small to ask about, or not an object checksum: not recorded.
	facts.Observe("3333333333333333333333333333333333333333333333333333333333333333", []byte("\x7fELF"))
	facts.Observe("not-a-checksum", s.objs[libObject])
	if facts.Len() != 2 {
		t.Errorf("%d facts, want 2", facts.Len())
	}
	// A known object is not parsed again (a wrong second sighting cannot
	// replace it; the checksum fixes the bytes).
	facts.Observe(libObject, notELF)
	if v, _ := facts.get(libObject); !v.ok || v.soname != "libattr.so.1" {
		t.Errorf("library fact became %+v", v)
	}
}

func TestCandidate(t *testing.T) {
	for p, want := range map[string]bool{
		"usr/lib/x86_64-linux-gnu/libc.so.6":                true,
		"/usr/lib/x86_64-linux-gnu/ld-linux-x86-64.so.2":    true,
		"usr/lib/x86_64-linux-gnu/libattr.so.1.1.2502":      true,
		"usr/lib/x86_64-linux-gnu/libfoo.so":                true,
		"opt/vendor/lib/libx.so.1":                          true, // a superset: any directory
		"usr/lib/x86_64-linux-gnu/gconv/UTF-16.so":          false,
		"usr/lib/python3/dist-packages/_foo.cpython-313.so": false,
		"usr/lib/x86_64-linux-gnu/libfoo.a":                 false,
		"usr/lib/libfoo.so.1/README":                        false,
		"usr/share/doc/libc6/changelog.gz":                  false,
	} {
		if got := Candidate(p); got != want {
			t.Errorf("Candidate(%q) = %v, want %v", p, got, want)
		}
	}
}

// bigLibrary is the test library padded to size bytes: the ELF headers
// and sections stay where they are, as in a big library, whose dynamic
// section is a small part of it.
func bigLibrary(b *testing.B, size int) []byte {
	lib, err := os.ReadFile("testdata/libattr.so.1.1.2502")
	if err != nil {
		b.Fatal(err)
	}
	out := make([]byte, size)
	copy(out, lib)
	for i := len(lib); i < size; i++ {
		out[i] = byte(i * 7 % 251) // not all zeros: some work for deflate
	}
	return out
}

// BenchmarkObserve is what a library's soname now costs, observed from the
// bytes unpack holds (observe), beside what it cost before: inflating the
// archive-mode object again to read it (read).
func BenchmarkObserve(b *testing.B) {
	lib := bigLibrary(b, 8<<20)
	var z bytes.Buffer
	w, err := flate.NewWriter(&z, flate.BestSpeed)
	if err != nil {
		b.Fatal(err)
	}
	w.Write(lib)
	w.Close()
	b.Run("observe", func(b *testing.B) {
		b.SetBytes(int64(len(lib)))
		for b.Loop() {
			f := NewFacts()
			f.Observe(libObject, lib)
			if v, _ := f.get(libObject); v.soname != "libattr.so.1" {
				b.Fatalf("fact %+v", v)
			}
		}
	})
	b.Run("read", func(b *testing.B) {
		b.SetBytes(int64(len(lib)))
		for b.Loop() {
			data, err := io.ReadAll(flate.NewReader(bytes.NewReader(z.Bytes())))
			if err != nil {
				b.Fatal(err)
			}
			if v := elfFacts(bytes.NewReader(data)); v.soname != "libattr.so.1" {
				b.Fatalf("fact %+v", v)
			}
		}
	})
}
