package deploy

import (
	"context"
	"fmt"
	"path"
	"runtime"
	"sync/atomic"

	"github.com/debatom/debatom/pkg/fstree"
	"github.com/debatom/debatom/pkg/ostreerepo"
	"golang.org/x/sync/errgroup"
)

// checkout loads commit into a tree as repo.Checkout does, but reads the
// file objects' headers (mode, owner, xattrs, size: every object has to
// be opened for them) several at a time. Those ten thousand opens and
// reads are most of a deployment's time and would otherwise run on one
// core, before anything else can start.
func checkout(ctx context.Context, repo *ostreerepo.Repo, commit string) (*fstree.Tree, error) {
	c, err := repo.ReadCommit(commit)
	if err != nil {
		return nil, err
	}
	t := fstree.New()
	type file struct {
		path, csum string
		e          *fstree.Entry
	}
	var files []*file
	var walk func(p, tree, meta string, depth int) error
	walk = func(p, tree, meta string, depth int) error {
		if depth > 4096 {
			return fmt.Errorf("checkout %s: directories nested too deep", p)
		}
		if err := ctx.Err(); err != nil {
			return err
		}
		dm, err := repo.ReadDirMeta(meta)
		if err != nil {
			return err
		}
		if err := t.Put(p, &fstree.Entry{Kind: fstree.Dir, Meta: dm.Meta}); err != nil {
			return err
		}
		dt, err := repo.ReadDirTree(tree)
		if err != nil {
			return err
		}
		for _, f := range dt.Files {
			files = append(files, &file{path: path.Join(p, f.Name), csum: f.Checksum})
		}
		for _, d := range dt.Dirs {
			if err := walk(path.Join(p, d.Name), d.Tree, d.Meta, depth+1); err != nil {
				return err
			}
		}
		return nil
	}
	if err := walk("", c.RootTree, c.RootMeta, 0); err != nil {
		return nil, err
	}

	// A few long-lived workers, each taking the next file.
	g, gctx := errgroup.WithContext(ctx)
	var next atomic.Int64
	for range 2 * runtime.GOMAXPROCS(0) {
		g.Go(func() error {
			for {
				i := int(next.Add(1)) - 1
				if i >= len(files) {
					return nil
				}
				if err := gctx.Err(); err != nil {
					return err
				}
				f := files[i]
				rc, fi, err := repo.OpenFile(f.csum)
				if err != nil {
					return fmt.Errorf("%s: %w", f.path, err)
				}
				rc.Close()
				f.e = &fstree.Entry{Kind: fi.Kind, Meta: fi.Meta, Target: fi.Target, Size: fi.Size, Object: f.csum, ObjectMeta: fi.Meta}
			}
		})
	}
	if err := g.Wait(); err != nil {
		return nil, err
	}
	for _, f := range files {
		if err := t.Put(f.path, f.e); err != nil {
			return nil, err
		}
	}
	return t, nil
}
