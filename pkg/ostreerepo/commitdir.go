package ostreerepo

import (
	"context"
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"runtime"
	"sort"
	"unicode/utf8"

	"golang.org/x/sync/errgroup"
	"golang.org/x/sys/unix"

	"github.com/debatom/debatom/pkg/fstree"
)

// WriteDir stores a real directory tree the way `ostree commit
// --tree=dir=DIR` does: each entry's real uid, gid, mode and extended
// attributes are recorded, and files are hashed and written in parallel.
// It returns the root dirtree and dirmeta checksums.
func (r *Repo) WriteDir(ctx context.Context, dir string) (dirtree, dirmeta string, err error) {
	s := &dirScan{}
	root, err := s.scan(ctx, dir, 0)
	if err != nil {
		return "", "", err
	}
	g, gctx := errgroup.WithContext(ctx)
	g.SetLimit(runtime.GOMAXPROCS(0))
	for _, j := range s.files {
		g.Go(func() error {
			if err := gctx.Err(); err != nil {
				return err
			}
			c, err := r.writeDiskFile(j)
			if err != nil {
				return err
			}
			j.csum = c
			return nil
		})
	}
	if err := g.Wait(); err != nil {
		return "", "", err
	}
	return r.writeScanned(ctx, root)
}

// scanDir is one directory found by the scan.
type scanDir struct {
	path  string
	meta  fstree.Meta
	files []scanChild
	dirs  []*scanDir
	names []string // dir names, parallel to dirs
}

type scanChild struct {
	name string
	job  *fileJob
}

// fileJob is one content object to store; hard links share a job.
type fileJob struct {
	path   string
	link   bool // symlink
	target string
	meta   fstree.Meta
	size   int64
	csum   string
}

type devIno struct{ dev, ino uint64 }

type dirScan struct {
	files []*fileJob
	inode map[devIno]*fileJob
}

func (s *dirScan) scan(ctx context.Context, p string, depth int) (*scanDir, error) {
	if err := ctx.Err(); err != nil {
		return nil, err
	}
	if depth > 4096 {
		return nil, fmt.Errorf("%s: directories nested too deep", p)
	}
	var st unix.Stat_t
	if err := unix.Lstat(p, &st); err != nil {
		return nil, fmt.Errorf("commit %s: %w", p, err)
	}
	if st.Mode&sIFMT != sIFDIR {
		return nil, fmt.Errorf("commit %s: not a directory", p)
	}
	xs, err := readXattrs(p, -1)
	if err != nil {
		return nil, fmt.Errorf("commit %s: %w", p, err)
	}
	d := &scanDir{path: p, meta: fstree.Meta{UID: st.Uid, GID: st.Gid, Mode: st.Mode & 0o7777, Xattrs: xs}}
	f, err := os.Open(p)
	if err != nil {
		return nil, fmt.Errorf("commit %s: %w", p, err)
	}
	names, err := f.Readdirnames(-1)
	f.Close()
	if err != nil {
		return nil, fmt.Errorf("commit %s: %w", p, err)
	}
	sort.Strings(names)
	for _, n := range names {
		cp := filepath.Join(p, n)
		if !utf8.ValidString(n) {
			return nil, fmt.Errorf("commit %s: file name is not valid UTF-8", cp)
		}
		if err := unix.Lstat(cp, &st); err != nil {
			return nil, fmt.Errorf("commit %s: %w", cp, err)
		}
		switch st.Mode & sIFMT {
		case sIFDIR:
			sub, err := s.scan(ctx, cp, depth+1)
			if err != nil {
				return nil, err
			}
			d.dirs = append(d.dirs, sub)
			d.names = append(d.names, n)
		case sIFREG, sIFLNK:
			key := devIno{uint64(st.Dev), st.Ino}
			if j := s.inode[key]; j != nil && st.Nlink > 1 {
				d.files = append(d.files, scanChild{n, j})
				continue
			}
			j := &fileJob{path: cp, link: st.Mode&sIFMT == sIFLNK, size: st.Size,
				meta: fstree.Meta{UID: st.Uid, GID: st.Gid, Mode: st.Mode & 0o7777}}
			if j.link {
				if j.target, err = os.Readlink(cp); err != nil {
					return nil, fmt.Errorf("commit %s: %w", cp, err)
				}
				if j.meta.Xattrs, err = readXattrs(cp, -1); err != nil {
					return nil, fmt.Errorf("commit %s: %w", cp, err)
				}
			}
			if st.Nlink > 1 {
				if s.inode == nil {
					s.inode = map[devIno]*fileJob{}
				}
				s.inode[key] = j
			}
			s.files = append(s.files, j)
			d.files = append(d.files, scanChild{n, j})
		default:
			return nil, fmt.Errorf("commit %s: unsupported file type %o (OSTree stores only directories, regular files and symlinks)", cp, st.Mode&sIFMT)
		}
	}
	return d, nil
}

func (r *Repo) writeDiskFile(j *fileJob) (string, error) {
	if j.link {
		c, err := r.WriteSymlink(j.meta, j.target)
		if err != nil {
			return "", fmt.Errorf("commit %s: %w", j.path, err)
		}
		return c, nil
	}
	f, err := os.OpenFile(j.path, os.O_RDONLY|unix.O_NOFOLLOW|unix.O_NOATIME, 0)
	if errors.Is(err, unix.EPERM) {
		f, err = os.OpenFile(j.path, os.O_RDONLY|unix.O_NOFOLLOW, 0)
	}
	if err != nil {
		return "", fmt.Errorf("commit %s: %w", j.path, err)
	}
	defer f.Close()
	meta := j.meta
	if meta.Xattrs, err = readXattrs("", int(f.Fd())); err != nil {
		return "", fmt.Errorf("commit %s: %w", j.path, err)
	}
	c, err := r.WriteFile(meta, f, j.size)
	if err != nil {
		return "", fmt.Errorf("commit %s: %w", j.path, err)
	}
	return c, nil
}

func (r *Repo) writeScanned(ctx context.Context, d *scanDir) (string, string, error) {
	if err := ctx.Err(); err != nil {
		return "", "", err
	}
	var dt DirTree
	for _, f := range d.files {
		dt.Files = append(dt.Files, DirTreeFile{Name: f.name, Checksum: f.job.csum})
	}
	for i, sub := range d.dirs {
		tc, mc, err := r.writeScanned(ctx, sub)
		if err != nil {
			return "", "", err
		}
		dt.Dirs = append(dt.Dirs, DirTreeDir{Name: d.names[i], Tree: tc, Meta: mc})
	}
	tc, mc, err := r.writeDir(&dt, d.meta)
	if err != nil {
		return "", "", fmt.Errorf("commit %s: %w", d.path, err)
	}
	return tc, mc, nil
}

// readXattrs lists and reads the extended attributes of fd (when >= 0) or
// of path without following a final symlink, sorted by name.
func readXattrs(path string, fd int) ([]fstree.Xattr, error) {
	list := func(b []byte) (int, error) {
		if fd >= 0 {
			return unix.Flistxattr(fd, b)
		}
		return unix.Llistxattr(path, b)
	}
	get := func(name string, b []byte) (int, error) {
		if fd >= 0 {
			return unix.Fgetxattr(fd, name, b)
		}
		return unix.Lgetxattr(path, name, b)
	}
	var buf [1024]byte
	n, err := list(buf[:])
	var names []byte
	switch {
	case errors.Is(err, unix.ERANGE):
		if n, err = list(nil); err != nil {
			return nil, fmt.Errorf("list xattrs: %w", err)
		}
		names = make([]byte, n)
		if n, err = list(names); err != nil {
			return nil, fmt.Errorf("list xattrs: %w", err)
		}
		names = names[:n]
	case errors.Is(err, unix.ENOTSUP):
		return nil, nil
	case err != nil:
		return nil, fmt.Errorf("list xattrs: %w", err)
	default:
		names = buf[:n]
	}
	if len(names) == 0 {
		return nil, nil
	}
	var out []fstree.Xattr
	for len(names) > 0 {
		i := 0
		for i < len(names) && names[i] != 0 {
			i++
		}
		name := string(names[:i])
		if i < len(names) {
			i++
		}
		names = names[i:]
		if name == "" {
			continue
		}
		sz, err := get(name, nil)
		if err != nil {
			return nil, fmt.Errorf("get xattr %s: %w", name, err)
		}
		val := make([]byte, sz)
		if sz > 0 {
			if sz, err = get(name, val); err != nil {
				return nil, fmt.Errorf("get xattr %s: %w", name, err)
			}
		}
		// libostree drops attributes with empty values when it reads a
		// file's xattrs; keeping them would change the checksum.
		if sz == 0 {
			continue
		}
		out = append(out, fstree.Xattr{Name: name, Value: val[:sz]})
	}
	sort.Slice(out, func(i, j int) bool { return out[i].Name < out[j].Name })
	return out, nil
}
