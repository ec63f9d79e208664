package deb

import (
	"archive/tar"
	"bytes"
	"context"
	"errors"
	"io"
	"os"
	"path/filepath"
	"reflect"
	"strings"
	"testing"

	"github.com/debatom/debatom/pkg/deb/debtest"
)

// collectWith is collect through dec; stopAt, when not "", makes the
// callback fail at that entry, leaving the member half read.
func collectWith(dec *Decoder, b []byte, name, stopAt string) (*Package, []entry, error) {
	d, err := dec.Open(bytes.NewReader(b), name)
	if err != nil {
		return nil, nil, err
	}
	var out []entry
	err = d.Data(context.Background(), func(h *tar.Header, body io.Reader) error {
		if h.Name == stopAt {
			return errors.New("stop")
		}
		e, err := newEntry(h, body)
		if err != nil {
			return err
		}
		out = append(out, e)
		return nil
	})
	return d.Package, out, err
}

// TestDecoderReuse reads packages of every compression, a corrupt one and
// a half-read one through one Decoder, as an unpack worker does: each
// good package must read exactly as with a fresh decoder, and no failure
// may leak into the next package.
func TestDecoderReuse(t *testing.T) {
	mk := func(comp, body string) []byte {
		return debtest.Build(debtest.Package{Comp: comp, Data: []debtest.Entry{
			debtest.Dir("./", 0o755),
			debtest.Dir("./usr/", 0o755),
			debtest.File("./usr/big", 0o644, strings.Repeat(body, 200000)),
			debtest.File("./usr/small", 0o755, body),
			debtest.Symlink("./usr/link", "big"),
		}})
	}
	a, b, z := mk("xz", "abcdefgh\n"), mk("xz", "other content\n"), mk("zstd", "zstd body\n")
	corrupt := bytes.Clone(a)
	corrupt[len(corrupt)-200] ^= 0x55
	var dec Decoder
	steps := []struct {
		name, stopAt string
		deb          []byte
		wantErr      string
	}{
		{"a", "", a, ""},
		{"b", "", b, ""},
		{"corrupt", "", corrupt, "corrupt.deb"},
		{"a again", "", a, ""},
		{"half read", "./usr/small", b, "stop"},
		{"zstd", "", z, ""},
		{"b again", "", b, ""},
		{"truncated", "", a[:len(a)/2], "truncated"},
		{"a once more", "", a, ""},
	}
	for _, s := range steps {
		p, got, err := collectWith(&dec, s.deb, s.name+".deb", s.stopAt)
		if s.wantErr != "" {
			if err == nil || !strings.Contains(err.Error(), s.wantErr) {
				t.Fatalf("%s: err = %v, want one containing %q", s.name, err, s.wantErr)
			}
			continue
		}
		if err != nil {
			t.Fatalf("%s: %v", s.name, err)
		}
		wantP, want, err := collect(t, s.deb, s.name+".deb")
		if err != nil {
			t.Fatal(err)
		}
		if !reflect.DeepEqual(got, want) || !reflect.DeepEqual(p, wantP) {
			t.Fatalf("%s: reading through a reused Decoder differs from a fresh one:\n%+v\n%+v", s.name, got, want)
		}
	}
}

// BenchmarkDecoderReuse reads a package the way an unpack worker does,
// through one Decoder for every iteration, against a fresh decoder per
// package (Read); allocs/op shows what reuse saves.
func BenchmarkDecoderReuse(b *testing.B) {
	var path string
	for _, d := range archiveDebs(b) {
		if strings.HasPrefix(filepath.Base(d), "coreutils_") {
			path = d
		}
	}
	data, err := os.ReadFile(path)
	if err != nil {
		b.Fatal(err)
	}
	discard := func(h *tar.Header, body io.Reader) error {
		_, err := io.Copy(io.Discard, body)
		return err
	}
	b.Run("fresh", func(b *testing.B) {
		b.ReportAllocs()
		for b.Loop() {
			if _, err := Read(context.Background(), bytes.NewReader(data), path, discard); err != nil {
				b.Fatal(err)
			}
		}
	})
	b.Run("reused", func(b *testing.B) {
		b.ReportAllocs()
		var dec Decoder
		for b.Loop() {
			d, err := dec.Open(bytes.NewReader(data), path)
			if err != nil {
				b.Fatal(err)
			}
			if err := d.Data(context.Background(), discard); err != nil {
				b.Fatal(err)
			}
		}
	})
}
