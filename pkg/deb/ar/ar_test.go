package ar

import (
	"bytes"
	"errors"
	"fmt"
	"io"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"testing"

	"github.com/debatom/debatom/internal/testenv"
)

// hdr formats one member header; size is a string so tests can break it.
func hdr(name, size string) string {
	return fmt.Sprintf("%-16s%-12s%-6s%-6s%-8s%-10s`\n", name, "0", "0", "0", "100644", size)
}

type member struct{ name, data string }

func readAll(t *testing.T, archive string) ([]member, error) {
	t.Helper()
	r := NewReader(strings.NewReader(archive), "test.a")
	var out []member
	for {
		h, err := r.Next()
		if err == io.EOF {
			return out, nil
		}
		if err != nil {
			return out, err
		}
		b, err := io.ReadAll(r)
		if err != nil {
			return out, err
		}
		if int64(len(b)) != h.Size {
			t.Fatalf("member %s: read %d bytes, header says %d", h.Name, len(b), h.Size)
		}
		out = append(out, member{h.Name, string(b)})
	}
}

func TestRead(t *testing.T) {
	gnuTable := "a-very-long-member-name.o/\nanother-long-member-name.txt/\n"
	tests := []struct {
		name    string
		archive string
		want    []member
	}{
		{"empty", Magic, nil},
		{"sysv", Magic + hdr("debian-binary", "4") + "2.0\n" + hdr("odd", "3") + "abc\n" + hdr("last", "2") + "xy",
			[]member{{"debian-binary", "2.0\n"}, {"odd", "abc"}, {"last", "xy"}}},
		{"gnu short names", Magic + hdr("foo.o/", "2") + "hi", []member{{"foo.o", "hi"}}},
		{"gnu long names", Magic + hdr("//", fmt.Sprint(len(gnuTable))) + gnuTable +
			hdr("/0", "1") + "1\n" + hdr("/27", "2") + "22",
			[]member{{"a-very-long-member-name.o", "1"}, {"another-long-member-name.txt", "22"}}},
		{"bsd long name", Magic + hdr("#1/20", "23") + "a-bsd-long-name.data" + "xyz\n",
			[]member{{"a-bsd-long-name.data", "xyz"}}},
		{"bsd name with NUL padding", Magic + hdr("#1/8", "9") + "name\x00\x00\x00\x00" + "z\n",
			[]member{{"name", "z"}}},
		{"missing final padding", Magic + hdr("odd", "3") + "abc", []member{{"odd", "abc"}}},
		{"blank size is zero", Magic + hdr("zero", ""), []member{{"zero", ""}}},
		{"symbol table returned", Magic + hdr("/", "4") + "\x00\x00\x00\x00", []member{{"/", "\x00\x00\x00\x00"}}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			got, err := readAll(t, tt.archive)
			if err != nil {
				t.Fatal(err)
			}
			if fmt.Sprint(got) != fmt.Sprint(tt.want) {
				t.Errorf("got %q, want %q", got, tt.want)
			}
		})
	}
}

// TestSkipUnread checks that Next skips data the caller left unread.
func TestSkipUnread(t *testing.T) {
	a := Magic + hdr("one", "5") + "12345\n" + hdr("two", "1") + "x\n"
	r := NewReader(strings.NewReader(a), "test.a")
	if _, err := r.Next(); err != nil {
		t.Fatal(err)
	}
	b := make([]byte, 2)
	if _, err := io.ReadFull(r, b); err != nil {
		t.Fatal(err)
	}
	h, err := r.Next()
	if err != nil || h.Name != "two" {
		t.Fatalf("Next = %v, %v; want member two", h, err)
	}
	if rest, _ := io.ReadAll(r); string(rest) != "x" {
		t.Errorf("member two = %q", rest)
	}
}

func TestBadInput(t *testing.T) {
	tests := []struct {
		name, archive, want string
	}{
		{"empty file", "", "test.a: not an ar archive"},
		{"bad magic", "!<arch>X" + hdr("a", "1"), "test.a: not an ar archive (bad magic"},
		{"truncated header", Magic + hdr("a", "1")[:30], "test.a: truncated member header after the archive magic"},
		{"no terminator", Magic + strings.Replace(hdr("a", "1"), "`\n", "XX", 1) + "x", "bad member header"},
		{"size not decimal", Magic + hdr("a", "12x") + "x", `member "a": size: "12x" is not a decimal number`},
		{"negative size", Magic + hdr("a", "-1"), `member "a": size: "-1" is not a decimal number`},
		{"size out of range", Magic + hdr("a", "9999999999") + "x", "test.a: member a: unexpected EOF"},
		{"truncated data", Magic + hdr("control.tar.xz", "100") + "short", "test.a: member control.tar.xz: unexpected EOF"},
		{"truncated between members", Magic + hdr("a", "2") + "ab" + hdr("b", "2")[:10], "truncated member header after member a"},
		{"long name without table", Magic + hdr("/0", "1") + "x", "refers to a long-name table the archive lacks"},
		{"long name offset beyond table", Magic + hdr("//", "4") + "ab/\n" + hdr("/99", "1") + "x", "long-name offset beyond the table"},
		{"long name unterminated", Magic + hdr("//", "2") + "ab" + hdr("/0", "1") + "x", "unterminated long name"},
		{"long name not a number", Magic + hdr("//", "4") + "ab/\n" + hdr("/x", "1") + "x", "bad long-name reference"},
		{"bsd name longer than member", Magic + hdr("#1/50", "3") + "abc\n", "bad BSD name length"},
		{"bsd name truncated", Magic + hdr("#1/10", "10") + "abc", "unexpected EOF"},
		{"huge name table", Magic + hdr("//", "99999999"), "long-name table of 99999999 bytes is too large"},
		{"bad mode", Magic + strings.Replace(hdr("a", "1"), "100644", "999999", 1) + "x\n", `member "a": mode`},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			_, err := readAll(t, tt.archive)
			if err == nil {
				t.Fatalf("no error, want %q", tt.want)
			}
			if !strings.Contains(err.Error(), tt.want) || strings.Contains(err.Error(), "\n") {
				t.Errorf("error %q, want one line containing %q", err, tt.want)
			}
		})
	}
}

// TestAgainstBinutils reads archives written by GNU ar (long names included)
// and checks every member against what ar itself prints.
func TestAgainstBinutils(t *testing.T) {
	arTool := testenv.Tool(t, "ar")
	dir := t.TempDir()
	names := []string{"short", "odd-size-member", "a-member-name-longer-than-sixteen.txt", "x"}
	for i, n := range names {
		writeFile(t, filepath.Join(dir, n), strings.Repeat(string(rune('a'+i)), 2*i+1))
	}
	for _, flags := range []string{"rcS", "rcSU"} {
		archive := filepath.Join(dir, flags+".a")
		cmd := exec.Command(arTool, append([]string{flags, archive}, names...)...)
		cmd.Dir = dir
		if out, err := cmd.CombinedOutput(); err != nil {
			t.Fatalf("ar: %v\n%s", err, out)
		}
		data := readFile(t, archive)
		got, err := readAll(t, string(data))
		if err != nil {
			t.Fatal(err)
		}
		if len(got) != len(names) {
			t.Fatalf("%s: got %d members, want %d", flags, len(got), len(names))
		}
		for i, m := range got {
			out, err := exec.Command(arTool, "p", archive, names[i]).Output()
			if err != nil {
				t.Fatal(err)
			}
			if m.name != names[i] || !bytes.Equal([]byte(m.data), out) {
				t.Errorf("%s: member %d = %q %q, ar says %q %q", flags, i, m.name, m.data, names[i], out)
			}
		}
	}
}

func FuzzReader(f *testing.F) {
	f.Add([]byte(Magic + hdr("debian-binary", "4") + "2.0\n" + hdr("odd", "3") + "abc\n"))
	f.Add([]byte(Magic + hdr("//", "4") + "ab/\n" + hdr("/0", "1") + "x\n"))
	f.Add([]byte(Magic + hdr("#1/8", "9") + "name\x00\x00\x00\x00" + "z\n"))
	f.Fuzz(func(t *testing.T, b []byte) {
		r := NewReader(bytes.NewReader(b), "fuzz.a")
		var total int64
		for i := 0; i < 1000; i++ {
			h, err := r.Next()
			if err != nil {
				if err != io.EOF && (err.Error() == "" || strings.Contains(err.Error(), "\n")) {
					t.Fatalf("bad error text %q", err)
				}
				return
			}
			if h.Size < 0 || h.Name == "" {
				t.Fatalf("bad header %+v", h)
			}
			n, err := io.Copy(io.Discard, r)
			total += n
			if err == nil && n != h.Size {
				t.Fatalf("member %q: read %d of %d bytes without error", h.Name, n, h.Size)
			}
			if errors.Is(err, io.EOF) {
				t.Fatalf("member read returned io.EOF as an error")
			}
		}
		if total > int64(len(b)) {
			t.Fatalf("read %d bytes of data from a %d-byte archive", total, len(b))
		}
	})
}

func writeFile(t *testing.T, p, s string) {
	t.Helper()
	if err := os.WriteFile(p, []byte(s), 0o644); err != nil {
		t.Fatal(err)
	}
}

func readFile(t *testing.T, p string) []byte {
	t.Helper()
	b, err := os.ReadFile(p)
	if err != nil {
		t.Fatal(err)
	}
	return b
}
