package compose

import (
	"bytes"
	"context"
	"crypto"
	"crypto/sha256"
	"errors"
	"flag"
	"fmt"
	"io"
	"os"
	"os/exec"
	"path"
	"path/filepath"
	"reflect"
	"sort"
	"strings"
	"testing"
	"time"

	"github.com/ProtonMail/go-crypto/openpgp"
	"github.com/ProtonMail/go-crypto/openpgp/clearsign"
	"github.com/ProtonMail/go-crypto/openpgp/packet"

	"github.com/debatom/debatom/internal/testenv"
	"github.com/debatom/debatom/pkg/apt"
	"github.com/debatom/debatom/pkg/deb/debtest"
	"github.com/debatom/debatom/pkg/ostreerepo"
	"github.com/debatom/debatom/pkg/treefile"
)

// The integration tests share one output repository and cache, so the
// second build of the same packages is warm (the unpack cache only serves
// packages whose objects are in the target repository).
var sharedOut, sharedCache string

func TestMain(m *testing.M) {
	dir, err := os.MkdirTemp("", "debatom-compose-test-")
	if err != nil {
		panic(err)
	}
	sharedOut, sharedCache = filepath.Join(dir, "out"), filepath.Join(dir, "cache")
	code := m.Run()
	os.RemoveAll(dir)
	os.Exit(code)
}

func archiveSources(t *testing.T) []apt.Source {
	return []apt.Source{{
		URL:        "file://" + testenv.Archive(t),
		Suite:      "trixie",
		Components: []string{"main"},
		Keyring:    testenv.Keyring(t),
	}}
}

func loadTestTreefile(t *testing.T, name string) *treefile.Treefile {
	t.Helper()
	tf, err := treefile.Load(filepath.Join("testdata", name))
	if err != nil {
		t.Fatal(err)
	}
	return tf
}

func ostree(t *testing.T, args ...string) string {
	t.Helper()
	out, err := exec.Command(testenv.Tool(t, "ostree"), args...).CombinedOutput()
	if err != nil {
		t.Fatalf("ostree %s: %v\n%s", strings.Join(args, " "), err, out)
	}
	return string(out)
}

// TestBuildArchive builds the frozen archive's package set and checks the
// commit with the real ostree, its layout, its reproducibility across cache
// states, lockfile and offline builds, and that failures leave refs alone.
func TestBuildArchive(t *testing.T) {
	srcs := archiveSources(t)
	testenv.Tool(t, "ostree")
	ctx := context.Background()
	work := t.TempDir()
	cache := sharedCache
	tf := loadTestTreefile(t, "archive.yaml")
	opts := Options{Treefile: tf, Sources: srcs, OutDir: sharedOut, CacheDir: cache}
	res, err := Build(ctx, opts)
	if err != nil {
		t.Fatal(err)
	}
	repo := "--repo=" + res.RepoDir
	if res.Packages != 213 {
		t.Errorf("built %d packages, the archive's set has 213", res.Packages)
	}
	fsck := ostree(t, "fsck", repo)
	if !strings.Contains(fsck, "no errors found") {
		t.Errorf("ostree fsck: %s", fsck)
	}
	if got := strings.TrimSpace(ostree(t, "rev-parse", repo, res.Ref)); got != res.Commit {
		t.Errorf("ref %s = %s, build said %s", res.Ref, got, res.Commit)
	}
	// common.yaml's ref and version prefix use ${releasever}: 13 for trixie.
	if res.Ref != "debian/13/amd64/archive" || res.Version != "13.0" {
		t.Errorf("ref %q version %q, want debian/13/amd64/archive 13.0", res.Ref, res.Version)
	}

	t.Run("plan", func(t *testing.T) {
		// A dry run into the same output directory: the same packages as
		// the lock the build wrote, the next version, and nothing written.
		before, _ := repoState(t, res.RepoDir)
		o := opts
		o.LockFile = filepath.Join(work, "plan.lock")
		p, err := Plan(ctx, o)
		if err != nil {
			t.Fatal(err)
		}
		if p.Ref != res.Ref || p.Version != "13.1" || p.ReleaseVer != "13" {
			t.Errorf("plan: ref %q version %q releasever %q, want %s 13.1 13", p.Ref, p.Version, p.ReleaseVer, res.Ref)
		}
		lock, err := apt.ReadLock(res.LockFile)
		if err != nil {
			t.Fatal(err)
		}
		if !reflect.DeepEqual(p.Packages, lock.Packages) || !reflect.DeepEqual(p.Sources, lock.Sources) {
			t.Errorf("plan differs from the build's lock: %d packages, lock %d", len(p.Packages), len(lock.Packages))
		}
		if _, err := os.Stat(o.LockFile); !errors.Is(err, os.ErrNotExist) {
			t.Errorf("the dry run wrote its lockfile: %v", err)
		}
		if after, _ := repoState(t, res.RepoDir); !reflect.DeepEqual(after, before) {
			t.Errorf("the dry run changed refs: %v → %v", before, after)
		}
		// Into an empty directory: the first version, and no repository.
		o.OutDir = filepath.Join(work, "plan-out")
		if p, err = Plan(ctx, o); err != nil || p.Version != "13.0" {
			t.Errorf("plan into a new directory: version %q, %v", p.Version, err)
		}
		if _, err := os.Stat(o.OutDir); !errors.Is(err, os.ErrNotExist) {
			t.Errorf("the dry run made %s: %v", o.OutDir, err)
		}
	})

	t.Run("layout", func(t *testing.T) {
		kver := res.KernelVersion
		if !strings.Contains(kver, "cloud-amd64") {
			t.Fatalf("kernel version %q", kver)
		}
		ls := ostree(t, "ls", repo, res.Ref, "/")
		for _, want := range []string{"/bin -> usr/bin", "/ostree -> sysroot/ostree", "/home -> var/home", "/root -> var/roothome", "d00755 0 0      0 /sysroot", "/efi", "/boot"} {
			if !strings.Contains(ls, want) {
				t.Errorf("ostree ls / lacks %q:\n%s", want, ls)
			}
		}
		if strings.Contains(ls, " /etc\n") {
			t.Error("/etc must move to /usr/etc")
		}
		mods := ostree(t, "ls", repo, res.Ref, "/usr/lib/modules/"+kver)
		for _, f := range []string{"vmlinuz", "initramfs.img", "modules.dep.bin", "modules.alias.bin"} {
			if !strings.Contains(mods, "/"+f+"\n") {
				t.Errorf("usr/lib/modules/%s lacks %s", kver, f)
			}
		}
		if boot := ostree(t, "ls", repo, res.Ref, "/boot"); strings.Count(boot, "\n") != 1 {
			t.Errorf("/boot must be empty:\n%s", boot)
		}
		passwd := ostree(t, "cat", repo, res.Ref, "/usr/etc/passwd")
		if !strings.HasPrefix(passwd, "root:x:0:0:") || !strings.Contains(passwd, "\nadmin:x:1000:") {
			t.Errorf("passwd:\n%s", passwd)
		}
		if h := ostree(t, "cat", repo, res.Ref, "/usr/etc/hostname"); h != "debatom\n" {
			t.Errorf("hostname = %q", h)
		}
		if osr := ostree(t, "cat", repo, res.Ref, "/usr/lib/os-release"); !strings.Contains(osr, `VARIANT="Test Archive"`) || !strings.Contains(osr, "VARIANT_ID=archive") {
			t.Errorf("os-release:\n%s", osr)
		}
		show := ostree(t, "show", repo, "--print-metadata-key=ostree.linux", res.Ref)
		if !strings.Contains(show, kver) {
			t.Errorf("ostree.linux = %s", show)
		}
		if v := ostree(t, "show", repo, "--print-metadata-key=version", res.Ref); !strings.Contains(v, "'13.0'") {
			t.Errorf("version = %s", v)
		}
	})

	t.Run("reproducible", func(t *testing.T) {
		// Warm cache, fresh repo: nothing is decompressed again, and the
		// commit must be the same bytes.
		opts2 := opts
		opts2.OutDir = filepath.Join(work, "out2")
		res2, err := Build(ctx, opts2)
		if err != nil {
			t.Fatal(err)
		}
		if res2.Commit != res.Commit {
			t.Errorf("warm-cache rebuild gave %s, cold gave %s", res2.Commit, res.Commit)
		}
		// Offline from the lockfile, with a cache that lost its unpacked
		// manifests and boot artefacts: still the same commit, dated by
		// the Release Dates the lock recorded.
		os.RemoveAll(filepath.Join(cache, "unpacked"))
		os.RemoveAll(filepath.Join(cache, "boot"))
		opts3 := opts
		opts3.OutDir = filepath.Join(work, "out3")
		opts3.Offline = true
		opts3.LockFile = res.LockFile
		res3, err := Build(ctx, opts3)
		if err != nil {
			t.Fatal(err)
		}
		if res3.Commit != res.Commit {
			t.Errorf("offline rebuild from the lockfile gave %s, want %s", res3.Commit, res.Commit)
		}
	})

	t.Run("failures leave the ref alone", func(t *testing.T) {
		bad := *tf
		bad.Packages = append(append([]string(nil), tf.Packages...), "no-such-package-xyz")
		o := opts
		o.Treefile = &bad
		_, err := Build(ctx, o)
		if err == nil || !strings.Contains(err.Error(), "no-such-package-xyz") {
			t.Fatalf("unknown package: err = %v", err)
		}
		if got := strings.TrimSpace(ostree(t, "rev-parse", repo, res.Ref)); got != res.Commit {
			t.Errorf("a failed build moved the ref to %s", got)
		}
		o.Treefile = tf
		o.LockFile = filepath.Join(work, "drift.lock")
		lock, _ := os.ReadFile(res.LockFile)
		// The first package's version (the sources' Release has one too).
		head, pkgs, _ := strings.Cut(string(lock), `"packages":`)
		drifted := head + `"packages":` + strings.Replace(pkgs, `"version": "`, `"version": "9:`, 1)
		os.WriteFile(o.LockFile, []byte(drifted), 0o644)
		if _, err := Build(ctx, o); err == nil || !strings.Contains(err.Error(), "lock") {
			t.Fatalf("drifted lockfile: err = %v", err)
		}
	})
}

// res2timestamp reads the commit's timestamp.
func res2timestamp(t *testing.T, repoDir, commit string) time.Time {
	out := ostree(t, "show", "--repo="+repoDir, commit)
	for _, l := range strings.Split(out, "\n") {
		if d, ok := strings.CutPrefix(l, "Date:  "); ok {
			ts, err := time.Parse("2006-01-02 15:04:05 -0700", strings.TrimSpace(d))
			if err != nil {
				t.Fatal(err)
			}
			return ts
		}
	}
	t.Fatalf("no date in %s", out)
	return time.Time{}
}

// The conflict archive (testdata/conflict-archive) is a tiny signed apt
// repository: alpha and gamma install side by side, beta ships alpha's
// conflictPath without Replaces. It is checked in, with the public key
// that signed it, so that cmd/debatom's tests can build from it too;
// `go test -run TestConflictArchive -update` writes it again.
const (
	conflictArchive = "testdata/conflict-archive"
	conflictPath    = "/usr/share/tiny/shared.conf"
)

var update = flag.Bool("update", false, "rewrite testdata/conflict-archive with a new throwaway key")

type tinyPackage struct {
	name, version string
	files         map[string]string // path without the leading "/" → content
}

var conflictPackages = []tinyPackage{
	{"alpha", "1.0-1", map[string]string{"usr/share/tiny/shared.conf": "alpha\n", "usr/share/doc/alpha/README": "alpha\n",
		// configure wants the accounts a system starts with.
		"etc/passwd": "root:x:0:0:root:/root:/bin/sh\n", "etc/group": "root:x:0:\n"}},
	{"beta", "2.0-1", map[string]string{"usr/share/tiny/shared.conf": "beta\n", "usr/share/doc/beta/README": "beta\n"}},
	{"gamma", "3.0-1", map[string]string{"usr/share/gamma/data": "gamma\n",
		// The OSTree layout wants a kernel; the builds skip the initramfs.
		"usr/lib/modules/6.12.0-tiny/vmlinuz": "not a kernel\n"}},
}

// TestConflictArchive checks that the checked-in archive still holds what
// the tests below rely on (and rewrites it with -update).
func TestConflictArchive(t *testing.T) {
	if *update {
		writeConflictArchive(t, conflictArchive)
	}
	idx, err := apt.LoadIndex(context.Background(), conflictSources(t), apt.Options{Arch: "amd64"})
	if err != nil {
		t.Fatal(err)
	}
	var names []string
	for _, p := range idx.Packages {
		names = append(names, p.Name)
	}
	sort.Strings(names)
	if got := strings.Join(names, " "); got != "alpha beta gamma" {
		t.Fatalf("conflict archive holds %q, want alpha beta gamma", got)
	}
}

func conflictSources(t *testing.T) []apt.Source {
	abs, err := filepath.Abs(conflictArchive)
	if err != nil {
		t.Fatal(err)
	}
	return []apt.Source{{URL: "file://" + abs, Suite: "trixie", Components: []string{"main"}, Keyring: filepath.Join(abs, "keyring.gpg")}}
}

// writeConflictArchive writes conflictPackages as a repository signed by a
// fresh ed25519 key whose public half is dir/keyring.gpg.
func writeConflictArchive(t *testing.T, dir string) {
	writeSignedArchive(t, dir, "trixie", "Origin: debatom test\nSuite: stable\nCodename: trixie\nDate: Sat, 21 Nov 2026 09:15:44 UTC\n", conflictPackages)
}

// writeSignedArchive writes pkgs as the one suite dists/DIST of a
// repository signed by a fresh ed25519 key whose public half is
// dir/keyring.gpg. releaseHead is the start of its Release file (Origin,
// Suite, Codename, Version, Date); the rest is filled in.
func writeSignedArchive(t *testing.T, dir, dist, releaseHead string, pkgs []tinyPackage) {
	if err := os.RemoveAll(dir); err != nil {
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
	var index strings.Builder
	for _, p := range pkgs {
		control := fmt.Sprintf("Package: %s\nVersion: %s\nArchitecture: amd64\nMaintainer: T <t@example.org>\nPriority: optional\nSection: misc\nInstalled-Size: 1\nDescription: conflict test package %s\n", p.name, p.version, p.name)
		entries := []debtest.Entry{debtest.Dir("./", 0o755)}
		seen := map[string]bool{}
		var paths []string
		for f := range p.files {
			paths = append(paths, f)
		}
		sort.Strings(paths)
		for _, f := range paths {
			for d := path.Dir(f); d != "."; d = path.Dir(d) {
				seen[d] = true
			}
		}
		var dirs []string
		for d := range seen {
			dirs = append(dirs, d)
		}
		sort.Strings(dirs)
		for _, d := range dirs {
			entries = append(entries, debtest.Dir("./"+d+"/", 0o755))
		}
		for _, f := range paths {
			entries = append(entries, debtest.File("./"+f, 0o644, p.files[f]))
		}
		deb := debtest.Build(debtest.Package{Control: control, Data: entries})
		fn := fmt.Sprintf("pool/main/%c/%s/%s_%s_amd64.deb", p.name[0], p.name, p.name, p.version)
		write(fn, deb)
		sum := sha256.Sum256(deb)
		fmt.Fprintf(&index, "%sFilename: %s\nSize: %d\nSHA256: %x\n\n", control, fn, len(deb), sum)
	}
	packages := []byte(index.String())
	write("dists/"+dist+"/main/binary-amd64/Packages", packages)
	sum := sha256.Sum256(packages)
	release := fmt.Sprintf(releaseHead+"Architectures: amd64\nComponents: main\nSHA256:\n %x %d main/binary-amd64/Packages\n", sum, len(packages))

	key, err := openpgp.NewEntity("debatom conflict test", "", "test@example.org",
		&packet.Config{Algorithm: packet.PubKeyAlgoEdDSA, DefaultHash: crypto.SHA256})
	if err != nil {
		t.Fatal(err)
	}
	var pub bytes.Buffer
	if err := key.Serialize(&pub); err != nil {
		t.Fatal(err)
	}
	write("keyring.gpg", pub.Bytes())
	var signed bytes.Buffer
	w, err := clearsign.Encode(&signed, key.PrivateKey, &packet.Config{DefaultHash: crypto.SHA256})
	if err != nil {
		t.Fatal(err)
	}
	if _, err := io.WriteString(w, release); err != nil {
		t.Fatal(err)
	}
	if err := w.Close(); err != nil {
		t.Fatal(err)
	}
	write("dists/"+dist+"/InRelease", signed.Bytes())
}

// repoState is what a failed build must leave as it was: the refs and the
// set of commit objects.
func repoState(t *testing.T, repoDir string) (refs map[string]string, commits []string) {
	t.Helper()
	repo, err := ostreerepo.Open(repoDir)
	if err != nil {
		t.Fatal(err)
	}
	refs, err = repo.ListRefs()
	if err != nil {
		t.Fatal(err)
	}
	commits, err = filepath.Glob(filepath.Join(repoDir, "objects", "*", "*.commit"))
	if err != nil {
		t.Fatal(err)
	}
	return refs, commits
}

// TestBuildBadInput: each kind of bad input gives one clear line, and an
// existing ref in the output repository (from a good build into the same
// directory) is left as it was, with no new commit.
func TestBuildBadInput(t *testing.T) {
	ctx := context.Background()
	dir := t.TempDir()
	out, cache := filepath.Join(dir, "out"), filepath.Join(dir, "cache")
	srcs := conflictSources(t)
	treefileText := func(pkgs string) string {
		return "ref: test/conflict\npackages: [" + pkgs + "]\n"
	}
	writeFile := func(name, text string) string {
		p := filepath.Join(dir, name)
		if err := os.WriteFile(p, []byte(text), 0o644); err != nil {
			t.Fatal(err)
		}
		return p
	}
	build := func(file string) error {
		tf, err := treefile.Load(file)
		if err != nil {
			return err
		}
		_, err = Build(ctx, Options{Treefile: tf, Sources: srcs, OutDir: out, CacheDir: cache, NoInitramfs: true})
		return err
	}

	good, err := treefile.Load(writeFile("good.yaml", treefileText("alpha, gamma")))
	if err != nil {
		t.Fatal(err)
	}
	res, err := Build(ctx, Options{Treefile: good, Sources: srcs, OutDir: out, CacheDir: cache, NoInitramfs: true})
	if err != nil {
		t.Fatalf("good build: %v", err)
	}
	refsBefore, commitsBefore := repoState(t, res.RepoDir)
	if refsBefore["test/conflict"] != res.Commit || len(commitsBefore) != 1 {
		t.Fatalf("after the good build: refs %v, commits %v; want test/conflict → %s", refsBefore, commitsBefore, res.Commit)
	}

	tests := []struct {
		name string
		run  func() error
		want []string // substrings of the one-line error
	}{
		{"file conflict", func() error {
			return build(writeFile("conflict.yaml", treefileText("alpha, beta, gamma")))
		}, []string{"assemble:", "trying to overwrite " + conflictPath, "alpha", "beta", "does not Replace it"}},
		{"unknown package", func() error {
			return build(writeFile("unknown.yaml", treefileText("alpha, no-such-package-xyz")))
		}, []string{"plan:", "no-such-package-xyz"}},
		{"typo'd key", func() error {
			return build(writeFile("typo.yaml", "ref: test/conflict\npakages: [alpha]\n"))
		}, []string{"typo.yaml:2", "pakages"}},
		{"include cycle", func() error {
			writeFile("cycle-b.yaml", "include: cycle-a.yaml\n")
			return build(writeFile("cycle-a.yaml", "include: cycle-b.yaml\n"+treefileText("alpha")))
		}, []string{"include cycle", "cycle-a.yaml", "cycle-b.yaml"}},
		{"unknown variant", func() error {
			_, err := treefile.LoadVariant("no-such-variant")
			return err
		}, []string{`unknown variant "no-such-variant"`, "base"}},
		{"unknown included variant", func() error {
			return build(writeFile("variant.yaml", "include: no-such-variant.yaml\n"+treefileText("alpha")))
		}, []string{"no-such-variant.yaml"}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			err := tt.run()
			if err == nil {
				t.Fatal("bad input built")
			}
			msg := err.Error()
			t.Log(msg)
			if strings.Contains(msg, "\n") {
				t.Errorf("error is not one line:\n%s", msg)
			}
			for _, w := range tt.want {
				if !strings.Contains(msg, w) {
					t.Errorf("error %q does not say %q", msg, w)
				}
			}
			refs, commits := repoState(t, res.RepoDir)
			if !reflect.DeepEqual(refs, refsBefore) {
				t.Errorf("refs after the failed build: %v, before: %v", refs, refsBefore)
			}
			if !reflect.DeepEqual(commits, commitsBefore) {
				t.Errorf("commit objects after the failed build: %v, before: %v", commits, commitsBefore)
			}
		})
	}
}

// TestSourcesFromHost: without treefile sources or --mirror, the host's
// Debian mirror (apt.ReadHostMirror) is used for the target suites, with
// its security mirror for the release itself.
func TestSourcesFromHost(t *testing.T) {
	root := t.TempDir()
	list := filepath.Join(root, "etc/apt/sources.list")
	if err := os.MkdirAll(filepath.Dir(list), 0o755); err != nil {
		t.Fatal(err)
	}
	text := "deb http://example.org/other stable main\n" +
		"deb http://security.debian.org/debian-security bookworm-security main\n" +
		"deb [signed-by=/k.gpg] http://ftp.de.debian.org/debian/ bookworm main\n"
	if err := os.WriteFile(list, []byte(text), 0o644); err != nil {
		t.Fatal(err)
	}
	const kr = "/usr/share/keyrings/debian-archive-keyring.gpg"
	tests := []struct {
		o    SourceOverrides
		want []string // "URL suite keyring"
	}{
		{SourceOverrides{}, []string{
			"http://security.debian.org/debian-security trixie-security " + kr,
			"http://ftp.de.debian.org/debian trixie /k.gpg"}},
		{SourceOverrides{Suite: "forky,trixie-updates", Keyring: "/o.gpg"}, []string{
			"http://security.debian.org/debian-security forky-security /o.gpg",
			"http://ftp.de.debian.org/debian forky /o.gpg",
			"http://ftp.de.debian.org/debian trixie-updates /o.gpg"}},
	}
	for _, tt := range tests {
		srcs, err := Sources(&treefile.Treefile{}, tt.o, "amd64", root)
		if err != nil {
			t.Fatal(err)
		}
		var got []string
		for _, s := range srcs {
			got = append(got, s.URL+" "+s.Suite+" "+s.Keyring)
		}
		if !reflect.DeepEqual(got, tt.want) {
			t.Errorf("overrides %+v:\ngot  %q\nwant %q", tt.o, got, tt.want)
		}
	}
	if _, err := Sources(&treefile.Treefile{}, SourceOverrides{}, "amd64", t.TempDir()); err == nil || !strings.Contains(err.Error(), "no Debian mirror") {
		t.Errorf("a host without Debian sources: err = %v", err)
	}
}

// TestReleaseVer: ${releasever} from a suite alias comes from the signed
// Release (Codename, else Version, else the codename itself), and an
// offline build, which has no Release, tells why it cannot expand it.
func TestReleaseVer(t *testing.T) {
	ctx := context.Background()
	tf, err := treefile.Parse("tree.yaml", []byte("ref: test/${releasever}/${arch}\nautomatic-version-prefix: \"${releasever}\"\npackages: [alpha, gamma]\n"))
	if err != nil {
		t.Fatal(err)
	}
	const date = "Date: Sat, 21 Nov 2026 09:15:44 UTC\n"
	tests := []struct {
		name, dist, head string
		want             string
	}{
		{"stable is trixie", "stable", "Suite: stable\nCodename: trixie\nVersion: 13.2\n", "13"},
		{"stable of an unknown release", "stable", "Suite: stable\nCodename: newcodename\nVersion: 16.1\n", "16"},
		{"unstable", "unstable", "Suite: unstable\nCodename: sid\n", "sid"},
		{"unknown codename without a version", "newcodename", "Suite: newcodename\n", "newcodename"},
		{"codename suite, Release ignored", "forky", "Suite: testing\nCodename: forky\nVersion: 99\n", "14"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			dir := t.TempDir()
			archive := filepath.Join(dir, "archive")
			writeSignedArchive(t, archive, tt.dist, "Origin: debatom test\n"+tt.head+date, conflictPackages)
			srcs := []apt.Source{{URL: "file://" + archive, Suite: tt.dist, Components: []string{"main"}, Keyring: filepath.Join(archive, "keyring.gpg")}}
			opts := Options{Treefile: tf, Sources: srcs, OutDir: filepath.Join(dir, "out"), CacheDir: filepath.Join(dir, "cache"), NoInitramfs: true}
			p, err := Plan(ctx, opts)
			if err != nil {
				t.Fatal(err)
			}
			wantRef := "test/" + tt.want + "/amd64"
			if p.ReleaseVer != tt.want || p.Ref != wantRef || p.Version != tt.want+".0" || len(p.Packages) != 2 {
				t.Errorf("plan: releasever %q ref %q version %q, %d packages; want %s %s %s.0, 2", p.ReleaseVer, p.Ref, p.Version, len(p.Packages), tt.want, wantRef, tt.want)
			}
			if tt.name != "stable is trixie" {
				return
			}
			// The build itself gets the same, and so do its lock's online
			// and offline rebuilds: the lock records the Release's
			// Codename and Version, which offline has no other way to know.
			opts.LockFile = filepath.Join(dir, "tree.lock")
			res, err := Build(ctx, opts)
			if err != nil {
				t.Fatal(err)
			}
			if res.Ref != wantRef || res.Version != "13.0" {
				t.Errorf("build: ref %q version %q, want %s 13.0", res.Ref, res.Version, wantRef)
			}
			lock, err := apt.ReadLock(opts.LockFile)
			if err != nil {
				t.Fatal(err)
			}
			if r := lock.Sources[0].Release; r == nil || *r != (apt.LockedRelease{Codename: "trixie", Version: "13.2"}) {
				t.Errorf("lock records the Release as %+v, want trixie 13.2", r)
			}
			opts.Sources = nil
			if p, err := Plan(ctx, opts); err != nil || p.Ref != wantRef || p.Version != "13.1" {
				t.Errorf("plan from the lock: %+v, %v", p, err)
			}
			opts.Offline = true
			if p, err := Plan(ctx, opts); err != nil || p.Ref != wantRef || p.ReleaseVer != "13" || p.Version != "13.1" {
				t.Errorf("offline plan from the lock: %+v, %v", p, err)
			}
			res, err = Build(ctx, opts)
			if err != nil {
				t.Fatal(err)
			}
			if res.Ref != wantRef || res.Version != "13.1" {
				t.Errorf("offline build: ref %q version %q, want %s 13.1", res.Ref, res.Version, wantRef)
			}
			if ts := res2timestamp(t, res.RepoDir, res.Commit); !ts.Equal(time.Date(2026, 11, 21, 9, 15, 44, 0, time.UTC)) {
				t.Errorf("offline build dated %v, want the Release's Date the lock recorded", ts)
			}
			// A lock from before the Release was recorded cannot tell:
			// missing is unknown, and the error says what to do.
			lock.Sources[0].Release = nil
			if err := lock.WriteFile(opts.LockFile); err != nil {
				t.Fatal(err)
			}
			_, err = Plan(ctx, opts)
			if err == nil || !strings.Contains(err.Error(), "${releasever}") || !strings.Contains(err.Error(), "offline") || !strings.Contains(err.Error(), "(stable)") {
				t.Errorf("offline plan of an alias suite from an old lock: err = %v", err)
			}
			// A treefile that does not use it builds offline all the same.
			plain := tf.Clone()
			plain.Ref, plain.AutomaticVersionPrefix = "test/plain", ""
			opts.Treefile = plain
			if p, err := Plan(ctx, opts); err != nil || p.Ref != "test/plain" || p.ReleaseVer != "" {
				t.Errorf("offline plan without ${releasever}: %+v, %v", p, err)
			}
		})
	}
	// Offline from a lock of a codename suite: the suite alone decides.
	dir := t.TempDir()
	opts := Options{Treefile: tf, Sources: conflictSources(t), OutDir: filepath.Join(dir, "out"), CacheDir: filepath.Join(dir, "cache"), LockFile: filepath.Join(dir, "tree.lock")}
	lock, err := Plan(ctx, opts)
	if err != nil {
		t.Fatal(err)
	}
	if err := lock.Lock.WriteFile(opts.LockFile); err != nil {
		t.Fatal(err)
	}
	opts.Offline, opts.Sources = true, nil
	if p, err := Plan(ctx, opts); err != nil || p.ReleaseVer != "13" || p.Ref != "test/13/amd64" {
		t.Errorf("offline plan from a trixie lock: %+v, %v", p, err)
	}
	// A typo'd variable is told before anything is read.
	bad := tf.Clone()
	bad.Ref = "test/${relasever}"
	opts.Treefile, opts.Offline, opts.LockFile = bad, false, filepath.Join(dir, "absent.lock")
	if _, err := Plan(ctx, opts); err == nil || !strings.Contains(err.Error(), "${relasever}") || strings.Contains(err.Error(), "plan:") {
		t.Errorf("typo'd variable: err = %v", err)
	}
}
