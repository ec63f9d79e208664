package resolve

import (
	"context"
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"syscall"
	"testing"
	"time"

	"github.com/debatom/debatom/pkg/apt"
)

func smallIndex(t testing.TB) []*apt.Package {
	t.Helper()
	f, err := os.Open(filepath.Join("testdata", "small.pkgs"))
	if err != nil {
		t.Fatal(err)
	}
	defer f.Close()
	pkgs, err := readPackages(f, "small.pkgs")
	if err != nil {
		t.Fatal(err)
	}
	return pkgs
}

// ids lists a plan as "name version" strings.
func ids(plan *Plan) []string {
	var out []string
	for _, p := range plan.Packages {
		out = append(out, p.Name+"="+p.Version)
	}
	return out
}

func TestResolveSmall(t *testing.T) {
	pkgs := smallIndex(t)
	tests := []struct {
		name string
		req  Request
		want string // space-separated name=version, or "error: " + the whole message
	}{
		{"essential", Request{Baseline: "essential"}, "base=1.0"},
		{"minbase", Request{Baseline: "minbase"}, "base=1.0 libc=2.41-1"},
		{"required", Request{Baseline: "required"}, "base=1.0 libc=2.41-1"},
		{"important", Request{Baseline: "important"}, "base=1.0 imp=1 libc=2.41-1"},
		{"standard", Request{Baseline: "standard"}, "base=1.0 imp=1 libc=2.41-1 nullmailer=2 postfix=3 std=1"},
		// The lsb-base trap: once the Essential set is installed, its
		// Provides satisfy plain dependencies; on an empty system apt takes
		// the real package of that name.
		{"provided by essential", Request{Baseline: "essential", Include: []string{"server"}}, "base=1.0 libc=2.41-1 server=1.0"},
		{"empty system", Request{Include: []string{"server"}}, "libc=2.41-1 lsbx=11.0 server=1.0"},
		{"first satisfiable alternative", Request{Include: []string{"alt-user"}}, "alt-user=1 libc=2.41-1"},
		{"provider priority then cache ID", Request{Include: []string{"mta-user"}}, "mta-user=1 nullmailer=2"},
		{"exclude a provider", Request{Include: []string{"mta-user"}, Exclude: []string{"nullmailer"}}, "mta-user=1 postfix=3"},
		{"provider tie goes to the higher ID", Request{Include: []string{"tie-user"}}, "tie-second=1 tie-user=1"},
		{"protected provider first", Request{Include: []string{"prot-user"}}, "prot-b=1 prot-user=1"},
		{"versioned provides", Request{Include: []string{"vuser"}}, "vprov-new=1 vuser=1"},
		{"selected alternative satisfies", Request{Include: []string{"exim", "mta-user"}}, "exim=4 mta-user=1"},
		{"conflicting alternative skipped", Request{Include: []string{"cuser"}}, "cgood=1 cuser=1"},
		{"highest version", Request{Include: []string{"multi"}}, "libc=2.41-1 multi=2.0"},
		{"pinned version", Request{Include: []string{"multi=1.0"}}, "multi=1.0"},
		{"recommends off", Request{Include: []string{"recsuser"}}, "recsuser=1"},
		{"recommends on", Request{Include: []string{"recsuser"}, Recommends: true}, "lsbx=11.0 recsuser=1"},
		{"any qualifier", Request{Include: []string{"anyuser"}}, "anyuser=1 tool=1"},
		{"cycle", Request{Include: []string{"cyc-a"}}, "cyc-a=1 cyc-b=1 libc=2.41-1"},
		{"breaks unrelated", Request{Include: []string{"brk"}}, "brk=1"},

		{"unsatisfiable alternatives", Request{Include: []string{"want-foo2"}},
			"error: resolve: cannot install want-foo2: want-foo2 depends on libfoo (>= 2) | libbar; no libfoo >= 2 (have 1.0-1), libbar is not in the index"},
		{"chain", Request{Include: []string{"chain-a"}},
			"error: resolve: cannot install chain-a: chain-a depends on chain-b; chain-b pre-depends on chain-c (>= 1); chain-c depends on missing-lib; missing-lib is not in the index"},
		{"excluded dependency", Request{Include: []string{"server"}, Exclude: []string{"libc"}},
			"error: resolve: cannot install server: server depends on libc (>= 2.40); libc is excluded"},
		{"any needs allowed", Request{Include: []string{"badany"}},
			"error: resolve: cannot install badany: badany depends on libc:any; libc is not Multi-Arch: allowed, so libc:any cannot be met"},
		{"foreign qualifier", Request{Include: []string{"foreignuser"}},
			"error: resolve: cannot install foreignuser: foreignuser depends on libc:i386; libc:i386 needs architecture i386, which is not configured (only amd64)"},
		{"foreign package", Request{Include: []string{"only386"}},
			"error: resolve: package only386 exists only for architecture i386, not amd64"},
		{"unknown package", Request{Include: []string{"nope"}},
			"error: resolve: package nope is not in the index"},
		{"virtual package", Request{Include: []string{"mail-transport-agent"}},
			"error: resolve: mail-transport-agent is a virtual package provided by exim, postfix, nullmailer: name one of them"},
		{"unknown version", Request{Include: []string{"multi=3"}},
			"error: resolve: multi has no version 3 (have 1.0, 2.0)"},
		{"requested conflict", Request{Include: []string{"x-one", "x-two"}},
			"error: resolve: the requested packages cannot be installed together: x-one 1 conflicts with x-two 1 (x-two)"},
		{"requested breaks", Request{Baseline: "minbase", Include: []string{"brk"}},
			"error: resolve: the requested packages cannot be installed together: brk 1 breaks libc 2.41-1 (libc (<< 3))"},
		{"requested package unmarked by a conflict", Request{Include: []string{"x-two", "drop-user"}},
			"error: resolve: cannot install x-two: dropper 1 conflicts with x-two 1 (x-two), and dropper was chosen"},
		{"bad baseline", Request{Baseline: "huge"},
			`error: resolve: unknown baseline "huge" (want essential, minbase, required, important or standard)`},
		{"include and exclude", Request{Include: []string{"libc"}, Exclude: []string{"libc"}},
			"error: resolve: libc is both included and excluded"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			req := tt.req
			req.Arch = "amd64"
			plan, err := Resolve(context.Background(), pkgs, req)
			if want, ok := strings.CutPrefix(tt.want, "error: "); ok {
				if err == nil {
					t.Fatalf("got plan %v, want error %q", ids(plan), want)
				}
				if err.Error() != want {
					t.Fatalf("error\n %q\nwant\n %q", err, want)
				}
				return
			}
			if err != nil {
				t.Fatal(err)
			}
			if got := strings.Join(ids(plan), " "); got != tt.want {
				t.Errorf("plan %q, want %q", got, tt.want)
			}
		})
	}
}

func TestResolveNoArch(t *testing.T) {
	if _, err := Resolve(context.Background(), smallIndex(t), Request{Baseline: "minbase"}); err == nil {
		t.Error("Resolve without an architecture succeeded")
	}
}

func TestResolveCanceled(t *testing.T) {
	ctx, cancel := context.WithCancel(context.Background())
	cancel()
	_, err := Resolve(ctx, smallIndex(t), Request{Arch: "amd64", Baseline: "minbase"})
	if !errors.Is(err, context.Canceled) {
		t.Errorf("err = %v, want context.Canceled", err)
	}
}

func TestCheck(t *testing.T) {
	byName := map[string]*apt.Package{}
	for _, p := range smallIndex(t) {
		byName[p.Name] = p // the later "multi" wins
	}
	pick := func(names ...string) []*apt.Package {
		var out []*apt.Package
		for _, n := range names {
			out = append(out, byName[n])
		}
		return out
	}
	tests := []struct {
		names []string
		want  string
	}{
		{[]string{"libc", "server", "base"}, ""},
		{[]string{"server"}, "server depends on libc (>= 2.40), unmet: libc is not in the index; server depends on lsbx, unmet: lsbx is not in the index"},
		{[]string{"cuser", "cbad"}, "cbad 1 conflicts with cuser 1 (cuser)"},
		{[]string{"libc", "brk"}, "brk 1 breaks libc 2.41-1 (libc (<< 3))"},
		{[]string{"libc", "libc"}, "package libc appears twice (2.41-1 and 2.41-1)"},
		{[]string{"only386"}, "package only386 is for architecture i386, not amd64"},
	}
	for _, tt := range tests {
		err := Check(pick(tt.names...), "amd64")
		got := ""
		if err != nil {
			got = err.Error()
		}
		if got != tt.want {
			t.Errorf("Check(%v) = %q, want %q", tt.names, got, tt.want)
		}
	}
}

// TestMinbaseReal resolves minbase on the full real index: the 78
// packages are all in the archive's closure list (PACKAGES.txt, written by
// dpkg after a real installation). oracle_test.go compares with a live
// mmdebstrap run.
func TestMinbaseReal(t *testing.T) {
	pkgs := realIndex(t)
	plan, err := Resolve(context.Background(), pkgs, Request{Arch: "amd64", Baseline: "minbase"})
	if err != nil {
		t.Fatal(err)
	}
	if len(plan.Packages) != 78 {
		t.Errorf("minbase has %d packages, want 78", len(plan.Packages))
	}
	closure := archiveList(t)
	for _, p := range plan.Packages {
		if !slices.Contains(closure, p.Name+"_"+p.Version+"_"+p.Architecture) {
			t.Errorf("%s is not in PACKAGES.txt", p.ID())
		}
	}
	for _, name := range []string{"apt", "dpkg", "base-files", "sysvinit-utils"} {
		if !slices.ContainsFunc(plan.Packages, func(p *apt.Package) bool { return p.Name == name }) {
			t.Errorf("minbase lacks %s", name)
		}
	}
}

// TestArchiveSetReal is oracle (2): minbase plus the README's include list
// must be exactly the 213 packages of PACKAGES.txt, without lsb-base.
func TestArchiveSetReal(t *testing.T) {
	pkgs := realIndex(t)
	includes := archiveIncludes(t)
	if len(includes) != 35 {
		t.Fatalf("read %d includes from the archive README, want 35: %v", len(includes), includes)
	}
	plan, err := Resolve(context.Background(), pkgs, Request{Arch: "amd64", Baseline: "minbase", Include: includes})
	if err != nil {
		t.Fatal(err)
	}
	var got []string
	for _, p := range plan.Packages {
		got = append(got, p.Name+"_"+p.Version+"_"+p.Architecture)
	}
	want := archiveList(t)
	if len(want) != 213 {
		t.Fatalf("PACKAGES.txt has %d entries", len(want))
	}
	diffLists(t, got, want)

	// Without the Essential-first phase, apt on an empty system (what
	// --simulate shows) takes the real lsb-base for openssh-server.
	flat, err := Resolve(context.Background(), pkgs, Request{Arch: "amd64", Include: []string{"openssh-server"}})
	if err != nil {
		t.Fatal(err)
	}
	if !slices.ContainsFunc(flat.Packages, func(p *apt.Package) bool { return p.Name == "lsb-base" }) {
		t.Error("openssh-server alone on an empty system did not pull lsb-base")
	}
}

func diffLists(t *testing.T, got, want []string) {
	t.Helper()
	slices.Sort(got)
	slices.Sort(want)
	for _, g := range got {
		if _, ok := slices.BinarySearch(want, g); !ok {
			t.Errorf("extra: %s", g)
		}
	}
	for _, w := range want {
		if _, ok := slices.BinarySearch(got, w); !ok {
			t.Errorf("missing: %s", w)
		}
	}
}

// TestDeterministic resolves the same request twice and expects the same
// plan, entry for entry (map iteration must not leak into choices).
func TestDeterministic(t *testing.T) {
	pkgs := realIndex(t)
	req := Request{Arch: "amd64", Baseline: "standard", Include: archiveIncludes(t), Recommends: true}
	var first []string
	for i := 0; i < 3; i++ {
		plan, err := Resolve(context.Background(), pkgs, req)
		if err != nil {
			t.Fatal(err)
		}
		got := ids(plan)
		if i == 0 {
			first = got
			continue
		}
		if !slices.Equal(got, first) {
			t.Fatalf("run %d differs from run 0", i)
		}
	}
	if len(first) < 250 {
		t.Errorf("standard + recommends gave only %d packages", len(first))
	}
}

func TestUnsatisfiableReal(t *testing.T) {
	pkgs := realIndex(t)
	_, err := Resolve(context.Background(), pkgs, Request{Arch: "amd64", Include: []string{"openssh-server"}, Exclude: []string{"libc6"}})
	if err == nil || !strings.Contains(err.Error(), "libc6 is excluded") || strings.Contains(err.Error(), "\n") {
		t.Errorf("excluding libc6: err = %v", err)
	}
}

func BenchmarkResolveMinbase(b *testing.B) {
	benchResolve(b, Request{Arch: "amd64", Baseline: "minbase"})
}

func BenchmarkResolveArchiveSet(b *testing.B) {
	benchResolve(b, Request{Arch: "amd64", Baseline: "minbase", Include: archiveIncludes(b)})
}

func benchResolve(b *testing.B, req Request) {
	pkgs := realIndex(b)
	b.ReportAllocs()
	var ru0, ru1 syscall.Rusage
	syscall.Getrusage(syscall.RUSAGE_SELF, &ru0)
	n := 0
	for b.Loop() {
		if _, err := Resolve(context.Background(), pkgs, req); err != nil {
			b.Fatal(err)
		}
		n++
	}
	syscall.Getrusage(syscall.RUSAGE_SELF, &ru1)
	// CPU time (all threads, GC included) is steadier than wall time on a
	// shared machine.
	cpu := (ru1.Utime.Nano() + ru1.Stime.Nano()) - (ru0.Utime.Nano() + ru0.Stime.Nano())
	b.ReportMetric(float64(cpu)/1e6/float64(n), "cpu-ms/op")
}

// TestStepBudget builds an index where apt-style marking (retrying
// alternatives without memory) is exponential: level i depends on
// "pI | qI", both of which depend on level i+1, and the last level is
// missing. Resolve must give up with a clear error instead of hanging.
func TestStepBudget(t *testing.T) {
	var b strings.Builder
	const levels = 40
	fmt.Fprintf(&b, "Package: top\nVersion: 1\nArchitecture: amd64\nDepends: p0 | q0\n\n")
	for i := 0; i < levels; i++ {
		for _, n := range []string{"p", "q"} {
			fmt.Fprintf(&b, "Package: %s%d\nVersion: 1\nArchitecture: amd64\nDepends: p%d | q%d\n\n", n, i, i+1, i+1)
		}
	}
	pkgs, err := readPackages(strings.NewReader(b.String()), "chain")
	if err != nil {
		t.Fatal(err)
	}
	start := time.Now()
	_, err = Resolve(context.Background(), pkgs, Request{Arch: "amd64", Include: []string{"top"}})
	if err == nil || !strings.Contains(err.Error(), "gave up after") {
		t.Fatalf("err = %v, want the step budget error", err)
	}
	if d := time.Since(start); d > 30*time.Second {
		t.Errorf("giving up took %v", d)
	}
}
