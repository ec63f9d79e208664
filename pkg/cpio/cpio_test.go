package cpio

import (
	"bytes"
	"io/fs"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"testing"

	"github.com/debatom/debatom/internal/testenv"
)

func sample() []Entry {
	return []Entry{
		{Name: "usr/bin/hello", Mode: 0o755, Data: []byte("#!/bin/sh\necho hi\n")},
		{Name: "usr", Mode: fs.ModeDir | 0o755},
		{Name: "usr/bin", Mode: fs.ModeDir | 0o755},
		{Name: "bin", Mode: fs.ModeSymlink | 0o777, Target: "usr/bin"},
		{Name: "usr/bin/su", Mode: fs.ModeSetuid | 0o755, Data: []byte("x")},
		{Name: "dev", Mode: fs.ModeDir | 0o755},
		{Name: "dev/console", Mode: fs.ModeDevice | fs.ModeCharDevice | 0o600, RdevMajor: 5, RdevMinor: 1},
		{Name: "empty", Mode: 0o644},
	}
}

func TestRoundTrip(t *testing.T) {
	var b bytes.Buffer
	if err := Write(&b, sample(), 1700000000); err != nil {
		t.Fatal(err)
	}
	got, err := Read(&b)
	if err != nil {
		t.Fatal(err)
	}
	want := map[string]Entry{}
	for _, e := range sample() {
		want[e.Name] = e
	}
	if len(got) != len(want) {
		t.Fatalf("%d entries, want %d", len(got), len(want))
	}
	for i, e := range got {
		w := want[e.Name]
		if e.Mode != w.Mode || string(e.Data) != string(w.Data) || e.Target != w.Target || e.RdevMajor != w.RdevMajor || e.RdevMinor != w.RdevMinor {
			t.Errorf("%s: got %+v, want %+v", e.Name, e, w)
		}
		if i > 0 && got[i-1].Name >= e.Name {
			t.Errorf("not sorted: %s before %s", got[i-1].Name, e.Name)
		}
	}
}

func TestDeterministic(t *testing.T) {
	var a, b bytes.Buffer
	s := sample()
	if err := Write(&a, s, 42); err != nil {
		t.Fatal(err)
	}
	// Reversed input order must not change the bytes.
	for i, j := 0, len(s)-1; i < j; i, j = i+1, j-1 {
		s[i], s[j] = s[j], s[i]
	}
	if err := Write(&b, s, 42); err != nil {
		t.Fatal(err)
	}
	if !bytes.Equal(a.Bytes(), b.Bytes()) {
		t.Fatal("same entries in another order gave other bytes")
	}
}

// TestGNUCpioReadsIt extracts an archive with GNU cpio and checks what it
// made on disk.
func TestGNUCpioReadsIt(t *testing.T) {
	cpioTool := testenv.Tool(t, "cpio")
	var b bytes.Buffer
	if err := Write(&b, sample(), 1700000000); err != nil {
		t.Fatal(err)
	}
	list := exec.Command(cpioTool, "-t", "--quiet")
	list.Stdin = bytes.NewReader(b.Bytes())
	out, err := list.Output()
	if err != nil {
		t.Fatalf("cpio -t: %v", err)
	}
	if got := strings.Fields(string(out)); len(got) != len(sample()) {
		t.Fatalf("cpio -t lists %v", got)
	}
	dir := t.TempDir()
	x := exec.Command(cpioTool, "-i", "--quiet", "-d", "-m", "--no-absolute-filenames")
	x.Dir = dir
	x.Stdin = bytes.NewReader(b.Bytes())
	if out, err := x.CombinedOutput(); err != nil {
		t.Fatalf("cpio -i: %v: %s", err, out)
	}
	data, err := os.ReadFile(filepath.Join(dir, "usr/bin/hello"))
	if err != nil || string(data) != "#!/bin/sh\necho hi\n" {
		t.Fatalf("hello: %q %v", data, err)
	}
	if tgt, err := os.Readlink(filepath.Join(dir, "bin")); err != nil || tgt != "usr/bin" {
		t.Fatalf("bin link: %q %v", tgt, err)
	}
	st, err := os.Stat(filepath.Join(dir, "usr/bin/hello"))
	if err != nil || st.Mode().Perm() != 0o755 || st.ModTime().Unix() != 1700000000 {
		t.Fatalf("hello: %v %v", st.Mode(), err)
	}
}

func TestWriteErrors(t *testing.T) {
	for _, tc := range []struct {
		name    string
		entries []Entry
		mtime   int64
	}{
		{"absolute", []Entry{{Name: "/etc", Mode: fs.ModeDir}}, 0},
		{"dotdot", []Entry{{Name: "../x", Mode: 0o644}}, 0},
		{"unclean", []Entry{{Name: "a//b", Mode: 0o644}}, 0},
		{"duplicate", []Entry{{Name: "a", Mode: 0o644}, {Name: "a", Mode: 0o644}}, 0},
		{"mtime", []Entry{{Name: "a", Mode: 0o644}}, 1 << 33},
		{"irregular", []Entry{{Name: "a", Mode: fs.ModeIrregular}}, 0},
	} {
		if err := Write(&bytes.Buffer{}, tc.entries, tc.mtime); err == nil || strings.Contains(err.Error(), "\n") {
			t.Errorf("%s: got %v, want a one-line error", tc.name, err)
		}
	}
}

func TestReadErrors(t *testing.T) {
	var b bytes.Buffer
	if err := Write(&b, sample(), 1); err != nil {
		t.Fatal(err)
	}
	good := b.Bytes()
	for _, tc := range []struct {
		name string
		data []byte
	}{
		{"empty", nil},
		{"truncated header", good[:50]},
		{"truncated data", good[:len(good)/2]},
		{"bad magic", append([]byte("070707"), good[6:]...)},
		{"bad hex", append(append([]byte{}, good[:10]...), append([]byte("zz"), good[12:]...)...)},
		{"no trailer", good[:len(good)-124]},
	} {
		if _, err := Read(bytes.NewReader(tc.data)); err == nil || strings.Contains(err.Error(), "\n") {
			t.Errorf("%s: got %v, want a one-line error", tc.name, err)
		}
	}
}

func FuzzRead(f *testing.F) {
	var b bytes.Buffer
	if err := Write(&b, sample(), 1); err != nil {
		f.Fatal(err)
	}
	f.Add(b.Bytes())
	f.Add([]byte("070701"))
	f.Fuzz(func(t *testing.T, data []byte) {
		entries, err := Read(bytes.NewReader(data))
		if err != nil {
			return
		}
		// Whatever parses must survive a write/read round trip when the
		// names are ones Write accepts.
		for _, e := range entries {
			if !validName(e.Name) {
				return
			}
		}
		var out bytes.Buffer
		if err := Write(&out, entries, 0); err != nil {
			return // duplicates or unsupported types
		}
		again, err := Read(&out)
		if err != nil || len(again) != len(entries) {
			t.Fatalf("round trip: %d entries, %v", len(again), err)
		}
	})
}

func BenchmarkWrite(b *testing.B) {
	var entries []Entry
	data := bytes.Repeat([]byte("x"), 64<<10)
	for i := range 512 {
		entries = append(entries, Entry{Name: "f" + strings.Repeat("0", i%7) + string(rune('a'+i%26)) + filepath.Base(b.Name()) + string(rune('A'+i/26)), Mode: 0o644, Data: data})
	}
	b.SetBytes(int64(len(entries) * len(data)))
	for b.Loop() {
		var buf bytes.Buffer
		if err := Write(&buf, entries, 0); err != nil {
			b.Fatal(err)
		}
	}
}
