package fstree

import (
	"bytes"
	"errors"
	"io"
	"io/fs"
	"path"
	"time"
)

// OpenFunc opens the payload of a regular file entry whose content lives
// outside the tree (in an object store). Entries with Data are served
// without it.
type OpenFunc func(p string, e *Entry) (io.ReadCloser, error)

// FS returns a read-only io/fs view of t, so code written against fs.FS
// (depmod, the initramfs builder) reads a tree that exists only in memory
// and in an object store. Symlinks are followed inside the tree, as in a
// chroot; the view implements fs.ReadLinkFS and fs.ReadDirFS.
func (t *Tree) FS(open OpenFunc) fs.FS { return &treeFS{t: t, open: open} }

type treeFS struct {
	t    *Tree
	open OpenFunc
}

var (
	_ fs.ReadLinkFS = (*treeFS)(nil)
	_ fs.ReadDirFS  = (*treeFS)(nil)
)

func (f *treeFS) lookup(op, name string, follow bool) (string, *Entry, error) {
	if !fs.ValidPath(name) {
		return "", nil, &fs.PathError{Op: op, Path: name, Err: fs.ErrInvalid}
	}
	p := name
	if p == "." {
		p = ""
	}
	for hops := 0; ; hops++ {
		r, err := f.t.Resolve(p)
		if err != nil {
			return "", nil, &fs.PathError{Op: op, Path: name, Err: err}
		}
		e := f.t.Get(r)
		if e == nil {
			return "", nil, &fs.PathError{Op: op, Path: name, Err: fs.ErrNotExist}
		}
		if e.Kind != Symlink || !follow {
			return r, e, nil
		}
		if hops > 40 {
			return "", nil, &fs.PathError{Op: op, Path: name, Err: errors.New("too many levels of symbolic links")}
		}
		if path.IsAbs(e.Target) {
			p = e.Target
		} else {
			p = path.Join(path.Dir("/"+r), e.Target)
		}
		p, err = Clean(path.Join("/", p))
		if err != nil {
			return "", nil, &fs.PathError{Op: op, Path: name, Err: err}
		}
	}
}

func (f *treeFS) Open(name string) (fs.File, error) {
	r, e, err := f.lookup("open", name, true)
	if err != nil {
		return nil, err
	}
	info := &fileInfo{name: path.Base(name), e: e}
	switch e.Kind {
	case Dir:
		return &dirFile{f: f, path: r, info: info}, nil
	case File:
		var rc io.ReadCloser
		if e.Data != nil || e.Object == "" {
			rc = io.NopCloser(bytes.NewReader(e.Data))
		} else {
			if f.open == nil {
				return nil, &fs.PathError{Op: "open", Path: name, Err: errors.New("content is in the object store and no opener was given")}
			}
			rc, err = f.open(r, e)
			if err != nil {
				return nil, &fs.PathError{Op: "open", Path: name, Err: err}
			}
		}
		return &regFile{ReadCloser: rc, info: info}, nil
	}
	return nil, &fs.PathError{Op: "open", Path: name, Err: fs.ErrInvalid}
}

func (f *treeFS) ReadLink(name string) (string, error) {
	_, e, err := f.lookup("readlink", name, false)
	if err != nil {
		return "", err
	}
	if e.Kind != Symlink {
		return "", &fs.PathError{Op: "readlink", Path: name, Err: fs.ErrInvalid}
	}
	return e.Target, nil
}

func (f *treeFS) Lstat(name string) (fs.FileInfo, error) {
	_, e, err := f.lookup("lstat", name, false)
	if err != nil {
		return nil, err
	}
	return &fileInfo{name: path.Base(name), e: e}, nil
}

func (f *treeFS) Stat(name string) (fs.FileInfo, error) {
	_, e, err := f.lookup("stat", name, true)
	if err != nil {
		return nil, err
	}
	return &fileInfo{name: path.Base(name), e: e}, nil
}

func (f *treeFS) ReadDir(name string) ([]fs.DirEntry, error) {
	r, e, err := f.lookup("readdir", name, true)
	if err != nil {
		return nil, err
	}
	if e.Kind != Dir {
		return nil, &fs.PathError{Op: "readdir", Path: name, Err: errors.New("not a directory")}
	}
	return f.entries(r), nil
}

func (f *treeFS) entries(dir string) []fs.DirEntry {
	names := f.t.Children(dir)
	out := make([]fs.DirEntry, 0, len(names))
	for _, n := range names {
		out = append(out, fs.FileInfoToDirEntry(&fileInfo{name: n, e: f.t.Get(path.Join(dir, n))}))
	}
	return out
}

type fileInfo struct {
	name string
	e    *Entry
}

func (i *fileInfo) Name() string {
	if i.name == "." || i.name == "/" {
		return "."
	}
	return i.name
}
func (i *fileInfo) Size() int64 {
	if i.e.Kind == File {
		if i.e.Data != nil {
			return int64(len(i.e.Data))
		}
		return i.e.Size
	}
	if i.e.Kind == Symlink {
		return int64(len(i.e.Target))
	}
	return 0
}
func (i *fileInfo) Mode() fs.FileMode {
	m := fs.FileMode(i.e.Mode & 0o777)
	if i.e.Mode&0o4000 != 0 {
		m |= fs.ModeSetuid
	}
	if i.e.Mode&0o2000 != 0 {
		m |= fs.ModeSetgid
	}
	if i.e.Mode&0o1000 != 0 {
		m |= fs.ModeSticky
	}
	switch i.e.Kind {
	case Dir:
		m |= fs.ModeDir
	case Symlink:
		m |= fs.ModeSymlink
	}
	return m
}
func (i *fileInfo) ModTime() time.Time { return time.Time{} }
func (i *fileInfo) IsDir() bool        { return i.e.Kind == Dir }

// Sys returns the *Entry, so callers can read owners and xattrs.
func (i *fileInfo) Sys() any { return i.e }

type regFile struct {
	io.ReadCloser
	info *fileInfo
}

func (r *regFile) Stat() (fs.FileInfo, error) { return r.info, nil }

type dirFile struct {
	f    *treeFS
	path string
	info *fileInfo
	list []fs.DirEntry
	pos  int
	read bool
}

func (d *dirFile) Stat() (fs.FileInfo, error) { return d.info, nil }
func (d *dirFile) Read([]byte) (int, error) {
	return 0, &fs.PathError{Op: "read", Path: d.path, Err: errors.New("is a directory")}
}
func (d *dirFile) Close() error { return nil }

func (d *dirFile) ReadDir(n int) ([]fs.DirEntry, error) {
	if !d.read {
		d.list, d.read = d.f.entries(d.path), true
	}
	rest := d.list[d.pos:]
	if n <= 0 {
		d.pos = len(d.list)
		return rest, nil
	}
	if len(rest) == 0 {
		return nil, io.EOF
	}
	if n > len(rest) {
		n = len(rest)
	}
	d.pos += n
	return rest[:n], nil
}
