package configure

import (
	"context"
	"os"
	"path/filepath"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/debatom/debatom/internal/testenv"
	"github.com/debatom/debatom/pkg/configure/internal/debtest"
	"github.com/debatom/debatom/pkg/fstree"
)

// The frozen archive's 213 packages, unpacked once per test binary.
var (
	loadOnce sync.Once
	loaded   *fstree.Tree
	loadedP  []*Package
	loadErr  error
)

// archiveSet returns a fresh copy of the merged tree of every .deb in the
// frozen archive, and the packages' control data.
func archiveSet(t testing.TB) (*fstree.Tree, []*Package) {
	t.Helper()
	dir := testenv.Archive(t)
	testenv.Tool(t, "dpkg-deb")
	loadOnce.Do(func() {
		start := time.Now()
		loaded, loadedP, loadErr = debtest.Load(context.Background(), filepath.Join(dir, "pool"))
		t.Logf("unpacked %d packages in %v", len(loadedP), time.Since(start))
	})
	if loadErr != nil {
		t.Fatal(loadErr)
	}
	return clone(loaded), loadedP
}

func clone(t *fstree.Tree) *fstree.Tree {
	out := fstree.New()
	t.Walk(func(p string, e *fstree.Entry) error {
		c := *e
		c.Xattrs = append([]fstree.Xattr(nil), e.Xattrs...)
		if p == "" {
			out.Put("", &c)
			return nil
		}
		out.Put(p, &c)
		return nil
	})
	return out
}

// configured runs Configure on a fresh copy of the archive set.
func configured(t testing.TB, opts Options) (*fstree.Tree, *Report) {
	t.Helper()
	tr, pkgs := archiveSet(t)
	rep, err := Configure(context.Background(), tr, nil, pkgs, opts)
	if err != nil {
		t.Fatal(err)
	}
	return tr, rep
}

// materialise writes the tree under dir for the host tools. Payloads the
// test loader did not keep (kernel modules) become empty files; keep
// limits regular files to the paths an oracle reads.
func materialise(t testing.TB, tr *fstree.Tree, dir string, keep func(p string) bool) {
	t.Helper()
	var dirs []string
	err := tr.Walk(func(p string, e *fstree.Entry) error {
		full := filepath.Join(dir, p)
		switch e.Kind {
		case fstree.Dir:
			if err := os.MkdirAll(full, 0o755); err != nil {
				return err
			}
			dirs = append(dirs, p)
		case fstree.Symlink:
			if err := os.Symlink(e.Target, full); err != nil {
				return err
			}
			return os.Lchown(full, int(e.UID), int(e.GID))
		case fstree.File:
			if !keep(p) {
				return nil
			}
			if err := os.WriteFile(full, e.Data, 0o600); err != nil {
				return err
			}
			if err := os.Chown(full, int(e.UID), int(e.GID)); err != nil {
				return err
			}
			return os.Chmod(full, os.FileMode(e.Mode&0o777)|modeBits(e.Mode))
		}
		return nil
	})
	if err != nil {
		t.Fatal(err)
	}
	for _, p := range dirs {
		e := tr.Get(p)
		full := filepath.Join(dir, p)
		os.Chown(full, int(e.UID), int(e.GID))
		os.Chmod(full, os.FileMode(e.Mode&0o777)|modeBits(e.Mode))
	}
}

func modeBits(m uint32) os.FileMode {
	var out os.FileMode
	if m&0o4000 != 0 {
		out |= os.ModeSetuid
	}
	if m&0o2000 != 0 {
		out |= os.ModeSetgid
	}
	if m&0o1000 != 0 {
		out |= os.ModeSticky
	}
	return out
}

func under(prefixes ...string) func(string) bool {
	return func(p string) bool {
		for _, pre := range prefixes {
			if strings.HasPrefix(p, pre) {
				return true
			}
		}
		return false
	}
}
