package ostreerepo

import (
	"crypto/rand"
	"encoding/hex"
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"strconv"

	"golang.org/x/sys/unix"
)

// objFile is a content or metadata object being written. Preferably it
// is an unnamed O_TMPFILE inode, created in the directory it will live in
// and given its name by linkat only once complete, with its metadata set:
// that costs no temporary name, no cross-directory rename (which takes
// the filesystem-wide rename lock, serialising parallel writers) and
// leaves nothing behind on a crash. Where O_TMPFILE or /proc is missing
// it is a named file in tmp/ that is renamed into place.
type objFile struct {
	fd  int
	tmp string // the fallback's temporary path; "" for an O_TMPFILE
}

// Write writes all of p to the file.
func (o *objFile) Write(p []byte) (int, error) {
	n := 0
	for n < len(p) {
		m, err := unix.Write(o.fd, p[n:])
		if err == unix.EINTR {
			continue
		}
		if err != nil {
			return n, err
		}
		n += m
	}
	return n, nil
}

// abort drops an unfinished object.
func (o *objFile) abort() {
	unix.Close(o.fd)
	if o.tmp != "" {
		os.Remove(o.tmp)
	}
}

// probeTmpfile decides once per repository whether objects can be
// written as O_TMPFILE inodes and linked through /proc/self/fd, by doing
// exactly that in tmp/.
func (r *Repo) probeTmpfile() {
	dir := filepath.Join(r.dir, "tmp")
	fd, err := unix.Open(dir, unix.O_TMPFILE|unix.O_WRONLY|unix.O_CLOEXEC, 0o644)
	if err != nil {
		r.noTmpfile.Store(true)
		return
	}
	defer unix.Close(fd)
	var rnd [8]byte
	rand.Read(rnd[:])
	name := filepath.Join(dir, "probe-"+hex.EncodeToString(rnd[:]))
	if err := unix.Linkat(unix.AT_FDCWD, procFd(fd), unix.AT_FDCWD, name, unix.AT_SYMLINK_FOLLOW); err != nil {
		r.noTmpfile.Store(true)
		return
	}
	unix.Unlink(name)
}

func procFd(fd int) string { return "/proc/self/fd/" + strconv.Itoa(fd) }

// tmpfileUnsupported reports whether an O_TMPFILE open failed because the
// kernel or filesystem lacks it, rather than for a real reason.
func tmpfileUnsupported(err error) bool {
	return errors.Is(err, unix.EOPNOTSUPP) || errors.Is(err, unix.EISDIR) || errors.Is(err, unix.EINVAL)
}

// createObj starts an object. prefix is the objects/xx directory it will
// live in, or "" when its name is not known yet (the payload is hashed
// while it is written).
func (r *Repo) createObj(prefix string) (*objFile, error) {
	r.tmpfileOnce.Do(r.probeTmpfile)
	if !r.noTmpfile.Load() {
		dir := filepath.Join(r.dir, "tmp")
		if prefix != "" {
			if err := r.ensureObjDir(prefix); err != nil {
				return nil, err
			}
			dir = filepath.Join(r.dir, "objects", prefix)
		}
		fd, err := unix.Open(dir, unix.O_TMPFILE|unix.O_WRONLY|unix.O_CLOEXEC, 0o644)
		if err == nil {
			return &objFile{fd: fd}, nil
		}
		if !tmpfileUnsupported(err) {
			return nil, fmt.Errorf("create object in %s: %w", dir, err)
		}
		r.noTmpfile.Store(true)
	}
	f, err := os.CreateTemp(filepath.Join(r.dir, "tmp"), "obj-*")
	if err != nil {
		return nil, err
	}
	fd, err := unix.Dup(int(f.Fd()))
	name := f.Name()
	f.Close()
	if err != nil {
		os.Remove(name)
		return nil, fmt.Errorf("create object: %w", err)
	}
	unix.CloseOnExec(fd)
	return &objFile{fd: fd, tmp: name}, nil
}

// commit closes o and gives it its object name, or drops it when another
// writer stored the same object first; o is consumed either way.
func (r *Repo) commitObj(o *objFile, csum string, t ObjectType) error {
	if o.tmp != "" {
		if err := unix.Close(o.fd); err != nil {
			os.Remove(o.tmp)
			return fmt.Errorf("write %s object %s: %w", t, csum, err)
		}
		return r.commitTemp(o.tmp, csum, t)
	}
	defer unix.Close(o.fd)
	if err := r.ensureObjDir(csum[:2]); err != nil {
		return fmt.Errorf("write %s object %s: %w", t, csum, err)
	}
	err := unix.Linkat(unix.AT_FDCWD, procFd(o.fd), unix.AT_FDCWD, r.objectPath(csum, t), unix.AT_SYMLINK_FOLLOW)
	if err != nil && !errors.Is(err, unix.EEXIST) {
		return fmt.Errorf("write %s object %s: link: %w", t, csum, err)
	}
	return nil
}
