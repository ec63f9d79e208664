// Package assemble merges the trees of unpacked packages into one tree the
// way dpkg would unpack them one after another onto the same root.
//
// dpkg's rules that matter here: a path inside a directory that is a
// symlink lands where the symlink points (this is how Debian 13's merged
// /usr works: base-files ships bin → usr/bin, packages ship usr/bin/...);
// a directory shipped over an existing symlink to a directory keeps the
// symlink; a file shipped where another package already has one is an
// error unless the new package Replaces the old one; a directory that
// already exists keeps the metadata it got first.
package assemble

import (
	"fmt"
	"path"
	"sort"

	"github.com/debatom/debatom/pkg/fstree"
)

// Item is one entry of a package's data.tar, in archive order.
type Item struct {
	Path  string // as in the package, e.g. "usr/bin/ls" ("./" and "/" prefixes allowed)
	Entry *fstree.Entry
}

// Package is one unpacked package.
type Package struct {
	Name  string
	Items []Item
}

// ReplacesFunc reports whether package newer may overwrite files of older
// (its Replaces field names older, with a satisfied version relation).
type ReplacesFunc func(newer, older string) bool

// Result is the merged tree plus who owns what.
type Result struct {
	Tree *fstree.Tree
	// Owners maps each resolved non-directory path to its final owner.
	Owners map[string]string
	// Replaced lists files taken over through Replaces, "path: old → new".
	Replaced []string
}

// Assemble unpacks pkgs in order onto an empty root.
func Assemble(pkgs []Package, replaces ReplacesFunc) (*Result, error) {
	t := fstree.New()
	res := &Result{Tree: t, Owners: map[string]string{}}
	for _, p := range pkgs {
		for _, it := range p.Items {
			if err := place(res, p.Name, it, replaces); err != nil {
				return nil, fmt.Errorf("package %s: %w", p.Name, err)
			}
		}
	}
	sort.Strings(res.Replaced)
	return res, nil
}

func place(res *Result, pkg string, it Item, replaces ReplacesFunc) error {
	t := res.Tree
	clean, err := fstree.Clean(it.Path)
	if err != nil {
		return fmt.Errorf("entry %s: %w", it.Path, err)
	}
	if clean == "" {
		return nil // "./" itself: the root exists already
	}
	dst, err := t.Resolve(clean)
	if err != nil {
		return fmt.Errorf("entry %s: %w", it.Path, err)
	}
	old := t.Get(dst)
	e := *it.Entry
	if e.Kind != fstree.Dir {
		e.Package = pkg
	}
	switch {
	case e.Kind == fstree.Dir:
		if old == nil {
			return put(t, dst, &e, it.Path)
		}
		if old.Kind == fstree.Dir {
			return nil
		}
		if old.Kind == fstree.Symlink {
			// Resolving a name below the link follows the link itself.
			below, err := t.Resolve(dst + "/x")
			if err == nil {
				if te := t.Get(path.Dir(below)); te != nil && te.Kind == fstree.Dir {
					return nil // dpkg keeps a symlink to a directory
				}
			}
		}
		return fmt.Errorf("entry %s: cannot make a directory over %s's %s %s", it.Path, ownerOf(res, dst), old.Kind, dst)
	case old == nil:
		res.Owners[dst] = pkg
		return put(t, dst, &e, it.Path)
	case old.Kind == fstree.Dir:
		return fmt.Errorf("entry %s: %s is a directory, the package ships a %s", it.Path, dst, e.Kind)
	default:
		prev := res.Owners[dst]
		if prev == pkg {
			return fmt.Errorf("entry %s: the package ships %s twice", it.Path, dst)
		}
		if replaces != nil && !replaces(pkg, prev) && replaces(prev, pkg) {
			// dpkg: "replaced by files in installed package": the
			// package already there takes precedence.
			res.Replaced = append(res.Replaced, fmt.Sprintf("/%s: %s kept over %s", dst, prev, pkg))
			return nil
		}
		if replaces == nil || !replaces(pkg, prev) {
			return fmt.Errorf("trying to overwrite /%s, which is also in package %s (and %s does not Replace it)", dst, prev, pkg)
		}
		res.Replaced = append(res.Replaced, fmt.Sprintf("/%s: %s → %s", dst, prev, pkg))
		res.Owners[dst] = pkg
		return put(t, dst, &e, it.Path)
	}
}

func put(t *fstree.Tree, dst string, e *fstree.Entry, orig string) error {
	if err := t.Put(dst, e); err != nil {
		return fmt.Errorf("entry %s: %w", orig, err)
	}
	return nil
}

func ownerOf(res *Result, p string) string {
	if o := res.Owners[p]; o != "" {
		return o
	}
	return "another package"
}
