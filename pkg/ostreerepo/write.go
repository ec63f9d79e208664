package ostreerepo

import (
	"bufio"
	"bytes"
	"crypto/sha256"
	"encoding/hex"
	"fmt"
	"hash"
	"io"
	"os"
	"path/filepath"
	"sync"

	"github.com/klauspost/compress/flate"
	"golang.org/x/sys/unix"

	"github.com/debatom/debatom/pkg/fstree"
	"github.com/debatom/debatom/pkg/gvariant"
)

// DefaultCompressionLevel is the deflate level of archive-mode content.
// libostree uses zlib level 6; readers only need valid raw deflate and
// checksums cover the uncompressed bytes, so the level is a speed/size
// trade-off. Measured on a 320 MB Debian root (bench/ostree/RESULTS.md):
// level 1 writes a 6% larger repository than level 6 in half the CPU time.
const DefaultCompressionLevel = 1

// smallFile is the size up to which WriteFile buffers the payload and
// hashes it before touching the disk, so content already stored costs no
// write at all.
const smallFile = 256 << 10

const copyBuf = 256 << 10

func (r *Repo) buffer() *[]byte {
	if b, ok := r.bufs.Get().(*[]byte); ok {
		return b
	}
	b := make([]byte, copyBuf)
	return &b
}

func (r *Repo) flater(w io.Writer) (*flate.Writer, error) {
	if f, ok := r.flaters.Get().(*flate.Writer); ok {
		f.Reset(w)
		return f, nil
	}
	return flate.NewWriter(w, r.level)
}

// SetCompressionLevel sets the deflate level (1 fastest to 9 smallest) for
// archive-mode objects written from now on. Call it before writing.
func (r *Repo) SetCompressionLevel(level int) error {
	if level < flate.BestSpeed || level > flate.BestCompression {
		return fmt.Errorf("compression level %d outside 1..9", level)
	}
	r.level = level
	r.flaters = sync.Pool{}
	return nil
}

// WriteFile stores a regular file with content's size bytes under meta and
// returns its content checksum. It may be called from many goroutines.
func (r *Repo) WriteFile(meta fstree.Meta, content io.Reader, size int64) (string, error) {
	if size < 0 {
		return "", fmt.Errorf("write file object: negative size %d", size)
	}
	hdr, err := fileHeader(meta, sIFREG, "")
	if err != nil {
		return "", fmt.Errorf("write file object: %w", err)
	}
	h := sha256.New()
	h.Write(sizedPrefix(hdr))

	if size <= smallFile {
		bp := r.buffer()
		defer r.bufs.Put(bp)
		buf := (*bp)[:size]
		if _, err := io.ReadFull(content, buf); err != nil {
			return "", fmt.Errorf("write file object: read %d bytes: %w", size, err)
		}
		if err := expectEOF(content, size); err != nil {
			return "", err
		}
		h.Write(buf)
		csum := hex.EncodeToString(h.Sum(nil))
		if r.HasObject(csum, ObjFile) {
			return csum, nil
		}
		return csum, r.storeFile(csum, meta, sIFREG, "", bytes.NewReader(buf), size, nil)
	}
	return r.storeStreaming(meta, content, size, h)
}

func expectEOF(r io.Reader, size int64) error {
	var one [1]byte
	if n, _ := r.Read(one[:]); n > 0 {
		return fmt.Errorf("write file object: content longer than its size %d", size)
	}
	return nil
}

// storeStreaming hashes while writing a large payload; the object's name
// is known only at the end.
func (r *Repo) storeStreaming(meta fstree.Meta, content io.Reader, size int64, h hash.Hash) (string, error) {
	var csum string
	err := r.storeFile("", meta, sIFREG, "", io.TeeReader(content, h), size, func() string {
		csum = hex.EncodeToString(h.Sum(nil))
		return csum
	})
	return csum, err
}

// WriteSymlink stores a symbolic link and returns its content checksum.
func (r *Repo) WriteSymlink(meta fstree.Meta, target string) (string, error) {
	if target == "" {
		return "", fmt.Errorf("write symlink object: empty target")
	}
	hdr, err := fileHeader(meta, sIFLNK, target)
	if err != nil {
		return "", fmt.Errorf("write symlink object: %w", err)
	}
	sum := sha256.Sum256(sizedPrefix(hdr))
	csum := hex.EncodeToString(sum[:])
	if r.HasObject(csum, ObjFile) {
		return csum, nil
	}
	return csum, r.storeFile(csum, meta, sIFLNK, target, nil, 0, nil)
}

// FileChecksum computes the content checksum of a regular file without
// storing it.
func FileChecksum(meta fstree.Meta, content io.Reader) (string, error) {
	hdr, err := fileHeader(meta, sIFREG, "")
	if err != nil {
		return "", err
	}
	h := sha256.New()
	h.Write(sizedPrefix(hdr))
	if _, err := io.Copy(h, content); err != nil {
		return "", err
	}
	return hex.EncodeToString(h.Sum(nil)), nil
}

// SymlinkChecksum computes the content checksum of a symbolic link.
func SymlinkChecksum(meta fstree.Meta, target string) (string, error) {
	hdr, err := fileHeader(meta, sIFLNK, target)
	if err != nil {
		return "", err
	}
	sum := sha256.Sum256(sizedPrefix(hdr))
	return hex.EncodeToString(sum[:]), nil
}

// storeFile writes a content object to a temporary file and renames it
// into place. csum is the object's name, or "" when name() must be asked
// after the payload has been consumed.
func (r *Repo) storeFile(csum string, meta fstree.Meta, kind uint32, target string, payload io.Reader, size int64, name func() string) error {
	tmp, err := r.writeTemp(meta, kind, target, payload, size)
	if err != nil {
		return fmt.Errorf("write content object: %w", err)
	}
	if csum == "" {
		csum = name()
	}
	return r.commitTemp(tmp, csum, ObjFile)
}

// commitTemp renames a finished temporary file to its object path, or
// drops it when another writer got there first.
func (r *Repo) commitTemp(tmp, csum string, t ObjectType) error {
	dst := r.objectPath(csum, t)
	if _, err := os.Lstat(dst); err == nil {
		os.Remove(tmp)
		return nil
	}
	if err := r.ensureObjDir(csum); err != nil {
		os.Remove(tmp)
		return fmt.Errorf("write %s object %s: %w", t, csum, err)
	}
	if err := os.Rename(tmp, dst); err != nil {
		os.Remove(tmp)
		return fmt.Errorf("write %s object %s: %w", t, csum, err)
	}
	return nil
}

// tempName reserves a unique name in tmp/ for an object that cannot be
// created through os.CreateTemp (a bare-mode symlink): the caller removes
// the placeholder and creates the link there; a racing creator would make
// that fail with EEXIST rather than be overwritten.
func (r *Repo) tempName() (string, error) {
	f, err := os.CreateTemp(filepath.Join(r.dir, "tmp"), "obj-*")
	if err != nil {
		return "", err
	}
	name := f.Name()
	f.Close()
	return name, nil
}

// writeTemp writes the object's on-disk form for the repository's mode.
func (r *Repo) writeTemp(meta fstree.Meta, kind uint32, target string, payload io.Reader, size int64) (string, error) {
	if r.mode == ModeBare && kind == sIFLNK {
		name, err := r.tempName()
		if err != nil {
			return "", err
		}
		os.Remove(name)
		if err := os.Symlink(target, name); err != nil {
			return "", err
		}
		if err := applyBareMeta(name, -1, meta); err != nil {
			os.Remove(name)
			return "", err
		}
		return name, nil
	}
	f, err := os.CreateTemp(filepath.Join(r.dir, "tmp"), "obj-*")
	if err != nil {
		return "", err
	}
	name := f.Name()
	fail := func(err error) (string, error) {
		f.Close()
		os.Remove(name)
		return "", err
	}
	switch r.mode {
	case ModeArchive:
		if err := r.writeFilez(f, meta, kind, target, payload, size); err != nil {
			return fail(err)
		}
		if err := f.Chmod(0o644); err != nil {
			return fail(err)
		}
	case ModeBareUser:
		if kind == sIFLNK {
			payload = bytes.NewReader(append([]byte(target), 0))
			size = int64(len(target) + 1)
		}
		if err := r.copyExact(f, payload, size); err != nil {
			return fail(err)
		}
		xs, err := xattrsValue(meta.Xattrs)
		if err != nil {
			return fail(err)
		}
		um, err := typeDirMeta.Append(nil, gvariant.Tuple{be32(meta.UID), be32(meta.GID), be32(kind | meta.Mode&0o7777), xs})
		if err != nil {
			return fail(err)
		}
		if err := unix.Fsetxattr(int(f.Fd()), "user.ostreemeta", um, 0); err != nil {
			return fail(fmt.Errorf("set user.ostreemeta: %w", err))
		}
		// The object itself is a plain file the caller owns; only the
		// permission bits that are safe for an unprivileged copy remain.
		perm := os.FileMode(0o644)
		if kind == sIFREG {
			perm = os.FileMode(meta.Mode&0o775 | 0o400)
		}
		if err := f.Chmod(perm); err != nil {
			return fail(err)
		}
		if err := unix.Futimes(int(f.Fd()), []unix.Timeval{{}, {}}); err != nil {
			return fail(err)
		}
	case ModeBare:
		if err := r.copyExact(f, payload, size); err != nil {
			return fail(err)
		}
		if err := applyBareMeta(name, int(f.Fd()), meta); err != nil {
			return fail(err)
		}
	}
	if err := f.Close(); err != nil {
		os.Remove(name)
		return "", err
	}
	return name, nil
}

// applyBareMeta gives a bare-mode object its real owner, mode, xattrs and
// a zero mtime. fd < 0 means path is a symlink.
func applyBareMeta(path string, fd int, meta fstree.Meta) error {
	if fd >= 0 {
		if err := unix.Fchown(fd, int(meta.UID), int(meta.GID)); err != nil {
			return fmt.Errorf("chown: %w", err)
		}
		for _, x := range meta.Xattrs {
			if err := unix.Fsetxattr(fd, x.Name, x.Value, 0); err != nil {
				return fmt.Errorf("set xattr %s: %w", x.Name, err)
			}
		}
		// chmod after chown: chown clears setuid and setgid.
		if err := unix.Fchmod(fd, meta.Mode&0o7777); err != nil {
			return fmt.Errorf("chmod: %w", err)
		}
		return unix.Futimes(fd, []unix.Timeval{{}, {}})
	}
	if err := unix.Lchown(path, int(meta.UID), int(meta.GID)); err != nil {
		return fmt.Errorf("lchown: %w", err)
	}
	for _, x := range meta.Xattrs {
		if err := unix.Lsetxattr(path, x.Name, x.Value, 0); err != nil {
			return fmt.Errorf("set xattr %s: %w", x.Name, err)
		}
	}
	return unix.Lutimes(path, []unix.Timeval{{}, {}})
}

// copyExact copies exactly size bytes of payload to w.
func (r *Repo) copyExact(w io.Writer, payload io.Reader, size int64) error {
	if payload == nil {
		return nil
	}
	bp := r.buffer()
	defer r.bufs.Put(bp)
	n, err := io.CopyBuffer(w, io.LimitReader(payload, size), *bp)
	if err != nil {
		return err
	}
	if n != size {
		return fmt.Errorf("content is %d bytes, want %d", n, size)
	}
	return expectEOF(payload, size)
}

// writeFilez writes an archive-mode object: the sized filez header, then
// (for regular files) the raw deflate stream of the payload.
func (r *Repo) writeFilez(f *os.File, meta fstree.Meta, kind uint32, target string, payload io.Reader, size int64) error {
	hdr, err := filezHeader(meta, kind, target, uint64(size))
	if err != nil {
		return err
	}
	bw := bufio.NewWriterSize(f, 64<<10)
	bw.Write(sizedPrefix(hdr))
	if kind == sIFREG {
		fw, err := r.flater(bw)
		if err != nil {
			return err
		}
		if err := r.copyExact(fw, payload, size); err != nil {
			return err
		}
		if err := fw.Close(); err != nil {
			return err
		}
		r.flaters.Put(fw)
	}
	return bw.Flush()
}

// WriteMetadata stores a dirtree, dirmeta, commit or commitmeta object and
// returns its checksum, the SHA-256 of data.
func (r *Repo) WriteMetadata(t ObjectType, data []byte) (string, error) {
	csum := metadataChecksum(data)
	if r.HasObject(csum, t) {
		return csum, nil
	}
	f, err := os.CreateTemp(filepath.Join(r.dir, "tmp"), "meta-*")
	if err != nil {
		return "", fmt.Errorf("write %s object: %w", t, err)
	}
	name := f.Name()
	_, err = f.Write(data)
	if err == nil {
		err = f.Chmod(0o644)
	}
	if cerr := f.Close(); err == nil {
		err = cerr
	}
	if err != nil {
		os.Remove(name)
		return "", fmt.Errorf("write %s object: %w", t, err)
	}
	return csum, r.commitTemp(name, csum, t)
}

// WriteDirMeta stores a directory's metadata object.
func (r *Repo) WriteDirMeta(meta fstree.Meta) (string, error) {
	b, err := DirMetaBytes(meta)
	if err != nil {
		return "", fmt.Errorf("write dirmeta: %w", err)
	}
	return r.WriteMetadata(ObjDirMeta, b)
}
