package compose

import (
	"context"
	"io"
	"os"
	"path/filepath"
	"testing"

	"github.com/debatom/debatom/pkg/apt"
	"github.com/debatom/debatom/pkg/configure"
	"github.com/debatom/debatom/pkg/configure/ldcache"
	"github.com/debatom/debatom/pkg/fstree"
	"github.com/debatom/debatom/pkg/treefile"
)

// TestLibraryFacts: a cold build takes a library's soname while unpacking
// it, lists it in ld.so.cache and keeps the fact in the cache; a damaged
// facts file costs nothing but a note, and is written afresh.
func TestLibraryFacts(t *testing.T) {
	ctx := context.Background()
	lib, err := os.ReadFile("../configure/ldcache/testdata/libattr.so.1.1.2502")
	if err != nil {
		t.Fatal(err)
	}
	dir := t.TempDir()
	archive := filepath.Join(dir, "archive")
	pkgs := append([]tinyPackage{{"libattr1", "1:2.5.2-3", map[string]string{"usr/lib/x86_64-linux-gnu/libattr.so.1.1.2502": string(lib)}}}, conflictPackages[0], conflictPackages[2])
	writeSignedArchive(t, archive, "trixie", "Origin: debatom test\nSuite: stable\nCodename: trixie\nDate: Sat, 21 Nov 2026 09:15:44 UTC\n", pkgs)
	tf, err := treefile.Parse("tree.yaml", []byte("ref: test/lib\npackages: [libattr1, alpha, gamma]\n"))
	if err != nil {
		t.Fatal(err)
	}
	cache := filepath.Join(dir, "cache")
	opts := Options{Treefile: tf, OutDir: filepath.Join(dir, "out"), CacheDir: cache, NoInitramfs: true,
		Sources: []apt.Source{{URL: "file://" + archive, Suite: "trixie", Components: []string{"main"}, Keyring: filepath.Join(archive, "keyring.gpg")}}}
	res, err := Build(ctx, opts)
	if err != nil {
		t.Fatal(err)
	}
	want := []ldcache.Entry{{Flags: ldcache.FlagX8664Lib64 | ldcache.FlagELFLibc6, Key: "libattr.so.1", Path: "/usr/lib/x86_64-linux-gnu/libattr.so.1"}}
	if got := ldCache(t, res); len(got) != 1 || got[0] != want[0] {
		t.Errorf("ld.so.cache %+v, want %+v", got, want)
	}
	factsPath := filepath.Join(cache, configure.FactsFile)
	if f, err := ldcache.LoadFacts(factsPath); err != nil || f.Len() != 1 {
		t.Fatalf("facts after a cold build: %d, %v; want the library's", f.Len(), err)
	}

	// Damaged: not trusted, not fatal, the same cache, and saved again.
	if err := os.WriteFile(factsPath, []byte("garbage"), 0o644); err != nil {
		t.Fatal(err)
	}
	os.RemoveAll(filepath.Join(cache, "unpacked"))
	opts.OutDir = filepath.Join(dir, "out2")
	res2, err := Build(ctx, opts)
	if err != nil {
		t.Fatal(err)
	}
	if got := ldCache(t, res2); len(got) != 1 || got[0] != want[0] {
		t.Errorf("with damaged facts: ld.so.cache %+v, want %+v", got, want)
	}
	if res2.Commit != res.Commit {
		t.Errorf("with damaged facts: commit %s, want %s", res2.Commit, res.Commit)
	}
	if f, err := ldcache.LoadFacts(factsPath); err != nil || f.Len() != 1 {
		t.Errorf("facts after the damaged file: %d, %v", f.Len(), err)
	}
}

// ldCache reads the commit's ld.so.cache back.
func ldCache(t *testing.T, res *Result) []ldcache.Entry {
	t.Helper()
	var e *fstree.Entry
	for _, p := range []string{"usr/etc/ld.so.cache", "etc/ld.so.cache"} {
		if e = res.Tree.Get(p); e != nil {
			break
		}
	}
	if e == nil {
		t.Fatal("no ld.so.cache in the tree")
	}
	data := e.Data
	if data == nil {
		rc, _, err := res.Repo.OpenFile(e.Object)
		if err != nil {
			t.Fatal(err)
		}
		defer rc.Close()
		if data, err = io.ReadAll(rc); err != nil {
			t.Fatal(err)
		}
	}
	es, err := ldcache.Parse(data)
	if err != nil {
		t.Fatal(err)
	}
	return es
}
