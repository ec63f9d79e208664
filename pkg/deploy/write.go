package deploy

import (
	"context"
	"fmt"
	"io"
	"os"
	"path/filepath"
	"syscall"

	"github.com/debatom/debatom/pkg/ext4"
	"github.com/debatom/debatom/pkg/fstree"
)

// AddTo adds every node to an ext4 image under prefix ("" for the root of
// the file system). Hard links become the same inode.
func (s *Sysroot) AddTo(b *ext4.Builder, prefix string) error {
	for _, n := range s.Nodes() {
		p := join(prefix, n.Path)
		var err error
		switch n.Kind {
		case Dir:
			err = b.Mkdir(p, n.Mode, n.UID, n.GID, ext4Xattrs(n.Xattrs))
		case File:
			err = b.AddFile(p, n.Mode, n.UID, n.GID, ext4Xattrs(n.Xattrs), n.Size, n.Open)
		case Symlink:
			err = b.Symlink(p, n.Target, n.UID, n.GID, ext4Xattrs(n.Xattrs))
		case Hardlink:
			err = b.Hardlink(p, join(prefix, n.Link))
		}
		if err != nil {
			return fmt.Errorf("sysroot %s: %w", n.Path, err)
		}
	}
	return nil
}

func join(prefix, p string) string {
	switch {
	case prefix == "":
		return p
	case p == "":
		return prefix
	}
	return prefix + "/" + p
}

func ext4Xattrs(xs []fstree.Xattr) []ext4.Xattr {
	if len(xs) == 0 {
		return nil
	}
	out := make([]ext4.Xattr, len(xs))
	for i, x := range xs {
		out[i] = ext4.Xattr{Name: x.Name, Value: x.Value}
	}
	return out
}

// WriteDir writes the sysroot into the empty or missing directory dir with
// real owners, modes, xattrs and hard links (so it needs root), the way
// ostree would have left it there.
func (s *Sysroot) WriteDir(ctx context.Context, dir string) error {
	nodes := s.Nodes()
	// Directory modes are set last, so a 0555 directory can still be filled.
	// Hard links come after everything else: their targets may sort later.
	var dirs, links []*Node
	for _, n := range nodes {
		if n.Kind == Hardlink {
			links = append(links, n)
			continue
		}
		if err := ctx.Err(); err != nil {
			return err
		}
		p := filepath.Join(dir, filepath.FromSlash(n.Path))
		var err error
		switch n.Kind {
		case Dir:
			if err = os.MkdirAll(p, 0o700); err == nil {
				dirs = append(dirs, n)
			}
		case File:
			err = writeFile(p, n)
		case Symlink:
			if err = os.Symlink(n.Target, p); err == nil {
				err = os.Lchown(p, int(n.UID), int(n.GID))
			}
		}
		switch {
		case err != nil:
		case n.Kind == Symlink && len(n.Xattrs) > 0:
			err = fmt.Errorf("xattrs on a symlink cannot be written by WriteDir")
		case n.Kind == File || n.Kind == Dir:
			err = setXattrs(p, n.Xattrs)
		}
		if err != nil {
			return fmt.Errorf("sysroot %s: %w", p, err)
		}
	}
	for _, n := range links {
		p := filepath.Join(dir, filepath.FromSlash(n.Path))
		if err := os.Link(filepath.Join(dir, filepath.FromSlash(n.Link)), p); err != nil {
			return fmt.Errorf("sysroot: %w", err)
		}
	}
	for i := len(dirs) - 1; i >= 0; i-- {
		n := dirs[i]
		p := filepath.Join(dir, filepath.FromSlash(n.Path))
		if err := os.Lchown(p, int(n.UID), int(n.GID)); err != nil {
			return fmt.Errorf("sysroot: %w", err)
		}
		if err := os.Chmod(p, fileMode(n.Mode)|os.ModeDir); err != nil {
			return fmt.Errorf("sysroot: %w", err)
		}
	}
	return nil
}

func writeFile(p string, n *Node) error {
	f, err := os.OpenFile(p, os.O_WRONLY|os.O_CREATE|os.O_EXCL, 0o600)
	if err != nil {
		return err
	}
	rc, err := n.Open()
	if err != nil {
		f.Close()
		return err
	}
	w, err := io.Copy(f, rc)
	rc.Close()
	if err == nil && w != n.Size {
		err = fmt.Errorf("wrote %d bytes, expected %d", w, n.Size)
	}
	if err == nil {
		err = f.Chown(int(n.UID), int(n.GID))
	}
	if err == nil {
		// After chown, which clears setuid bits.
		err = f.Chmod(fileMode(n.Mode))
	}
	if cerr := f.Close(); err == nil {
		err = cerr
	}
	return err
}

func fileMode(m uint32) os.FileMode {
	mode := os.FileMode(m & 0o777)
	if m&0o4000 != 0 {
		mode |= os.ModeSetuid
	}
	if m&0o2000 != 0 {
		mode |= os.ModeSetgid
	}
	if m&0o1000 != 0 {
		mode |= os.ModeSticky
	}
	return mode
}

func setXattrs(p string, xs []fstree.Xattr) error {
	for _, x := range xs {
		if err := syscall.Setxattr(p, x.Name, x.Value, 0); err != nil {
			return fmt.Errorf("xattr %s: %w", x.Name, err)
		}
	}
	return nil
}
