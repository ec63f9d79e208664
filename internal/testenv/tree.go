package testenv

import (
	"fmt"
	"io"
	"io/fs"
	"os"
	"path/filepath"
	"syscall"
)

// TreeBuilder is what AddTree feeds: pkg/ext4's Builder, named by its
// methods so that testenv need not import pkg/ext4, whose own tests use
// AddTree. X is the builder's list of extended attributes; AddTree passes
// its zero value.
type TreeBuilder[X any] interface {
	Mkdir(path string, mode, uid, gid uint32, xattrs X) error
	AddFile(path string, mode, uid, gid uint32, xattrs X, size int64, open func() (io.ReadCloser, error)) error
	Symlink(path, target string, uid, gid uint32, xattrs X) error
	Hardlink(path, existing string) error
}

// AddTree adds the directory root to b at dir ("" for the image's root
// directory itself), with each entry's permission bits (setuid, setgid and
// sticky included), owner and group; files that share an inode become hard
// links to the first name met. Devices, FIFOs and sockets are left out, as
// OSTree trees have none. It returns the regular files added (one name per
// inode) and the bytes they hold.
func AddTree[X any](b TreeBuilder[X], root, dir string) (files []string, size int64, err error) {
	var none X
	first := map[uint64]string{}
	err = filepath.WalkDir(root, func(p string, d fs.DirEntry, err error) error {
		if err != nil {
			return err
		}
		rel, err := filepath.Rel(root, p)
		if err != nil {
			return err
		}
		name := filepath.ToSlash(filepath.Join(dir, rel))
		if name == "." {
			name = ""
		}
		info, err := d.Info()
		if err != nil {
			return err
		}
		st, ok := info.Sys().(*syscall.Stat_t)
		if !ok {
			return fmt.Errorf("%s: no stat_t", p)
		}
		mode := st.Mode & 0o7777 // permissions with setuid, setgid and sticky
		switch {
		case d.IsDir():
			return b.Mkdir(name, mode, st.Uid, st.Gid, none)
		case info.Mode()&fs.ModeSymlink != 0:
			target, err := os.Readlink(p)
			if err != nil {
				return err
			}
			return b.Symlink(name, target, st.Uid, st.Gid, none)
		case info.Mode().IsRegular():
			if existing, ok := first[st.Ino]; ok {
				return b.Hardlink(name, existing)
			}
			first[st.Ino] = name
			files = append(files, name)
			size += info.Size()
			return b.AddFile(name, mode, st.Uid, st.Gid, none, info.Size(), func() (io.ReadCloser, error) { return os.Open(p) })
		}
		return nil
	})
	if err != nil {
		return nil, 0, fmt.Errorf("adding %s to the image: %w", root, err)
	}
	return files, size, nil
}
