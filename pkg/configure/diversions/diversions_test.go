package diversions

import (
	"bytes"
	"os"
	"strings"
	"testing"

	"github.com/debatom/debatom/pkg/configure/sysroot"
	"github.com/debatom/debatom/pkg/fstree"
)

// preinsts of the frozen archive's packages that call dpkg-divert; the
// reference installation's database holds exactly what they add on a
// fresh installation (testdata/trixie-213.diversions).
var preinsts = []string{"base-files", "gzip", "libc6", "libext2fs2t64", "libreadline8t64", "libtirpc3t64", "openssh-server"}

func root(t testing.TB, names []string) *sysroot.Root {
	t.Helper()
	var pkgs []*sysroot.Package
	for _, n := range names {
		b, err := os.ReadFile("testdata/" + n + ".preinst")
		if err != nil {
			t.Fatal(err)
		}
		pkgs = append(pkgs, &sysroot.Package{Name: n, Scripts: map[string][]byte{"preinst": b}})
	}
	return sysroot.New(fstree.New(), nil, pkgs)
}

func TestConfigureMatchesReference(t *testing.T) {
	want, err := os.ReadFile("testdata/trixie-213.diversions")
	if err != nil {
		t.Fatal(err)
	}
	// Any unpack order gives the same file.
	rev := append([]string(nil), preinsts...)
	for i, j := 0, len(rev)-1; i < j; i, j = i+1, j-1 {
		rev[i], rev[j] = rev[j], rev[i]
	}
	for _, order := range [][]string{preinsts, rev} {
		r := root(t, order)
		if err := Configure(r); err != nil {
			t.Fatal(err)
		}
		got, err := r.ReadFile(DB)
		if err != nil {
			t.Fatal(err)
		}
		if !bytes.Equal(got, want) {
			t.Errorf("order %v:\n%s\nwant\n%s", order, got, want)
		}
	}
}

func TestParseFormatRoundTrip(t *testing.T) {
	b, err := os.ReadFile("testdata/trixie-213.diversions")
	if err != nil {
		t.Fatal(err)
	}
	ds, err := Parse("ref", b)
	if err != nil {
		t.Fatal(err)
	}
	if len(ds) != 14 || ds[4] != (Diversion{"/lib64/ld-linux-x86-64.so.2", "/lib64/ld-linux-x86-64.so.2.usr-is-merged", "libc6"}) {
		t.Errorf("parsed %d: %+v", len(ds), ds)
	}
	// Format orders by dpkg's hash table whatever the input order.
	rev := append([]Diversion(nil), ds...)
	for i, j := 0, len(rev)-1; i < j; i, j = i+1, j-1 {
		rev[i], rev[j] = rev[j], rev[i]
	}
	if got := Format(rev); !bytes.Equal(got, b) {
		t.Errorf("Format:\n%s\nwant\n%s", got, b)
	}
}

func TestParseBad(t *testing.T) {
	for _, in := range []string{
		"/a\n/b\n",
		"/a\n/b\npkg",
		"a\n/b\npkg\n",
		"/a\n/a\npkg\n",
		"/a\n/b\n\n",
		"/a\n/b\np q\n",
	} {
		ds, err := Parse("db", []byte(in))
		if err == nil {
			t.Errorf("%q: got %+v, want an error", in, ds)
			continue
		}
		if msg := err.Error(); strings.Contains(msg, "\n") || !strings.HasPrefix(msg, "db") {
			t.Errorf("%q: error %q is not one line naming the file", in, msg)
		}
	}
}

func TestCalls(t *testing.T) {
	for _, tc := range []struct {
		name, script, want string
	}{
		{"default package and name", "dpkg-divert --add /usr/bin/x\n", "/usr/bin/x\n/usr/bin/x.distrib\np\n"},
		{"local", "dpkg-divert --local --divert /y /x\n", "/x\n/y\n:\n"},
		{"add then remove", "dpkg-divert --divert /y /x\ndpkg-divert --remove --divert /y /x\n", ""},
		{"upgrade only", "if [ \"$1\" = upgrade ]; then\ndpkg-divert --divert /y /x\nfi\n", ""},
		{"query", "dpkg-divert --truename /x\n", ""},
		{"loop", "for f in a b; do\n  dpkg-divert --divert /$f.d /$f\ndone\n", "/a\n/a.d\np\n/b\n/b.d\np\n"},
		{"unknown variable", "dpkg-divert --divert /$x.d /$x\n", ""},
	} {
		t.Run(tc.name, func(t *testing.T) {
			r := sysroot.New(fstree.New(), nil, []*sysroot.Package{{Name: "p", Scripts: map[string][]byte{"preinst": []byte(tc.script)}}})
			if err := Configure(r); err != nil {
				t.Fatal(err)
			}
			got, _ := r.ReadFile(DB)
			ds, err := Parse("got", got)
			if err != nil {
				t.Fatal(err)
			}
			if w, _ := Parse("want", []byte(tc.want)); string(Format(ds)) != string(Format(w)) {
				t.Errorf("got %q, want %q", got, tc.want)
			}
		})
	}
}

func FuzzParse(f *testing.F) {
	b, err := os.ReadFile("testdata/trixie-213.diversions")
	if err != nil {
		f.Fatal(err)
	}
	f.Add(b)
	f.Add([]byte("/a\n/b\n:\n"))
	f.Fuzz(func(t *testing.T, b []byte) {
		ds, err := Parse("fuzz", b)
		if err != nil {
			return
		}
		again, err := Parse("again", Format(ds))
		if err != nil || len(again) != len(ds) {
			t.Fatalf("formatted output does not parse back: %v", err)
		}
	})
}

func BenchmarkConfigure(b *testing.B) {
	for b.Loop() {
		r := root(b, preinsts)
		if err := Configure(r); err != nil {
			b.Fatal(err)
		}
	}
}
