package deb822

import (
	"bytes"
	"io"
	"os"
	"path/filepath"
	"reflect"
	"strings"
	"testing"
)

func TestParseMatchesReader(t *testing.T) {
	tests := []struct {
		file       string
		paragraphs int
		check      func(t *testing.T, ps []*Paragraph)
	}{
		{"continuation.txt", 2, func(t *testing.T, ps []*Paragraph) {
			if got, want := ps[0].Get("description"), "short\nlong line one\n.\nlong line two"; got != want {
				t.Errorf("Description = %q, want %q", got, want)
			}
			if got := ps[1].Get("Version"); got != "2:3.4" {
				t.Errorf("Version = %q, want CR and spaces trimmed", got)
			}
			if got, want := ps[1].Get("Depends"), "\nlibc6 (>= 2.36),\nlibfoo1"; got != want {
				t.Errorf("Depends = %q, want %q", got, want)
			}
			if ps[1].Line != 10 {
				t.Errorf("second paragraph Line = %d, want 10", ps[1].Line)
			}
		}},
		{"sources.txt", 2, func(t *testing.T, ps []*Paragraph) {
			if got := ps[1].Get("Suites"); got != "bookworm-security" {
				t.Errorf("Suites = %q", got)
			}
			if _, ok := ps[1].Lookup("Signed-By"); ok {
				t.Error("second paragraph has a Signed-By it does not carry")
			}
		}},
	}
	for _, tt := range tests {
		t.Run(tt.file, func(t *testing.T) {
			data, err := os.ReadFile(filepath.Join("testdata", tt.file))
			if err != nil {
				t.Fatal(err)
			}
			fast, err := Parse(data, tt.file)
			if err != nil {
				t.Fatal(err)
			}
			slow, err := readerAll(bytes.NewReader(data), tt.file)
			if err != nil {
				t.Fatal(err)
			}
			if !reflect.DeepEqual(fast, slow) {
				t.Fatalf("Parse and Reader differ:\n%+v\n%+v", fast, slow)
			}
			if len(fast) != tt.paragraphs {
				t.Fatalf("got %d paragraphs, want %d", len(fast), tt.paragraphs)
			}
			tt.check(t, fast)
		})
	}
}

func TestParseBadInput(t *testing.T) {
	tests := []struct{ file, want string }{
		{"bad-continuation.txt", "bad-continuation.txt:1: continuation line outside a field"},
		{"bad-nocolon.txt", `bad-nocolon.txt:2: line is not a field (no "Name:")`},
	}
	for _, tt := range tests {
		data, err := os.ReadFile(filepath.Join("testdata", tt.file))
		if err != nil {
			t.Fatal(err)
		}
		for _, parse := range []func() error{
			func() error { _, err := Parse(data, tt.file); return err },
			func() error { _, err := readerAll(bytes.NewReader(data), tt.file); return err },
		} {
			err := parse()
			if err == nil || !strings.HasPrefix(err.Error(), tt.want) || strings.Contains(err.Error(), "\n") {
				t.Errorf("%s: error %v, want one line starting %q", tt.file, err, tt.want)
			}
		}
	}
}

// TestParseFieldsIsolated checks that appending to one paragraph cannot
// overwrite the next one's fields, although both come from one slab.
func TestParseFieldsIsolated(t *testing.T) {
	ps, err := ParseString("A: 1\n\nB: 2\n", "x")
	if err != nil {
		t.Fatal(err)
	}
	ps[0].Set("C", "3")
	if got := ps[1].Fields[0]; got.Name != "B" || got.Value != "2" {
		t.Fatalf("second paragraph clobbered: %+v", got)
	}
}

func FuzzParse(f *testing.F) {
	for _, name := range []string{"continuation.txt", "sources.txt", "bad-continuation.txt", "bad-nocolon.txt"} {
		data, err := os.ReadFile(filepath.Join("testdata", name))
		if err != nil {
			f.Fatal(err)
		}
		f.Add(data)
	}
	f.Add([]byte("A:\u00a0\n\u00a0\n B\r\n"))
	f.Fuzz(func(t *testing.T, data []byte) {
		fast, ferr := Parse(data, "fuzz")
		slow, serr := readerAll(bytes.NewReader(data), "fuzz")
		if (ferr == nil) != (serr == nil) {
			t.Fatalf("Parse error %v, Reader error %v", ferr, serr)
		}
		if ferr != nil {
			if ferr.Error() != serr.Error() {
				t.Fatalf("errors differ: %q vs %q", ferr, serr)
			}
			return
		}
		if len(fast) == 0 && len(slow) == 0 {
			return
		}
		if !reflect.DeepEqual(fast, slow) {
			t.Fatalf("Parse and Reader differ:\n%+v\n%+v", fast, slow)
		}
		// Writing a paragraph back and reading it again keeps its fields.
		for _, p := range fast {
			var b bytes.Buffer
			if _, err := p.WriteTo(&b); err != nil {
				t.Fatal(err)
			}
			if _, err := Parse(b.Bytes(), "rewrite"); err != nil && !strings.Contains(err.Error(), "not a field") && !strings.Contains(err.Error(), "continuation") {
				t.Fatalf("rewritten paragraph does not parse: %v", err)
			}
		}
	})
}

func BenchmarkParse(b *testing.B) {
	var sb strings.Builder
	for i := range 5000 {
		sb.WriteString("Package: pkg")
		sb.WriteString(strings.Repeat("x", i%17))
		sb.WriteString("\nVersion: 1.2.3-4\nArchitecture: amd64\nMaintainer: Someone <someone@example.org>\n" +
			"Installed-Size: 1234\nDepends: libc6 (>= 2.36), libfoo1 (>= 1.0)\nDescription: a package\n" +
			"Filename: pool/main/p/pkg/pkg_1.2.3-4_amd64.deb\nSize: 56789\n" +
			"SHA256: 0123456789abcdef0123456789abcdef0123456789abcdef0123456789abcdef\n\n")
	}
	data := []byte(sb.String())
	b.SetBytes(int64(len(data)))
	b.Run("Parse", func(b *testing.B) {
		b.SetBytes(int64(len(data)))
		for b.Loop() {
			if _, err := Parse(data, "bench"); err != nil {
				b.Fatal(err)
			}
		}
	})
	b.Run("Reader", func(b *testing.B) {
		b.SetBytes(int64(len(data)))
		for b.Loop() {
			if _, err := readerAll(bytes.NewReader(data), "bench"); err != nil {
				b.Fatal(err)
			}
		}
	})
}

// readerAll collects every paragraph through Reader, the line-at-a-time
// path that Parse must agree with.
func readerAll(r io.Reader, name string) ([]*Paragraph, error) {
	rd := NewReader(r, name)
	var out []*Paragraph
	for {
		p, err := rd.Next()
		if err == io.EOF {
			return out, nil
		}
		if err != nil {
			return nil, err
		}
		out = append(out, p)
	}
}
