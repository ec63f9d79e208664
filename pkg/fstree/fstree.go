// Package fstree holds a filesystem tree in memory whose file contents live
// elsewhere (in an OSTree object store) or, for files generated during a
// build, inline. It is the value the build stages hand each other: unpack
// yields one per package, assembly merges them, configuration edits the
// merged tree, and the commit writer turns it into OSTree objects. Nothing
// is ever extracted to a real directory.
//
// Paths are slash-separated, relative, cleaned and without a leading slash
// ("usr/bin/sh"); the root directory is "".
package fstree

import (
	"fmt"
	"io/fs"
	"path"
	"sort"
	"strings"
)

// Kind is an entry's file type. Device nodes and FIFOs do not exist here,
// because OSTree cannot commit them.
type Kind uint8

const (
	Dir Kind = iota + 1
	File
	Symlink
)

func (k Kind) String() string {
	switch k {
	case Dir:
		return "dir"
	case File:
		return "file"
	case Symlink:
		return "symlink"
	}
	return fmt.Sprintf("kind(%d)", uint8(k))
}

// Xattr is one extended attribute; Name has no trailing NUL.
type Xattr struct {
	Name  string
	Value []byte
}

// Meta is what OSTree hashes besides the payload.
type Meta struct {
	Mode   uint32 // permission bits incl. setuid/setgid/sticky (07777), no S_IFMT
	UID    uint32
	GID    uint32
	Xattrs []Xattr // sorted by Name
}

// Equal reports whether two Metas hash the same.
func (m Meta) Equal(o Meta) bool {
	if m.Mode != o.Mode || m.UID != o.UID || m.GID != o.GID || len(m.Xattrs) != len(o.Xattrs) {
		return false
	}
	for i := range m.Xattrs {
		if m.Xattrs[i].Name != o.Xattrs[i].Name || string(m.Xattrs[i].Value) != string(o.Xattrs[i].Value) {
			return false
		}
	}
	return true
}

// Entry is one path.
type Entry struct {
	Kind Kind
	Meta
	Target string // symlink target
	Size   int64  // regular file payload size

	// Object is the OSTree content checksum (64 hex) of a regular file or
	// symlink already in the store, computed with ObjectMeta. When Meta
	// differs from ObjectMeta (a later stage changed the owner or mode),
	// the commit writer re-hashes the payload under the new Meta.
	Object     string
	ObjectMeta Meta

	// Data is the payload of a file generated during the build and not yet
	// in the store. Object is "" for such files.
	Data []byte

	// Package owns the entry ("" for generated files and for directories
	// several packages share).
	Package string
}

// Tree maps paths to entries. The zero value is not usable; call New.
type Tree struct {
	entries map[string]*Entry
	// kids indexes each directory's children by name, so listing a
	// directory does not scan the whole tree.
	kids map[string]map[string]struct{}
}

// New returns a tree holding only the root directory (0755 root:root).
func New() *Tree {
	return &Tree{
		entries: map[string]*Entry{"": {Kind: Dir, Meta: Meta{Mode: 0o755}}},
		kids:    map[string]map[string]struct{}{},
	}
}

func (t *Tree) set(p string, e *Entry) {
	t.entries[p] = e
	if p == "" {
		return
	}
	dir, name := splitPath(p)
	k := t.kids[dir]
	if k == nil {
		k = map[string]struct{}{}
		t.kids[dir] = k
	}
	k[name] = struct{}{}
}

func (t *Tree) del(p string) {
	delete(t.entries, p)
	delete(t.kids, p)
	if p == "" {
		return
	}
	dir, name := splitPath(p)
	delete(t.kids[dir], name)
}

func splitPath(p string) (dir, name string) {
	if i := strings.LastIndexByte(p, '/'); i >= 0 {
		return p[:i], p[i+1:]
	}
	return "", p
}

// Clean normalises p to the tree's path form, or reports why it cannot.
// Paths that leave the root ("..") are rejected rather than clamped, because
// in a package they are an attack, not a typo.
func Clean(p string) (string, error) {
	p = strings.TrimPrefix(p, "./")
	p = strings.TrimLeft(p, "/")
	if p == "" || p == "." {
		return "", nil
	}
	for _, c := range strings.Split(p, "/") {
		if c == ".." {
			return "", fmt.Errorf("path %q leaves the root", p)
		}
	}
	c := path.Clean(p)
	if c == "." {
		return "", nil
	}
	return c, nil
}

// Get returns the entry at p, or nil.
func (t *Tree) Get(p string) *Entry { return t.entries[p] }

// Len is the number of entries, the root included.
func (t *Tree) Len() int { return len(t.entries) }

// Put stores e at p, creating missing parent directories (0755 root:root).
// It replaces whatever was at p; a directory replaced by a non-directory
// loses its children.
func (t *Tree) Put(p string, e *Entry) error {
	p, err := Clean(p)
	if err != nil {
		return err
	}
	if p == "" {
		if e.Kind != Dir {
			return fmt.Errorf("root must be a directory")
		}
		t.set("", e)
		return nil
	}
	if err := t.MkdirAll(path.Dir(p)); err != nil {
		return err
	}
	if old := t.entries[p]; old != nil && old.Kind == Dir && e.Kind != Dir {
		t.RemoveAll(p)
	}
	t.set(p, e)
	return nil
}

// MkdirAll makes p and its parents directories where missing. It fails if
// a parent is not a directory; symlinks are not followed.
func (t *Tree) MkdirAll(p string) error {
	p, err := Clean(p)
	if err != nil {
		return err
	}
	if p == "" {
		return nil
	}
	if e := t.entries[p]; e != nil {
		if e.Kind != Dir {
			return fmt.Errorf("%s: exists and is a %s, not a directory", p, e.Kind)
		}
		return nil
	}
	if err := t.MkdirAll(path.Dir(p)); err != nil {
		return err
	}
	t.set(p, &Entry{Kind: Dir, Meta: Meta{Mode: 0o755}})
	return nil
}

// RemoveAll deletes p and, if it is a directory, everything below it.
// Removing the root leaves an empty root directory.
func (t *Tree) RemoveAll(p string) {
	for name := range t.kids[p] {
		c := name
		if p != "" {
			c = p + "/" + name
		}
		t.RemoveAll(c)
	}
	if p == "" {
		t.kids = map[string]map[string]struct{}{}
		t.entries = map[string]*Entry{"": {Kind: Dir, Meta: Meta{Mode: 0o755}}}
		return
	}
	t.del(p)
}

// Rename moves p (and its subtree) to q, replacing q. q's parents are created.
func (t *Tree) Rename(p, q string) error {
	if t.entries[p] == nil {
		return fmt.Errorf("rename %s: %w", p, fs.ErrNotExist)
	}
	if q == p || strings.HasPrefix(q, p+"/") || p == "" {
		return fmt.Errorf("rename %s to %s: target inside source", p, q)
	}
	moved := map[string]*Entry{}
	t.collect(p, q, moved)
	t.RemoveAll(p)
	if t.entries[q] != nil {
		t.RemoveAll(q)
	}
	if err := t.Put(q, moved[q]); err != nil {
		return err
	}
	for k, e := range moved {
		t.set(k, e)
	}
	return nil
}

func (t *Tree) collect(p, q string, into map[string]*Entry) {
	into[q] = t.entries[p]
	for name := range t.kids[p] {
		t.collect(p+"/"+name, q+"/"+name, into)
	}
}

// Paths returns every path in byte order ("" first), so callers iterate
// deterministically.
func (t *Tree) Paths() []string {
	out := make([]string, 0, len(t.entries))
	for k := range t.entries {
		out = append(out, k)
	}
	sort.Strings(out)
	return out
}

// Children returns the names directly below directory p, in byte order.
func (t *Tree) Children(p string) []string {
	out := make([]string, 0, len(t.kids[p]))
	for name := range t.kids[p] {
		out = append(out, name)
	}
	sort.Strings(out)
	return out
}

// Walk calls fn for every entry in byte order of path.
func (t *Tree) Walk(fn func(p string, e *Entry) error) error {
	for _, p := range t.Paths() {
		if err := fn(p, t.entries[p]); err != nil {
			return err
		}
	}
	return nil
}

// Resolve follows symlinks in p's parent components (not the last one)
// within the tree, the way the kernel would inside a chroot at the tree's
// root. It returns the resolved path, or an error after 40 links.
func (t *Tree) Resolve(p string) (string, error) {
	p, err := Clean(p)
	if err != nil {
		return "", err
	}
	hops := 0
	parts := strings.Split(p, "/")
	cur := ""
	for i := 0; i < len(parts); i++ {
		next := path.Join(cur, parts[i])
		e := t.entries[next]
		if e != nil && e.Kind == Symlink && i < len(parts)-1 {
			hops++
			if hops > 40 {
				return "", fmt.Errorf("%s: too many levels of symbolic links", p)
			}
			target := e.Target
			var base string
			if strings.HasPrefix(target, "/") {
				base = ""
			} else {
				base = cur
			}
			rest := strings.Join(parts[i+1:], "/")
			joined := path.Join("/", base, target, rest)
			np, err := Clean(joined)
			if err != nil {
				return "", err
			}
			parts = strings.Split(np, "/")
			cur = ""
			i = -1
			continue
		}
		cur = next
	}
	return cur, nil
}
