package resolve

import (
	"bytes"
	"context"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"slices"
	"strings"
	"syscall"
	"testing"
	"time"

	"github.com/debatom/debatom/internal/testenv"
	"github.com/debatom/debatom/pkg/apt"
)

// aptRoot is a throwaway apt configuration whose only source is the
// frozen archive, with an empty dpkg status: what apt sees on an empty
// system.
type aptRoot struct {
	aptGet string
	conf   string
	dir    string
}

func newAptRoot(t testing.TB) *aptRoot {
	t.Helper()
	aptGet := testenv.Tool(t, "apt-get")
	archive := testenv.Archive(t)
	keyring := testenv.Keyring(t)
	dir := t.TempDir()
	for _, d := range []string{"etc/apt/apt.conf.d", "etc/apt/preferences.d", "etc/apt/sources.list.d",
		"etc/apt/trusted.gpg.d", "var/lib/dpkg", "var/lib/apt/lists/partial", "var/cache/apt/archives/partial", "var/log/apt"} {
		if err := os.MkdirAll(filepath.Join(dir, d), 0o755); err != nil {
			t.Fatal(err)
		}
	}
	files := map[string]string{
		"var/lib/dpkg/status":  "",
		"etc/apt/sources.list": fmt.Sprintf("deb [signed-by=%s] file://%s trixie main\n", keyring, archive),
		"apt.conf": fmt.Sprintf(`Dir "%[1]s/";
Dir::State::Status "%[1]s/var/lib/dpkg/status";
APT::Architecture "amd64";
APT::Architectures "amd64";
APT::Install-Recommends "false";
Acquire::Languages "none";
APT::Sandbox::User "root";
pkgCacheGen::ForceEssential ",";
`, dir),
	}
	for name, body := range files {
		if err := os.WriteFile(filepath.Join(dir, name), []byte(body), 0o644); err != nil {
			t.Fatal(err)
		}
	}
	a := &aptRoot{aptGet: aptGet, conf: filepath.Join(dir, "apt.conf"), dir: dir}
	a.run(t, "update")
	return a
}

func (a *aptRoot) run(t testing.TB, args ...string) string {
	out, _ := a.runCPU(t, args...)
	return out
}

// runCPU runs apt-get and also returns the CPU time it used (user+system),
// a figure the machine's load barely disturbs.
func (a *aptRoot) runCPU(t testing.TB, args ...string) (string, time.Duration) {
	t.Helper()
	cmd := exec.Command(a.aptGet, args...)
	cmd.Env = append(os.Environ(), "APT_CONFIG="+a.conf, "LC_ALL=C")
	out, err := cmd.CombinedOutput()
	if err != nil {
		t.Fatalf("apt-get %s: %v\n%s", strings.Join(args, " "), err, out)
	}
	return string(out), cmd.ProcessState.UserTime() + cmd.ProcessState.SystemTime()
}

// simulate returns the "name=version" list apt-get --simulate would
// install.
func (a *aptRoot) simulate(t testing.TB, args ...string) []string {
	got, _ := a.simulateCPU(t, args...)
	return got
}

func (a *aptRoot) simulateCPU(t testing.TB, args ...string) ([]string, time.Duration) {
	t.Helper()
	out, cpu := a.runCPU(t, append([]string{"install", "--simulate", "-qq"}, args...)...)
	var got []string
	for _, l := range strings.Split(out, "\n") {
		f := strings.Fields(l)
		if len(f) >= 3 && f[0] == "Inst" {
			got = append(got, f[1]+"="+strings.TrimPrefix(f[2], "("))
		}
	}
	return got, cpu
}

// TestOracleAptGetSimulate checks the resolver without a baseline against
// apt-get on an empty system, one request at a time. The packages are
// picked for what they exercise: lsb-base on an empty system
// (openssh-server), virtual packages with several providers (mutt: its
// mail-transport-agent), a candidate whose Conflicts unmark an earlier
// choice (libreoffice-writer: -core against -core-nogui), and large
// closures.
func TestOracleAptGetSimulate(t *testing.T) {
	pkgs := realIndex(t)
	a := newAptRoot(t)
	names := []string{"openssh-server", "mutt", "libreoffice-writer", "xorg", "postgresql", "emacs-nox"}
	if testing.Short() {
		names = names[:3]
	}
	for _, name := range names {
		want := a.simulate(t, name)
		plan, err := Resolve(context.Background(), pkgs, Request{Arch: "amd64", Include: []string{name}})
		if err != nil {
			t.Errorf("%s: %v", name, err)
			continue
		}
		if len(want) < 5 {
			t.Fatalf("apt-get installs only %v for %s: the throwaway root is broken", want, name)
		}
		t.Logf("%s: %d packages", name, len(want))
		diffLists(t, ids(plan), want)
	}
	if testing.Short() {
		return
	}
	// With Recommends: the choices multiply (openssh-server pulls xauth
	// and ncurses-term, mutt a whole MTA setup).
	for _, name := range []string{"openssh-server", "mutt"} {
		want := a.simulate(t, "-o", "APT::Install-Recommends=true", name)
		plan, err := Resolve(context.Background(), pkgs, Request{Arch: "amd64", Include: []string{name}, Recommends: true})
		if err != nil {
			t.Errorf("%s with Recommends: %v", name, err)
			continue
		}
		t.Logf("%s with Recommends: %d packages", name, len(want))
		diffLists(t, ids(plan), want)
	}
}

// archiveRequest is minbase plus the archive's include list, as one
// apt-get command and as a Request.
func archiveRequest(t testing.TB) (aptArgs []string, req Request) {
	inc := archiveIncludes(t)
	aptArgs = append([]string{"?narrow(?architecture(amd64),?or(?essential,?priority(required)))"}, inc...)
	return aptArgs, Request{Arch: "amd64", Baseline: "minbase", Include: inc}
}

// TestAptGetArchiveSet checks that apt-get, given the archive's request as
// one command, installs the same packages as Resolve: in one command the
// Essential packages are marked before anything else, so sysvinit-utils
// already provides lsb-base and apt's set is the two-phase set too.
// BenchmarkAgainstAptGet times the same request.
func TestAptGetArchiveSet(t *testing.T) {
	pkgs := realIndex(t)
	a := newAptRoot(t)
	args, req := archiveRequest(t)
	want := a.simulate(t, args...)
	plan, err := Resolve(context.Background(), pkgs, req)
	if err != nil {
		t.Fatal(err)
	}
	if len(want) < 100 {
		t.Fatalf("apt-get installs only %d packages: the throwaway root is broken", len(want))
	}
	diffLists(t, ids(plan), want)
}

// BenchmarkAgainstAptGet runs apt-get install --simulate (warm
// pkgcache.bin) and Resolve (index already parsed) on the archive's
// request in each iteration and reports both CPU times (user + system;
// apt-get's from its rusage, ours from this process's, garbage collector
// included) and the ratios apt-get / Resolve; bench/resolve/RESULTS.md
// records them. ns/op is the sum of both.
func BenchmarkAgainstAptGet(b *testing.B) {
	pkgs := realIndex(b)
	a := newAptRoot(b)
	args, req := archiveRequest(b)
	a.simulate(b, args...) // builds pkgcache.bin
	var aptWall, aptCPU, oursWall, oursCPU time.Duration
	for b.Loop() {
		start := time.Now()
		_, cpu := a.simulateCPU(b, args...)
		aptWall += time.Since(start)
		aptCPU += cpu
		start, cpuStart := time.Now(), processCPU(b)
		if _, err := Resolve(context.Background(), pkgs, req); err != nil {
			b.Fatal(err)
		}
		oursWall += time.Since(start)
		oursCPU += processCPU(b) - cpuStart
	}
	n := float64(b.N)
	b.ReportMetric(float64(aptCPU)/float64(time.Millisecond)/n, "apt-cpu-ms/op")
	b.ReportMetric(float64(oursCPU)/float64(time.Millisecond)/n, "resolve-cpu-ms/op")
	b.ReportMetric(float64(aptCPU)/float64(oursCPU), "apt/resolve-cpu")
	b.ReportMetric(float64(aptWall)/float64(oursWall), "apt/resolve-wall")
}

// processCPU is the CPU time this process has used (all threads, so it
// includes the garbage collector's share).
func processCPU(t testing.TB) time.Duration {
	var ru syscall.Rusage
	if err := syscall.Getrusage(syscall.RUSAGE_SELF, &ru); err != nil {
		t.Fatal(err)
	}
	return time.Duration(ru.Utime.Nano() + ru.Stime.Nano())
}

// TestOracleAptGetBaselines replays mmdebstrap's two apt runs with
// apt-get itself for the baselines a real mmdebstrap run would take too
// long for: first `?essential` on an empty system, then, with those
// packages written into dpkg's status file as installed, the priority
// pattern mmdebstrap uses for --variant=important and standard.
func TestOracleAptGetBaselines(t *testing.T) {
	if testing.Short() {
		t.Skip("runs apt-get five times")
	}
	pkgs := realIndex(t)
	byID := map[string]*apt.Package{}
	for _, p := range pkgs {
		byID[p.Name+"="+p.Version] = p
	}
	a := newAptRoot(t)
	ess := a.simulate(t, "?narrow(?architecture(amd64),?essential)")
	plan, err := Resolve(context.Background(), pkgs, Request{Arch: "amd64", Baseline: "essential"})
	if err != nil {
		t.Fatal(err)
	}
	diffLists(t, ids(plan), ess)

	var status bytes.Buffer
	for _, id := range ess {
		p := byID[id]
		if p == nil {
			t.Fatalf("apt-get installs %s, which is not in the index", id)
		}
		if _, err := p.Paragraph.WriteTo(&status); err != nil {
			t.Fatal(err)
		}
		status.WriteString("Status: install ok installed\n\n")
	}
	if err := os.WriteFile(filepath.Join(a.dir, "var/lib/dpkg/status"), status.Bytes(), 0o644); err != nil {
		t.Fatal(err)
	}
	for _, tc := range []struct{ baseline, prios string }{
		{"important", "?priority(required),?priority(important)"},
		{"standard", "?priority(required),?priority(important),?priority(standard)"},
	} {
		rest := a.simulate(t, "?narrow(?architecture(amd64),?and(?or("+tc.prios+"),?not(?essential)))")
		plan, err := Resolve(context.Background(), pkgs, Request{Arch: "amd64", Baseline: tc.baseline})
		if err != nil {
			t.Fatal(err)
		}
		t.Logf("%s: %d packages", tc.baseline, len(plan.Packages))
		diffLists(t, ids(plan), append(slices.Clone(ess), rest...))
	}
}
