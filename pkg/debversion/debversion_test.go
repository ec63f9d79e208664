package debversion

import (
	"bufio"
	"bytes"
	"errors"
	"math/rand/v2"
	"os"
	"os/exec"
	"path/filepath"
	"regexp"
	"slices"
	"strings"
	"testing"

	"github.com/debatom/debatom/internal/testenv"
	"github.com/ulikunitz/xz"
)

// readLines returns the non-comment, non-empty lines of a testdata file.
func readLines(t *testing.T, name string) []string {
	t.Helper()
	b, err := os.ReadFile(filepath.Join("testdata", name))
	if err != nil {
		t.Fatal(err)
	}
	var out []string
	for _, l := range strings.Split(string(b), "\n") {
		if l == "" || strings.HasPrefix(l, "#") {
			continue
		}
		out = append(out, l)
	}
	return out
}

func TestCompareVectors(t *testing.T) {
	want := map[string]int{"<": -1, "=": 0, ">": 1}
	for _, l := range readLines(t, "compare.txt") {
		f := strings.Fields(l)
		if len(f) != 3 {
			t.Fatalf("bad testdata line %q", l)
		}
		w, ok := want[f[1]]
		if !ok {
			t.Fatalf("bad operator in %q", l)
		}
		if got := Compare(f[0], f[2]); got != w {
			t.Errorf("Compare(%q, %q) = %d, want %d", f[0], f[2], got, w)
		}
		if got := Compare(f[2], f[0]); got != -w {
			t.Errorf("Compare(%q, %q) = %d, want %d", f[2], f[0], got, -w)
		}
	}
}

func TestParse(t *testing.T) {
	tests := []struct {
		in   string
		want Version
	}{
		{"0", Version{0, "0", ""}},
		{"0:0", Version{0, "0", ""}},
		{"0:0-", Version{0, "0", ""}},
		{"1:0", Version{1, "0", ""}},
		{"5:1", Version{5, "1", ""}},
		{"0:0-0-0", Version{0, "0-0", "0"}},
		{"0:0:0-0", Version{0, "0:0", "0"}},
		{"0:0-0:0-0", Version{0, "0-0:0", "0"}},
		{"0:09azAZ.-+~:-0", Version{0, "09azAZ.-+~:", "0"}},
		{"0:0-azAZ09.+~", Version{0, "0", "azAZ09.+~"}},
		{"  \t0:0-1", Version{0, "0", "1"}},
		{"0:0-1\t  ", Version{0, "0", "1"}},
		{"2147483647:1", Version{2147483647, "1", ""}},
		{"1:2.41.5-0+deb13u1", Version{1, "2.41.5", "0+deb13u1"}},
	}
	for _, tt := range tests {
		got, err := Parse(tt.in)
		if err != nil {
			t.Errorf("Parse(%q): %v", tt.in, err)
			continue
		}
		if got != tt.want {
			t.Errorf("Parse(%q) = %+v, want %+v", tt.in, got, tt.want)
		}
	}
}

func TestParseInvalid(t *testing.T) {
	for _, l := range readLines(t, "invalid.txt") {
		if l == "<empty>" {
			l = ""
		}
		_, err := Parse(l)
		if err == nil {
			t.Errorf("Parse(%q) accepted a bad version", l)
			continue
		}
		if msg := err.Error(); strings.Contains(msg, "\n") || !strings.Contains(msg, "version") {
			t.Errorf("Parse(%q) error %q is not one line naming the version", l, msg)
		}
	}
}

func TestStringRoundTrip(t *testing.T) {
	for _, s := range []string{"1.0", "1:1.0", "1.0-1", "1:2.41.5-0+deb13u1", "0.1-2-3"} {
		v, err := Parse(s)
		if err != nil {
			t.Fatal(err)
		}
		if v.String() != s {
			t.Errorf("Parse(%q).String() = %q", s, v.String())
		}
	}
	if v, _ := Parse("0:1.0-"); v.String() != "1.0" {
		t.Errorf("canonical form of 0:1.0- is %q, want 1.0", v.String())
	}
}

// indexVersions returns every Version field of the frozen archive's index.
func indexVersions(t testing.TB) []string {
	t.Helper()
	dir := testenv.Archive(t)
	f, err := os.Open(filepath.Join(dir, "dists/trixie/main/binary-amd64/Packages.xz"))
	if err != nil {
		t.Fatal(err)
	}
	defer f.Close()
	r, err := xz.NewReader(bufio.NewReaderSize(f, 1<<20))
	if err != nil {
		t.Fatal(err)
	}
	var out []string
	s := bufio.NewScanner(r)
	s.Buffer(nil, 1<<24)
	for s.Scan() {
		if v, ok := bytes.CutPrefix(s.Bytes(), []byte("Version: ")); ok {
			out = append(out, string(v))
		}
	}
	if err := s.Err(); err != nil {
		t.Fatal(err)
	}
	return out
}

// TestIndexVersionsParse checks that the strict parser accepts every
// version of the real Debian 13 index.
func TestIndexVersionsParse(t *testing.T) {
	vs := indexVersions(t)
	if len(vs) != 68829 {
		t.Errorf("index has %d versions, want 68829", len(vs))
	}
	for _, v := range vs {
		if _, err := Parse(v); err != nil {
			t.Errorf("real index version rejected: %v", err)
		}
	}
}

// TestAgainstDpkg compares with `dpkg --compare-versions` on pairs drawn
// from the real index: neighbours in sorted order (the hard cases: they
// share long prefixes) and random pairs.
func TestAgainstDpkg(t *testing.T) {
	dpkg := testenv.Tool(t, "dpkg")
	vs := indexVersions(t)
	slices.Sort(vs)
	vs = slices.Compact(vs)
	rng := rand.New(rand.NewPCG(1, 2))
	n := 2500
	if testing.Short() {
		n = 200
	}
	type pair struct{ a, b string }
	var pairs []pair
	for i := 0; i < n; i++ {
		if i%2 == 0 {
			j := rng.IntN(len(vs) - 1)
			pairs = append(pairs, pair{vs[j], vs[j+1]})
		} else {
			pairs = append(pairs, pair{vs[rng.IntN(len(vs))], vs[rng.IntN(len(vs))]})
		}
	}
	// Hand-picked edge cases ride along.
	pairs = append(pairs, pair{"1.0~rc1", "1.0"}, pair{"1.0", "1.0-0"}, pair{"1:1", "2"}, pair{"1.0a", "1.0+"})
	for _, p := range pairs {
		want := dpkgCompare(t, dpkg, p.a, p.b)
		if got := Compare(p.a, p.b); got != want {
			t.Errorf("Compare(%q, %q) = %d, dpkg says %d", p.a, p.b, got, want)
		}
	}
}

func dpkgCompare(t *testing.T, dpkg, a, b string) int {
	for _, c := range []struct {
		op  string
		res int
	}{{"lt", -1}, {"eq", 0}} {
		err := exec.Command(dpkg, "--compare-versions", a, c.op, b).Run()
		if err == nil {
			return c.res
		}
		var ee *exec.ExitError
		if !errors.As(err, &ee) || ee.ExitCode() != 1 {
			t.Fatalf("dpkg --compare-versions %s %s %s: %v", a, c.op, b, err)
		}
	}
	return 1
}

var versionChars = regexp.MustCompile(`^[0-9A-Za-z.+~:-]*$`)

// FuzzCompare checks that Compare is a total order: antisymmetric,
// reflexive, transitive, and consistent with Parse.
func FuzzCompare(f *testing.F) {
	for _, s := range [][3]string{
		{"1.0", "1.0~rc1", "1:0.9"},
		{"2.41-12+deb13u5", "2.41-12", "2.41"},
		{"~~", "~", ""},
		{"a", "0:", "1.0-"},
		{"1.02", "1.2", "1.10"},
	} {
		f.Add(s[0], s[1], s[2])
	}
	f.Fuzz(func(t *testing.T, a, b, c string) {
		ab, ba := Compare(a, b), Compare(b, a)
		if ab != -ba {
			t.Fatalf("Compare(%q,%q)=%d but Compare(%q,%q)=%d", a, b, ab, b, a, ba)
		}
		if Compare(a, a) != 0 {
			t.Fatalf("Compare(%q,%q) != 0", a, a)
		}
		bc, ac := Compare(b, c), Compare(a, c)
		if ab <= 0 && bc <= 0 && ac > 0 {
			t.Fatalf("not transitive: %q <= %q <= %q but %q > %q", a, b, c, a, c)
		}
		if ab == 0 && bc == 0 && ac != 0 {
			t.Fatalf("equality not transitive: %q %q %q", a, b, c)
		}
		if v, err := Parse(a); err == nil {
			if !versionChars.MatchString(strings.TrimSpace(a)) {
				t.Fatalf("Parse accepted %q", a)
			}
			if Compare(v.String(), a) != 0 {
				t.Fatalf("canonical %q of %q compares unequal", v.String(), a)
			}
		}
	})
}

func BenchmarkCompare(b *testing.B) {
	pairs := [][2]string{
		{"2.41-12+deb13u5", "2.41-12+deb13u4"},
		{"1:4.16.0-2+really2.41.5-0+deb13u1", "1:4.17.4-2"},
		{"6.5+20250216-2", "6.5+20250216-2"},
		{"1.69~deb13u1", "1.69"},
	}
	b.ReportAllocs()
	for i := 0; b.Loop(); i++ {
		p := pairs[i%len(pairs)]
		Compare(p[0], p[1])
	}
}

// BenchmarkSortIndex sorts every version of the real index.
func BenchmarkSortIndex(b *testing.B) {
	vs := indexVersions(b)
	b.ResetTimer()
	for b.Loop() {
		c := slices.Clone(vs)
		slices.SortFunc(c, Compare)
	}
}
