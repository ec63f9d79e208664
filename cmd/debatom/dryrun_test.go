package main

import (
	"bytes"
	"crypto"
	"crypto/sha256"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/ProtonMail/go-crypto/openpgp"
	"github.com/ProtonMail/go-crypto/openpgp/clearsign"
	"github.com/ProtonMail/go-crypto/openpgp/packet"

	"github.com/debatom/debatom/internal/testenv"
	"github.com/debatom/debatom/pkg/apt"
)

// conflictArchive is pkg/compose's small signed test repository (alpha,
// beta, gamma), suite trixie.
func conflictArchive(t *testing.T) string {
	t.Helper()
	dir, err := filepath.Abs("../../pkg/compose/testdata/conflict-archive")
	if err != nil {
		t.Fatal(err)
	}
	return dir
}

// TestBuildDryRun: build --dry-run prints the ref, the version and the
// plan, as text and as JSON, and writes nothing to -o, not even the
// lockfile --lock names.
func TestBuildDryRun(t *testing.T) {
	archive := conflictArchive(t)
	dir := t.TempDir()
	tree := filepath.Join(dir, "tree.yaml")
	text := "ref: test/${releasever}/${arch}\nautomatic-version-prefix: \"${releasever}\"\npackages: [alpha, gamma]\n"
	if err := os.WriteFile(tree, []byte(text), 0o644); err != nil {
		t.Fatal(err)
	}
	out, lock := filepath.Join(dir, "out"), filepath.Join(dir, "tree.lock")
	args := []string{"build", "--dry-run", "-f", tree, "-o", out, "--lock", lock, "--cache", filepath.Join(dir, "cache"),
		"--mirror", "file://" + archive, "--keyring", filepath.Join(archive, "keyring.gpg")}
	code, stdout, stderr := runCLI(t, args...)
	if code != 0 {
		t.Fatalf("exit %d: %s", code, stderr)
	}
	want := "ref       test/13/amd64\nversion   13.0\npackages  2\n\nalpha 1.0-1 amd64\ngamma 3.0-1 amd64\n"
	if stdout != want {
		t.Errorf("stdout:\n%s\nwant:\n%s", stdout, want)
	}
	code, stdout, stderr = runCLI(t, append(args, "--quiet")...)
	if code != 0 || stdout != "alpha 1.0-1 amd64\ngamma 3.0-1 amd64\n" {
		t.Errorf("--quiet: exit %d, stdout %q, stderr %s", code, stdout, stderr)
	}
	code, stdout, stderr = runCLI(t, append(args, "--json")...)
	if code != 0 {
		t.Fatalf("--json: exit %d: %s", code, stderr)
	}
	var plan struct {
		Ref, Version, Releasever string
		Sources                  []apt.LockedSource
		Packages                 []apt.LockedPackage
	}
	if err := json.Unmarshal([]byte(stdout), &plan); err != nil {
		t.Fatalf("--json: %v\n%s", err, stdout)
	}
	if plan.Ref != "test/13/amd64" || plan.Version != "13.0" || plan.Releasever != "13" || len(plan.Sources) != 1 ||
		len(plan.Packages) != 2 || plan.Packages[0].Name != "alpha" || plan.Packages[1].SHA256 == "" {
		t.Errorf("--json plan: %+v", plan)
	}
	for _, p := range []string{out, lock} {
		if _, err := os.Stat(p); !errors.Is(err, os.ErrNotExist) {
			t.Errorf("the dry run wrote %s (%v)", p, err)
		}
	}
}

// TestExpiredHint: a Release past its Valid-Until is refused, and the
// error the CLI prints names the flag that gets past it; with the flag the
// same command works.
func TestExpiredHint(t *testing.T) {
	archive := expiredArchive(t)
	common := []string{"--mirror", "file://" + archive, "--keyring", filepath.Join(archive, "keyring.gpg"), "--cache", t.TempDir()}
	for _, args := range [][]string{
		{"resolve", "--include", "alpha"},
		{"lock", "--include", "alpha", "-o", filepath.Join(t.TempDir(), "x.lock")},
		{"build", "--dry-run", "-f", writeTree(t, "ref: test/x\npackages: [alpha]\n")},
	} {
		code, _, stderr := runCLI(t, append(args, common...)...)
		if code != 1 || !strings.Contains(stderr, "expired at 2020-01-08T00:00:00Z (Valid-Until) (pass --allow-expired to use it anyway)\n") ||
			strings.Contains(stderr, "allow expired releases") || !strings.HasPrefix(stderr, "debatom "+args[0]+": ") {
			t.Errorf("%s: exit %d, stderr %q", args[0], code, stderr)
		}
		code, _, stderr = runCLI(t, append(append(args, "--allow-expired"), common...)...)
		if code != 0 {
			t.Errorf("%s --allow-expired: exit %d, stderr %q", args[0], code, stderr)
		}
	}
	// Other errors pass unchanged, even one with the same words: the hint
	// follows pkg/apt's error type, not its text.
	for _, msg := range []string{"plan: no apt sources", "x expired at y (Valid-Until); allow expired releases to use it anyway"} {
		if got := withHints(errors.New(msg)); got != msg {
			t.Errorf("withHints changed an unrelated error: %q", got)
		}
	}
	// A wrapped ExpiredError keeps its context.
	expired := &apt.ExpiredError{URL: "http://m/dists/forky/InRelease", ValidUntil: time.Date(2020, 1, 8, 0, 0, 0, 0, time.UTC)}
	want := "plan: http://m/dists/forky/InRelease expired at 2020-01-08T00:00:00Z (Valid-Until) (pass --allow-expired to use it anyway)"
	if got := withHints(fmt.Errorf("plan: %w", expired)); got != want {
		t.Errorf("withHints = %q, want %q", got, want)
	}
}

func writeTree(t *testing.T, text string) string {
	t.Helper()
	p := filepath.Join(t.TempDir(), "tree.yaml")
	if err := os.WriteFile(p, []byte(text), 0o644); err != nil {
		t.Fatal(err)
	}
	return p
}

// expiredArchive copies the conflict archive's index and packages under
// an InRelease, signed by a fresh key, whose Valid-Until is long past.
func expiredArchive(t *testing.T) string {
	src, dir := conflictArchive(t), t.TempDir()
	const index = "dists/trixie/main/binary-amd64/Packages"
	packages, err := os.ReadFile(filepath.Join(src, index))
	if err != nil {
		t.Fatal(err)
	}
	write := func(rel string, data []byte) {
		p := filepath.Join(dir, filepath.FromSlash(rel))
		if err := os.MkdirAll(filepath.Dir(p), 0o755); err != nil {
			t.Fatal(err)
		}
		if err := os.WriteFile(p, data, 0o644); err != nil {
			t.Fatal(err)
		}
	}
	write(index, packages)
	if err := os.CopyFS(filepath.Join(dir, "pool"), os.DirFS(filepath.Join(src, "pool"))); err != nil {
		t.Fatal(err)
	}
	date := time.Date(2020, 1, 1, 0, 0, 0, 0, time.UTC)
	release := fmt.Sprintf("Suite: stable\nCodename: trixie\nDate: %s\nValid-Until: %s\nArchitectures: amd64\nComponents: main\nSHA256:\n %x %d main/binary-amd64/Packages\n",
		date.Format(time.RFC1123), date.AddDate(0, 0, 7).Format(time.RFC1123), sha256.Sum256(packages), len(packages))
	key, err := openpgp.NewEntity("debatom expired test", "", "test@example.org",
		&packet.Config{Algorithm: packet.PubKeyAlgoEdDSA, DefaultHash: crypto.SHA256, Time: func() time.Time { return date }})
	if err != nil {
		t.Fatal(err)
	}
	var pub bytes.Buffer
	if err := key.Serialize(&pub); err != nil {
		t.Fatal(err)
	}
	write("keyring.gpg", pub.Bytes())
	var signed bytes.Buffer
	w, err := clearsign.Encode(&signed, key.PrivateKey, &packet.Config{DefaultHash: crypto.SHA256, Time: func() time.Time { return date }})
	if err != nil {
		t.Fatal(err)
	}
	if _, err := io.WriteString(w, release); err != nil {
		t.Fatal(err)
	}
	if err := w.Close(); err != nil {
		t.Fatal(err)
	}
	write("dists/trixie/InRelease", signed.Bytes())
	return dir
}

// TestResolveTreefile: resolve and lock take -f FILE and embedded variant
// names in --variant, and give what build --dry-run would install; the
// frozen archive's index is the whole of trixie, so every variant resolves
// (only the packages of its own slice could be fetched).
func TestResolveTreefile(t *testing.T) {
	archive := testenv.Archive(t)
	keyring := testenv.Keyring(t)
	cache := t.TempDir()
	common := []string{"--mirror", "file://" + archive, "--keyring", keyring, "--cache", cache, "--apt-root", t.TempDir()}
	tree, err := filepath.Abs("../../pkg/compose/testdata/archive.yaml")
	if err != nil {
		t.Fatal(err)
	}
	run := func(args ...string) string {
		t.Helper()
		code, stdout, stderr := runCLI(t, append(args, common...)...)
		if code != 0 {
			t.Fatalf("%s: exit %d: %s", strings.Join(args, " "), code, stderr)
		}
		return stdout
	}
	dryRunPlan := func(args ...string) string {
		t.Helper()
		out := run(append([]string{"build", "--dry-run", "--quiet", "-o", filepath.Join(t.TempDir(), "out")}, args...)...)
		return out
	}

	// The frozen archive's own treefile: exactly its 213 packages.
	fromFile := run("resolve", "-f", tree)
	if n := strings.Count(fromFile, "\n"); n != 213 {
		t.Errorf("resolve -f archive.yaml: %d packages, want 213", n)
	}
	if got := dryRunPlan("-f", tree); got != fromFile {
		t.Errorf("resolve -f and build --dry-run -f differ:\n%s\n---\n%s", fromFile, got)
	}
	lockFile := filepath.Join(t.TempDir(), "a.lock")
	run("lock", "-f", tree, "-o", lockFile)
	l, err := apt.ReadLock(lockFile)
	if err != nil {
		t.Fatal(err)
	}
	var b strings.Builder
	if err := printPlan(&b, l.Packages); err != nil {
		t.Fatal(err)
	}
	if b.String() != fromFile {
		t.Errorf("lock -f and resolve -f differ")
	}

	// Embedded variants by name: what build --variant would install, with
	// the variants' excludes (server drops systemd-timesyncd for chrony).
	base := run("resolve", "--variant", "base")
	for _, v := range []string{"base", "server"} {
		got := run("resolve", "--variant", v)
		if want := dryRunPlan("--variant", v); got != want {
			t.Errorf("resolve --variant %s and build --dry-run --variant %s differ", v, v)
		}
		if !strings.Contains(got, "\nlinux-image-amd64 ") || !strings.Contains(got, "\nostree-boot ") {
			t.Errorf("--variant %s lacks what base asks for:\n%s", v, got)
		}
		if timesyncd := strings.Contains(got, "\nsystemd-timesyncd "); timesyncd != (v == "base") {
			t.Errorf("--variant %s: systemd-timesyncd in the plan: %v", v, timesyncd)
		}
	}
	// --include, --exclude and a baseline go over the treefile.
	got := run("resolve", "--variant", "base", "--exclude", "systemd-timesyncd", "--include", "curl")
	if strings.Contains(got, "\nsystemd-timesyncd ") || !strings.Contains(got, "\ncurl ") || got == base {
		t.Errorf("resolve --variant base with --exclude and --include:\n%s", got)
	}
	if got := run("resolve", "-f", tree, "--variant", "essential"); strings.Count(got, "\n") >= 213 {
		t.Errorf("-f with --variant essential did not change the baseline")
	}
	// The baselines still work as before.
	if got := run("resolve", "--variant", "essential"); strings.Contains(got, "\nsystemd ") || !strings.Contains(got, "\nbash ") {
		t.Errorf("resolve --variant essential:\n%s", got)
	}
}

// TestPlanFlagErrors: --variant names a baseline or an embedded variant,
// never both -f and a variant, and says which names it takes.
func TestPlanFlagErrors(t *testing.T) {
	for _, tt := range []struct {
		args []string
		want []string
	}{
		{[]string{"resolve", "--variant", "no-such"}, []string{"neither a baseline", "minbase", "workstation"}},
		{[]string{"lock", "--variant", "no-such"}, []string{"neither a baseline", "standard", "server"}},
		{[]string{"resolve", "-f", "x.yaml", "--variant", "server"}, []string{"-f FILE or --variant server, not both"}},
		{[]string{"resolve", "--variant", "base", "--component", "contrib"}, []string{"--component does not apply"}},
		{[]string{"resolve"}, []string{"give -f FILE, --variant or --include"}},
	} {
		code, _, stderr := runCLI(t, append(tt.args, "--apt-root", t.TempDir())...)
		if code != 2 {
			t.Errorf("%q: exit %d, want 2: %s", tt.args, code, stderr)
		}
		for _, w := range tt.want {
			if !strings.Contains(stderr, w) {
				t.Errorf("%q: stderr %q does not say %q", tt.args, stderr, w)
			}
		}
	}
	var help bytes.Buffer
	code := run(t.Context(), []string{"resolve", "-h"}, io.Discard, &help)
	if code != 0 || !strings.Contains(help.String(), "essential, minbase") || !strings.Contains(help.String(), "base, server, testing, workstation") {
		t.Errorf("resolve -h: exit %d\n%s", code, help.String())
	}
}
