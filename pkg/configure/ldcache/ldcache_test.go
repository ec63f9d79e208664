package ldcache

import (
	"context"
	"os"
	"strings"
	"testing"

	"github.com/debatom/debatom/pkg/configure/sysroot"
	"github.com/debatom/debatom/pkg/fstree"
)

func TestLibCmp(t *testing.T) {
	for _, tc := range []struct {
		a, b string
		sign int
	}{
		{"libc.so.6", "libc.so.6", 0},
		{"libc.so.10", "libc.so.9", 1}, // numbers compare as numbers
		{"libz.so.1", "liba.so.1", 1},
		{"lib1.so", "liba.so", 1}, // a digit sorts after a non-digit
		{"libfoo.so", "libfoo.so.1", -1},
	} {
		got := LibCmp(tc.a, tc.b)
		if (got > 0) != (tc.sign > 0) || (got < 0) != (tc.sign < 0) {
			t.Errorf("LibCmp(%q, %q) = %d, want sign %d", tc.a, tc.b, got, tc.sign)
		}
	}
}

// A tree with one real library (libattr1's), its soname link, a -dev
// style .so link, a linker script and a dangling link, under a merged /usr.
func tree(t *testing.T) *sysroot.Root {
	t.Helper()
	lib, err := os.ReadFile("testdata/libattr.so.1.1.2502")
	if err != nil {
		t.Fatal(err)
	}
	r := sysroot.New(fstree.New(), nil, []*sysroot.Package{{Name: "libc-bin", Version: "2.41-12+deb13u5"}})
	r.Symlink("lib", "usr/lib")
	d := "usr/lib/x86_64-linux-gnu/"
	r.WriteFile(d+"libattr.so.1.1.2502", lib, 0o644, 0, 0)
	r.Symlink(d+"libattr.so.1", "libattr.so.1.1.2502")
	r.Symlink(d+"libattr.so", "libattr.so.1")
	r.WriteFile(d+"libc.so", []byte("/* GNU ld script */\nGROUP ( libc.so.6 )\n"+strings.Repeat(" ", 64)), 0o644, 0, 0)
	r.Symlink(d+"libgone.so.1", "libgone.so.1.0")
	r.WriteFile("etc/ld.so.conf", []byte("include /etc/ld.so.conf.d/*.conf\n"), 0o644, 0, 0)
	r.WriteFile("etc/ld.so.conf.d/x86_64-linux-gnu.conf", []byte("# Multiarch support\n/usr/local/lib/x86_64-linux-gnu\n/lib/x86_64-linux-gnu\n/usr/lib/x86_64-linux-gnu\n"), 0o644, 0, 0)
	return r
}

func TestConfigure(t *testing.T) {
	r := tree(t)
	if err := Configure(context.Background(), r, nil); err != nil {
		t.Fatal(err)
	}
	b, err := r.ReadFile("etc/ld.so.cache")
	if err != nil {
		t.Fatal(err)
	}
	es, err := Parse(b)
	if err != nil {
		t.Fatal(err)
	}
	// /usr/lib/x86_64-linux-gnu is /lib/x86_64-linux-gnu: listed once,
	// under the name ld.so.conf gives first. The .so link resolves to a
	// file that is not its soname, so ldconfig folds it into that entry;
	// the linker script and the dangling link are not libraries.
	want := []Entry{
		{Flags: FlagX8664Lib64 | FlagELFLibc6, Key: "libattr.so.1", Path: "/lib/x86_64-linux-gnu/libattr.so.1"},
	}
	if len(es) != len(want) {
		t.Fatalf("entries %+v, want %+v", es, want)
	}
	for i := range want {
		if es[i].Key != want[i].Key || es[i].Path != want[i].Path || es[i].Flags != want[i].Flags {
			t.Errorf("entry %d: %+v, want %+v", i, es[i], want[i])
		}
	}
	if !strings.HasSuffix(string(b), "ldconfig (Debian GLIBC 2.41-12+deb13u5) stable release version 2.41") {
		t.Errorf("generator missing: %q", b[len(b)-40:])
	}
}

func TestStringTableSharesTails(t *testing.T) {
	tab, offs := stringTable([]string{"libc.so.6", "/lib/libc.so.6", "libm.so.6"})
	if offs["libc.so.6"] != offs["/lib/libc.so.6"]+5 {
		t.Errorf("libc.so.6 not shared: %v", offs)
	}
	if len(tab) != len("/lib/libc.so.6")+1+len("libm.so.6")+1 {
		t.Errorf("table %q", tab)
	}
}

func TestParseBad(t *testing.T) {
	good := Build([]Entry{{Flags: 0x303, Key: "liba.so.1", Path: "/lib/liba.so.1"}}, "g")
	for name, b := range map[string][]byte{
		"empty":      nil,
		"old format": []byte("ld.so-1.7.0\x00\x00\x00\x00\x00\x00\x00\x00\x00\x00\x00\x00\x00\x00\x00\x00\x00\x00\x00\x00\x00\x00\x00\x00\x00\x00\x00\x00\x00\x00\x00\x00\x00\x00\x00\x00\x00\x00"),
		"truncated":  good[:60],
		"bad offset": append(append([]byte{}, good[:52]...), append([]byte{0xff, 0xff, 0, 0}, good[56:]...)...),
	} {
		if _, err := Parse(b); err == nil || strings.Contains(err.Error(), "\n") {
			t.Errorf("%s: want a one-line error, got %v", name, err)
		}
	}
}

func FuzzParse(f *testing.F) {
	f.Add(Build([]Entry{{Flags: 0x303, Key: "liba.so.1", Path: "/lib/liba.so.1"}, {Flags: 3, Key: "libb.so", Path: "/l/libb.so"}}, "gen"))
	f.Fuzz(func(t *testing.T, b []byte) {
		es, err := Parse(b)
		if err != nil {
			return
		}
		again, err := Parse(Build(es, "x"))
		if err != nil || len(again) != len(es) {
			t.Fatalf("rebuild: %v", err)
		}
	})
}

func BenchmarkBuild(b *testing.B) {
	var es []Entry
	for i := 0; i < 500; i++ {
		k := "libx" + strings.Repeat("y", i%7) + ".so." + string(rune('0'+i%10))
		es = append(es, Entry{Flags: 0x303, Key: k, Path: "/lib/x86_64-linux-gnu/" + k})
	}
	for b.Loop() {
		Build(es, "g")
	}
}
