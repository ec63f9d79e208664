package configure

import (
	"bytes"
	"os"
	"os/exec"
	"path/filepath"
	"sort"
	"strings"
	"testing"

	"github.com/debatom/debatom/internal/testenv"
	"github.com/debatom/debatom/pkg/fstree"
)

func run(t *testing.T, name string, args ...string) string {
	t.Helper()
	var stderr bytes.Buffer
	cmd := exec.Command(name, args...)
	cmd.Stderr = &stderr
	out, err := cmd.Output()
	if err != nil {
		t.Fatalf("%s %s: %v\n%s", name, strings.Join(args, " "), err, stderr.String())
	}
	return string(out)
}

// libPaths are what ldconfig reads: its configuration and the libraries.
var libPaths = under("etc/ld.so.c", "usr/lib/x86_64-linux-gnu/", "usr/lib64/", "usr/local/lib", "usr/sbin/ldconfig")

// TestLdconfigOracle: trixie's own ldconfig (a static binary, so it runs
// on any host) run on the materialised tree writes the cache the postinst
// would have written; ours must list the same libraries, and the host's
// "ldconfig -p" must read ours.
func TestLdconfigOracle(t *testing.T) {
	testenv.Root(t)
	host := testenv.Tool(t, "ldconfig")
	tr, _ := configured(t, Options{})
	dir := t.TempDir()
	materialise(t, tr, dir, libPaths)
	ours := filepath.Join(dir, "etc/ld.so.cache")
	// -X: leave the tree's links alone; -C: a second cache file.
	run(t, filepath.Join(dir, "usr/sbin/ldconfig"), "-X", "-r", dir, "-C", "/etc/ld.so.cache.oracle")
	theirs := filepath.Join(dir, "etc/ld.so.cache.oracle")
	got := run(t, host, "-p", "-C", ours)
	want := strings.Replace(run(t, host, "-p", "-C", theirs), theirs, ours, 1)
	if got != want {
		t.Errorf("ldconfig -p differs:\n%s", lineDiff(got, want))
	}
	n := strings.Count(got, "\n") - 1
	if n < 100 {
		t.Errorf("only %d libraries in the cache", n)
	}
	a, _ := os.ReadFile(ours)
	b, _ := os.ReadFile(theirs)
	if !bytes.Equal(a, b) {
		t.Errorf("ld.so.cache: ours %d bytes, ldconfig's %d bytes: not identical", len(a), len(b))
	}
}

// lineDiff lists lines only in one of a and b.
func lineDiff(a, b string) string {
	in := func(s string) map[string]bool {
		m := map[string]bool{}
		for _, l := range strings.Split(s, "\n") {
			m[l] = true
		}
		return m
	}
	ma, mb := in(a), in(b)
	var out []string
	for l := range ma {
		if !mb[l] {
			out = append(out, "+ "+l)
		}
	}
	for l := range mb {
		if !ma[l] {
			out = append(out, "- "+l)
		}
	}
	sort.Strings(out)
	if len(out) > 40 {
		out = append(out[:40], "...")
	}
	return strings.Join(out, "\n")
}

// TestDpkgOracle: the host's dpkg reads the database: dpkg -l lists every
// package as installed with its version, dpkg -L gives each package's
// files, dpkg --audit finds nothing half-configured, and dpkg -V finds the
// conffiles and md5sums consistent for a sample of packages.
func TestDpkgOracle(t *testing.T) {
	testenv.Root(t)
	dpkg := testenv.Tool(t, "dpkg")
	tr, _ := configured(t, Options{})
	_, pkgs := archiveSet(t)
	dir := t.TempDir()
	sample := map[string]bool{"base-files": true, "bash": true, "libc6": true, "systemd": true, "apt": true}
	files := map[string]bool{}
	for _, p := range pkgs {
		if sample[p.Name] {
			for _, f := range p.Files {
				files[strings.TrimPrefix(f, "/")] = true
			}
		}
	}
	materialise(t, tr, dir, func(p string) bool {
		return strings.HasPrefix(p, "var/lib/dpkg/") || strings.HasPrefix(p, "etc/dpkg/") || files[p]
	})
	list := run(t, dpkg, "--root="+dir, "-l")
	installed := map[string]string{}
	for _, l := range strings.Split(list, "\n") {
		f := strings.Fields(l)
		if len(f) >= 3 && f[0] == "ii" {
			name, _, _ := strings.Cut(f[1], ":")
			installed[name] = f[2]
		}
	}
	if len(installed) != len(pkgs) {
		t.Errorf("dpkg -l shows %d installed packages, want %d", len(installed), len(pkgs))
	}
	for _, p := range pkgs {
		if installed[p.Name] != p.Version {
			t.Errorf("dpkg -l: %s at %q, want %s", p.Name, installed[p.Name], p.Version)
		}
	}
	for _, p := range pkgs {
		if !sample[p.Name] && p.Name != "libssl3t64" {
			continue
		}
		got := strings.Split(strings.TrimSpace(run(t, dpkg, "--root="+dir, "-L", p.Name)), "\n")
		if len(got) != len(p.Files) {
			t.Errorf("dpkg -L %s: %d paths, want %d", p.Name, len(got), len(p.Files))
			continue
		}
		for i := range got {
			if got[i] != p.Files[i] {
				t.Errorf("dpkg -L %s: line %d %q, want %q", p.Name, i, got[i], p.Files[i])
				break
			}
		}
	}
	if out := run(t, dpkg, "--root="+dir, "--audit"); out != "" {
		t.Errorf("dpkg --audit:\n%s", out)
	}
	for name := range sample {
		// -V prints nothing when every file matches its md5sum.
		cmd := exec.Command(dpkg, "--root="+dir, "-V", name)
		out, _ := cmd.CombinedOutput()
		if len(out) != 0 {
			t.Errorf("dpkg -V %s:\n%s", name, out)
		}
	}
	out := run(t, dpkg, "--root="+dir, "-S", "/usr/bin/bash")
	if !strings.HasPrefix(out, "bash: ") {
		t.Errorf("dpkg -S /usr/bin/bash: %q", out)
	}
}

// TestAccountsOracle: pwck and grpck in read-only mode find the four
// databases consistent, including a declared user with a password and
// an SSH key.
func TestAccountsOracle(t *testing.T) {
	testenv.Root(t)
	pwck := testenv.Tool(t, "pwck")
	grpck := testenv.Tool(t, "grpck")
	tr, _ := configured(t, Options{
		Users: []User{{Name: "admin", Groups: []string{"sudo"}, PasswordHash: "$y$j9T$abc$def",
			AuthorizedKeys: []string{"ssh-ed25519 AAAAC3NzaC1lZDI1NTE5AAAAIB test@example"}}},
		Groups: []Group{{Name: "wheel"}},
	})
	dir := t.TempDir()
	materialise(t, tr, dir, under("etc/passwd", "etc/group", "etc/shadow", "etc/gshadow", "etc/login.defs", "home/",
		"usr/bin/bash", "usr/sbin/nologin", "usr/bin/sync"))
	for _, tool := range []string{pwck, grpck} {
		cmd := exec.Command(tool, "-r", "-R", dir)
		out, err := cmd.CombinedOutput()
		// pwck warns about home directories of system users that do not
		// exist (they never do); anything else is an inconsistency.
		var bad []string
		for _, l := range strings.Split(strings.TrimSpace(string(out)), "\n") {
			if l != "" && !strings.Contains(l, "directory '/") && !strings.Contains(l, "no changes") {
				bad = append(bad, l)
			}
		}
		if err != nil && len(bad) > 0 || len(bad) > 0 {
			t.Errorf("%s -r -R: %v\n%s", filepath.Base(tool), err, strings.Join(bad, "\n"))
		}
	}
	pw, _ := os.ReadFile(filepath.Join(dir, "etc/passwd"))
	if !strings.Contains(string(pw), "admin:x:1000:1000::/home/admin:/bin/bash\n") {
		t.Errorf("admin missing from passwd:\n%s", pw)
	}
	gr, _ := os.ReadFile(filepath.Join(dir, "etc/group"))
	if !strings.Contains(string(gr), "\nsudo:x:27:admin\n") || !strings.Contains(string(gr), "\nwheel:x:1001:\n") {
		t.Errorf("groups wrong:\n%s", gr)
	}
	e := tr.Get("home/admin/.ssh/authorized_keys")
	if e == nil || e.UID != 1000 || e.Mode != 0o600 {
		t.Errorf("authorized_keys: %+v", e)
	}
	for _, f := range []string{"etc/shadow", "etc/gshadow"} {
		if e := tr.Get(f); e.Mode != 0o640 || e.GID != 42 {
			t.Errorf("%s: mode %o gid %d, want 0640 root:shadow", f, e.Mode, e.GID)
		}
	}
}

// TestDeterministic: the same inputs give the same bytes and metadata.
func TestDeterministic(t *testing.T) {
	a, _ := configured(t, Options{OSTree: true})
	b, _ := configured(t, Options{OSTree: true})
	if a.Len() != b.Len() {
		t.Fatalf("%d vs %d entries", a.Len(), b.Len())
	}
	a.Walk(func(p string, e *fstree.Entry) error {
		f := b.Get(p)
		if f == nil || e.Kind != f.Kind || !e.Meta.Equal(f.Meta) || e.Target != f.Target || !bytes.Equal(e.Data, f.Data) {
			t.Errorf("%s differs between two runs", p)
		}
		return nil
	})
}

// TestCACertificatesOracle: "openssl rehash" run on the .pem files makes
// the same HASH.N links as ours, and the bundle holds every certificate.
func TestCACertificatesOracle(t *testing.T) {
	openssl := testenv.Tool(t, "openssl")
	tr, _ := configured(t, Options{})
	dir := t.TempDir()
	ours := map[string]string{}
	n := 0
	for _, name := range tr.Children("etc/ssl/certs") {
		e := tr.Get("etc/ssl/certs/" + name)
		switch {
		case strings.HasSuffix(name, ".pem"):
			target := tr.Get(strings.TrimPrefix(e.Target, "/"))
			if target == nil {
				t.Fatalf("%s links to missing %s", name, e.Target)
			}
			if err := os.WriteFile(filepath.Join(dir, name), target.Data, 0o644); err != nil {
				t.Fatal(err)
			}
			n++
		case e.Kind == fstree.Symlink:
			ours[name] = e.Target
		}
	}
	if n < 100 {
		t.Fatalf("only %d certificates linked", n)
	}
	run(t, openssl, "rehash", dir)
	theirs := map[string]string{}
	ents, _ := os.ReadDir(dir)
	for _, e := range ents {
		if e.Type()&os.ModeSymlink != 0 {
			l, _ := os.Readlink(filepath.Join(dir, e.Name()))
			theirs[e.Name()] = l
		}
	}
	if len(theirs) != len(ours) {
		t.Errorf("%d hash links, openssl rehash made %d", len(ours), len(theirs))
	}
	for k, v := range theirs {
		if ours[k] != v {
			t.Errorf("%s → %q, openssl rehash: %q", k, ours[k], v)
		}
	}
	bundle := tr.Get("etc/ssl/certs/ca-certificates.crt")
	if bundle == nil || strings.Count(string(bundle.Data), "BEGIN CERTIFICATE") != n {
		t.Errorf("bundle does not hold the %d certificates", n)
	}
}
