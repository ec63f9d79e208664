package ostreerepo

import (
	"bytes"
	"context"
	"fmt"
	"path"
	"runtime"
	"strings"

	"golang.org/x/sync/errgroup"

	"github.com/debatom/debatom/pkg/fstree"
)

// WriteTree writes the dirtree and dirmeta objects of t and returns the
// root's. Files with Data are stored; files whose Meta differs from
// ObjectMeta are re-hashed from their stored payload under the new Meta;
// other files must already be in the repository as Object.
func (r *Repo) WriteTree(ctx context.Context, t *fstree.Tree) (dirtree, dirmeta string, err error) {
	paths := t.Paths()
	// One pass builds a per-directory child index, because fstree's
	// Children scans the whole tree and would make this quadratic.
	kids := make(map[string][]string, len(paths)/8)
	csums := make(map[string]string, len(paths))
	var jobs []string
	for _, p := range paths {
		if p == "" {
			continue
		}
		parent := path.Dir(p)
		if parent == "." {
			parent = ""
		}
		kids[parent] = append(kids[parent], p)
		if t.Get(p).Kind != fstree.Dir {
			jobs = append(jobs, p)
		}
	}
	results := make([]string, len(jobs))
	g, gctx := errgroup.WithContext(ctx)
	g.SetLimit(runtime.GOMAXPROCS(0))
	for i, p := range jobs {
		g.Go(func() error {
			if err := gctx.Err(); err != nil {
				return err
			}
			c, err := r.writeEntry(t.Get(p))
			if err != nil {
				return fmt.Errorf("%s: %w", p, err)
			}
			results[i] = c
			return nil
		})
	}
	if err := g.Wait(); err != nil {
		return "", "", err
	}
	for i, p := range jobs {
		csums[p] = results[i]
	}
	type dirResult struct{ tree, meta string }
	dirs := make(map[string]dirResult)
	for i := len(paths) - 1; i >= 0; i-- {
		p := paths[i]
		e := t.Get(p)
		if e.Kind != fstree.Dir {
			continue
		}
		if err := ctx.Err(); err != nil {
			return "", "", err
		}
		var dt DirTree
		for _, k := range kids[p] {
			name := k[strings.LastIndexByte(k, '/')+1:]
			if t.Get(k).Kind == fstree.Dir {
				d := dirs[k]
				dt.Dirs = append(dt.Dirs, DirTreeDir{Name: name, Tree: d.tree, Meta: d.meta})
				delete(dirs, k)
			} else {
				dt.Files = append(dt.Files, DirTreeFile{Name: name, Checksum: csums[k]})
			}
		}
		tc, mc, err := r.writeDir(&dt, e.Meta)
		if err != nil {
			return "", "", fmt.Errorf("directory /%s: %w", p, err)
		}
		dirs[p] = dirResult{tc, mc}
	}
	root := dirs[""]
	return root.tree, root.meta, nil
}

func (r *Repo) writeDir(dt *DirTree, meta fstree.Meta) (tree, dmeta string, err error) {
	b, err := dt.Bytes()
	if err != nil {
		return "", "", err
	}
	if tree, err = r.WriteMetadata(ObjDirTree, b); err != nil {
		return "", "", err
	}
	if dmeta, err = r.WriteDirMeta(meta); err != nil {
		return "", "", err
	}
	return tree, dmeta, nil
}

// writeEntry stores (or finds) the content object of a non-directory.
func (r *Repo) writeEntry(e *fstree.Entry) (string, error) {
	switch e.Kind {
	case fstree.Symlink:
		if e.Object != "" && e.Meta.Equal(e.ObjectMeta) {
			return e.Object, nil
		}
		return r.WriteSymlink(e.Meta, e.Target)
	case fstree.File:
		if e.Data != nil {
			return r.WriteFile(e.Meta, bytes.NewReader(e.Data), int64(len(e.Data)))
		}
		if e.Object == "" {
			if e.Size == 0 {
				return r.WriteFile(e.Meta, bytes.NewReader(nil), 0)
			}
			return "", fmt.Errorf("file has neither data nor an object")
		}
		if e.Meta.Equal(e.ObjectMeta) {
			if !r.HasObject(e.Object, ObjFile) {
				return "", fmt.Errorf("object %s is not in %s", e.Object, r.dir)
			}
			return e.Object, nil
		}
		rc, fi, err := r.OpenFile(e.Object)
		if err != nil {
			return "", err
		}
		defer rc.Close()
		return r.WriteFile(e.Meta, rc, fi.Size)
	}
	return "", fmt.Errorf("cannot store a %s as a content object", e.Kind)
}
