package compose

import (
	"context"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/debatom/debatom/internal/testenv"
	"github.com/debatom/debatom/pkg/apt"
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
		// manifests and boot artefacts: still the same commit.
		os.RemoveAll(filepath.Join(cache, "unpacked"))
		os.RemoveAll(filepath.Join(cache, "boot"))
		opts3 := opts
		opts3.OutDir = filepath.Join(work, "out3")
		opts3.Offline = true
		opts3.LockFile = res.LockFile
		opts3.Timestamp = res2timestamp(t, res.RepoDir, res.Commit)
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
		drifted := strings.Replace(string(lock), `"version": "`, `"version": "9:`, 1)
		os.WriteFile(o.LockFile, []byte(drifted), 0o644)
		if _, err := Build(ctx, o); err == nil || !strings.Contains(err.Error(), "lock") {
			t.Fatalf("drifted lockfile: err = %v", err)
		}
	})
}

// res2timestamp reads the commit's timestamp, which an offline build (no
// Release to date it by) must be given.
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
