package ostreerepo

import (
	"context"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"runtime"
	"sort"
	"testing"

	"golang.org/x/sync/errgroup"

	"github.com/debatom/debatom/internal/testenv"
)

// extractDebs unpacks every .deb of the test archive into dir, as root,
// keeping owners and modes (dpkg-deb's tar stream through tar -p
// --same-owner), which is what a package manager would leave on disk.
func extractDebs(t testing.TB, archive, dir string) int {
	t.Helper()
	dpkgDeb := testenv.Tool(t, "dpkg-deb")
	tar := testenv.Tool(t, "tar")
	var debs []string
	err := filepath.Walk(filepath.Join(archive, "pool"), func(p string, info os.FileInfo, err error) error {
		if err == nil && filepath.Ext(p) == ".deb" {
			debs = append(debs, p)
		}
		return err
	})
	if err != nil || len(debs) == 0 {
		t.Fatalf("no .debs in %s: %v", archive, err)
	}
	sort.Strings(debs)
	// Extract into one staging dir per package in parallel, then merge in
	// name order so overlapping paths resolve the same way every run.
	stage := t.TempDir()
	var g errgroup.Group
	g.SetLimit(runtime.GOMAXPROCS(0))
	for i, deb := range debs {
		g.Go(func() error {
			d := filepath.Join(stage, fmt.Sprint(i))
			if err := os.Mkdir(d, 0o755); err != nil {
				return err
			}
			cmd := exec.Command("sh", "-c", `"$0" --fsys-tarfile "$1" | "$2" -x -p --same-owner --numeric-owner -C "$3"`, dpkgDeb, deb, tar, d)
			if out, err := cmd.CombinedOutput(); err != nil {
				return fmt.Errorf("extract %s: %v\n%s", deb, err, out)
			}
			return nil
		})
	}
	if err := g.Wait(); err != nil {
		t.Fatal(err)
	}
	for i := range debs {
		cmd := exec.Command("sh", "-c", `"$0" -C "$1" -c . | "$0" -x -p --same-owner --numeric-owner --keep-directory-symlink -C "$2"`, tar, filepath.Join(stage, fmt.Sprint(i)), dir)
		if out, err := cmd.CombinedOutput(); err != nil {
			t.Fatalf("merge %s: %v\n%s", debs[i], err, out)
		}
	}
	return len(debs)
}

// TestDebianRootfsMatchesOstree commits a real Debian 13 root filesystem
// (all packages of the test archive, unpacked as root) with ostree and
// with this package, archive and bare-user, with and without the ref
// binding, and demands identical commits and a clean fsck.
func TestDebianRootfsMatchesOstree(t *testing.T) {
	if testing.Short() {
		t.Skip("unpacks and commits ~300 MB")
	}
	archive := testenv.Archive(t)
	testenv.Root(t)
	dir := t.TempDir()
	n := extractDebs(t, archive, dir)
	t.Logf("unpacked %d packages", n)
	ctx := context.Background()
	stamp := testStamp.Format("2006-01-02T15:04:05Z")

	for _, mode := range []Mode{ModeArchive, ModeBareUser} {
		t.Run(mode.String(), func(t *testing.T) {
			base := t.TempDir()
			oRepo := filepath.Join(base, "ostree")
			runOstree(t, "init", "--repo="+oRepo, "--mode="+mode.String())
			oBound := runOstree(t, "commit", "--repo="+oRepo, "--branch=debian/13/x86_64", "--subject=Debian 13",
				"--timestamp="+stamp, "--add-metadata-string=version=13.8", dir)
			oFree := runOstree(t, "commit", "--repo="+oRepo, "--orphan", "--no-bindings", "--subject=Debian 13",
				"--timestamp="+stamp, "--add-metadata-string=version=13.8", dir)

			r, err := Create(filepath.Join(base, "debatom"), mode)
			if err != nil {
				t.Fatal(err)
			}
			root, meta, err := r.WriteDir(ctx, dir)
			if err != nil {
				t.Fatal(err)
			}
			opts := CommitOptions{Subject: "Debian 13", Timestamp: testStamp, Metadata: []MetaItem{MetaString("version", "13.8")}}
			free, err := r.Commit(ctx, root, meta, opts)
			if err != nil {
				t.Fatal(err)
			}
			opts.Ref, opts.Bindings = "debian/13/x86_64", true
			bound, err := r.Commit(ctx, root, meta, opts)
			if err != nil {
				t.Fatal(err)
			}
			if bound != oBound {
				t.Errorf("with binding: %s, ostree %s", bound, oBound)
			}
			if free != oFree {
				t.Errorf("without binding: %s, ostree %s", free, oFree)
			}
			runOstree(t, "fsck", "--repo="+r.Dir())
		})
	}
}
