package ostreerepo

import (
	"bufio"
	"bytes"
	"context"
	"encoding/binary"
	"errors"
	"fmt"
	"io"
	"os"
	"path"
	"strings"

	"github.com/klauspost/compress/flate"
	"golang.org/x/sys/unix"

	"github.com/debatom/debatom/pkg/fstree"
	"github.com/debatom/debatom/pkg/gvariant"
)

// maxMetaObject bounds metadata objects read from disk; real dirtrees
// stay far below it.
const maxMetaObject = 256 << 20

func (r *Repo) readMetadata(csum string, t ObjectType) ([]byte, error) {
	if !ValidChecksum(csum) {
		return nil, fmt.Errorf("read %s: invalid checksum %q", t, csum)
	}
	f, err := os.Open(r.objectPath(csum, t))
	if err != nil {
		return nil, fmt.Errorf("read %s %s: %w", t, csum, err)
	}
	defer f.Close()
	data, err := io.ReadAll(io.LimitReader(f, maxMetaObject+1))
	if err != nil {
		return nil, fmt.Errorf("read %s %s: %w", t, csum, err)
	}
	if len(data) > maxMetaObject {
		return nil, fmt.Errorf("read %s %s: larger than %d bytes", t, csum, maxMetaObject)
	}
	if got := metadataChecksum(data); got != csum {
		return nil, fmt.Errorf("read %s %s: corrupt, content hashes to %s", t, csum, got)
	}
	return data, nil
}

// ReadCommit reads and verifies a commit object.
func (r *Repo) ReadCommit(csum string) (*Commit, error) {
	data, err := r.readMetadata(csum, ObjCommit)
	if err != nil {
		return nil, err
	}
	c, err := ParseCommit(data)
	if err != nil {
		return nil, fmt.Errorf("commit %s: %w", csum, err)
	}
	return c, nil
}

// ReadDirTree reads and verifies a dirtree object.
func (r *Repo) ReadDirTree(csum string) (*DirTree, error) {
	data, err := r.readMetadata(csum, ObjDirTree)
	if err != nil {
		return nil, err
	}
	d, err := ParseDirTree(data)
	if err != nil {
		return nil, fmt.Errorf("dirtree %s: %w", csum, err)
	}
	return d, nil
}

// ReadDirMeta reads and verifies a dirmeta object.
func (r *Repo) ReadDirMeta(csum string) (*DirMeta, error) {
	data, err := r.readMetadata(csum, ObjDirMeta)
	if err != nil {
		return nil, err
	}
	d, err := ParseDirMeta(data)
	if err != nil {
		return nil, fmt.Errorf("dirmeta %s: %w", csum, err)
	}
	return d, nil
}

// FileInfo describes a content object.
type FileInfo struct {
	Kind   fstree.Kind // fstree.File or fstree.Symlink
	Meta   fstree.Meta
	Size   int64  // payload size of a regular file
	Target string // symlink target
}

// OpenFile opens a content object, returning its payload (empty for
// symlinks) and metadata. The payload is not verified against csum; use
// VerifyFile for that.
func (r *Repo) OpenFile(csum string) (io.ReadCloser, *FileInfo, error) {
	if !ValidChecksum(csum) {
		return nil, nil, fmt.Errorf("open file object: invalid checksum %q", csum)
	}
	p := r.objectPath(csum, ObjFile)
	switch r.mode {
	case ModeArchive:
		z, fi, err := r.openFilez(p)
		if err != nil {
			return nil, nil, fmt.Errorf("file object %s: %w", csum, err)
		}
		if z == nil {
			return io.NopCloser(bytes.NewReader(nil)), fi, nil
		}
		return z, fi, nil
	case ModeBareUser:
		f, err := os.Open(p)
		if err != nil {
			return nil, nil, fmt.Errorf("open file object %s: %w", csum, err)
		}
		fi, err := bareUserInfo(f)
		if err != nil {
			f.Close()
			return nil, nil, fmt.Errorf("file object %s: %w", csum, err)
		}
		if fi.Kind == fstree.Symlink {
			t, err := io.ReadAll(io.LimitReader(f, 64<<10))
			f.Close()
			if err != nil {
				return nil, nil, fmt.Errorf("file object %s: %w", csum, err)
			}
			fi.Target = strings.TrimSuffix(string(t), "\x00")
			return io.NopCloser(bytes.NewReader(nil)), fi, nil
		}
		st, err := f.Stat()
		if err != nil {
			f.Close()
			return nil, nil, err
		}
		fi.Size = st.Size()
		return f, fi, nil
	default:
		fi, err := bareInfo(p)
		if err != nil {
			return nil, nil, fmt.Errorf("file object %s: %w", csum, err)
		}
		if fi.Kind == fstree.Symlink {
			return io.NopCloser(bytes.NewReader(nil)), fi, nil
		}
		f, err := os.Open(p)
		if err != nil {
			return nil, nil, fmt.Errorf("open file object %s: %w", csum, err)
		}
		return f, fi, nil
	}
}

// openFilez opens an archive object at p; for a symlink the reader is
// nil. The file is read through a raw descriptor and the buffer and
// inflater come from the repository's pools: a caller reading many small
// files (the ld.so.cache scan reads every library) should not pay for an
// *os.File, a 32 KiB buffer and an inflater's 40 KiB of state per file.
func (r *Repo) openFilez(p string) (*filezReader, *FileInfo, error) {
	fd, err := unix.Open(p, unix.O_RDONLY|unix.O_CLOEXEC, 0)
	if err != nil {
		return nil, nil, &os.PathError{Op: "open", Path: p, Err: err}
	}
	z := &filezReader{repo: r, fd: fdReader(fd), path: p}
	z.br, _ = r.readers.Get().(*bufio.Reader)
	if z.br == nil {
		z.br = bufio.NewReaderSize(z.fd, 32<<10)
	} else {
		z.br.Reset(z.fd)
	}
	fi, err := readFilezHeader(z.br)
	if err != nil {
		z.Close()
		return nil, nil, err
	}
	if fi.Kind == fstree.Symlink {
		z.Close()
		return nil, fi, nil
	}
	if fr, ok := r.inflaters.Get().(io.ReadCloser); ok {
		if err := fr.(flate.Resetter).Reset(z.br, nil); err != nil {
			z.Close()
			return nil, nil, err
		}
		z.fr = fr
	} else {
		z.fr = flate.NewReader(z.br)
	}
	z.size = fi.Size
	return z, fi, nil
}

// fdReader reads a descriptor without the poller bookkeeping of an
// *os.File, which buys nothing for a regular file.
type fdReader int

func (f fdReader) Read(p []byte) (int, error) {
	for {
		n, err := unix.Read(int(f), p)
		if err == unix.EINTR {
			continue
		}
		if err != nil {
			return 0, err
		}
		if n == 0 && len(p) > 0 {
			return 0, io.EOF
		}
		return n, nil
	}
}

// filezReader is an archive object's decompressed payload; it reports a
// truncated stream instead of returning short content, and content past
// the size its header announces as corruption.
type filezReader struct {
	repo *Repo
	fd   fdReader
	path string
	br   *bufio.Reader
	fr   io.ReadCloser
	size int64
	n    int64
	done bool // closed
}

func (z *filezReader) Read(p []byte) (int, error) {
	if z.done {
		return 0, fmt.Errorf("read %s: %w", z.path, os.ErrClosed)
	}
	if z.n >= z.size {
		return 0, io.EOF
	}
	if int64(len(p)) > z.size-z.n {
		p = p[:z.size-z.n]
	}
	n, err := z.fr.Read(p)
	z.n += int64(n)
	if err == io.EOF {
		if z.n != z.size {
			return n, fmt.Errorf("%s: compressed payload ends after %d of %d bytes", z.path, z.n, z.size)
		}
		return n, nil // the next call reports EOF
	}
	if err != nil {
		return n, fmt.Errorf("decompress %s: %w", z.path, err)
	}
	return n, nil
}

// Close releases the file and returns the buffers to the repository;
// the reader must not be used afterwards.
func (z *filezReader) Close() error {
	if z.done {
		return nil
	}
	z.done = true
	if z.fr != nil {
		z.repo.inflaters.Put(z.fr)
		z.fr = nil
	}
	z.br.Reset(nil)
	z.repo.readers.Put(z.br)
	z.br = nil
	if err := unix.Close(int(z.fd)); err != nil {
		return fmt.Errorf("close %s: %w", z.path, err)
	}
	return nil
}

// maxHeader bounds the header of a content object (it holds xattrs).
const maxHeader = 16 << 20

func readFilezHeader(r io.Reader) (*FileInfo, error) {
	var pre [8]byte
	if _, err := io.ReadFull(r, pre[:]); err != nil {
		return nil, fmt.Errorf("read header: %w", err)
	}
	n := binary.BigEndian.Uint32(pre[:4])
	if n > maxHeader {
		return nil, fmt.Errorf("header of %d bytes", n)
	}
	hdr := make([]byte, n)
	if _, err := io.ReadFull(r, hdr); err != nil {
		return nil, fmt.Errorf("read header: %w", err)
	}
	return ParseFilezHeader(hdr)
}

// ParseFilezHeader decodes an archive object's (tuuuusa(ayay)) header.
func ParseFilezHeader(hdr []byte) (*FileInfo, error) {
	v, err := typeFilezHeader.Decode(hdr)
	if err != nil {
		return nil, fmt.Errorf("filez header: %w", err)
	}
	t := v.(gvariant.Tuple)
	size := be64(t[0].(uint64))
	fi, err := infoFrom(be32(t[1].(uint32)), be32(t[2].(uint32)), be32(t[3].(uint32)), t[6])
	if err != nil {
		return nil, err
	}
	if size > 1<<62 {
		return nil, fmt.Errorf("filez header: size %d", size)
	}
	fi.Size = int64(size)
	fi.Target = t[5].(string)
	if fi.Kind == fstree.Symlink && (fi.Target == "" || fi.Size != 0) {
		return nil, fmt.Errorf("filez header: symlink with target %q and size %d", fi.Target, fi.Size)
	}
	if fi.Kind == fstree.File && fi.Target != "" {
		return nil, fmt.Errorf("filez header: regular file with a symlink target")
	}
	return fi, nil
}

func infoFrom(uid, gid, mode uint32, xv any) (*FileInfo, error) {
	fi := &FileInfo{Meta: fstree.Meta{UID: uid, GID: gid, Mode: mode & 0o7777}}
	switch mode & sIFMT {
	case sIFREG:
		fi.Kind = fstree.File
	case sIFLNK:
		fi.Kind = fstree.Symlink
	default:
		return nil, fmt.Errorf("unsupported file mode %o", mode)
	}
	xs, err := xattrsFromValue(xv)
	if err != nil {
		return nil, err
	}
	fi.Meta.Xattrs = xs
	return fi, nil
}

func bareUserInfo(f *os.File) (*FileInfo, error) {
	buf := make([]byte, 4096)
	for {
		n, err := unix.Fgetxattr(int(f.Fd()), "user.ostreemeta", buf)
		if errors.Is(err, unix.ERANGE) && len(buf) < maxHeader {
			buf = make([]byte, len(buf)*8)
			continue
		}
		if err != nil {
			return nil, fmt.Errorf("read user.ostreemeta: %w", err)
		}
		buf = buf[:n]
		break
	}
	v, err := typeDirMeta.Decode(buf)
	if err != nil {
		return nil, fmt.Errorf("user.ostreemeta: %w", err)
	}
	t := v.(gvariant.Tuple)
	return infoFrom(be32(t[0].(uint32)), be32(t[1].(uint32)), be32(t[2].(uint32)), t[3])
}

func bareInfo(p string) (*FileInfo, error) {
	var st unix.Stat_t
	if err := unix.Lstat(p, &st); err != nil {
		return nil, err
	}
	xs, err := readXattrs(p, -1)
	if err != nil {
		return nil, err
	}
	fi := &FileInfo{Meta: fstree.Meta{UID: st.Uid, GID: st.Gid, Mode: st.Mode & 0o7777, Xattrs: xs}}
	switch st.Mode & sIFMT {
	case sIFREG:
		fi.Kind = fstree.File
		fi.Size = st.Size
	case sIFLNK:
		fi.Kind = fstree.Symlink
		t, err := os.Readlink(p)
		if err != nil {
			return nil, err
		}
		fi.Target = t
	default:
		return nil, fmt.Errorf("unsupported file mode %o", st.Mode)
	}
	return fi, nil
}

// VerifyFile re-hashes a content object and reports whether it matches
// its name.
func (r *Repo) VerifyFile(csum string) error {
	rc, fi, err := r.OpenFile(csum)
	if err != nil {
		return err
	}
	defer rc.Close()
	var got string
	if fi.Kind == fstree.Symlink {
		got, err = SymlinkChecksum(fi.Meta, fi.Target)
	} else {
		got, err = FileChecksum(fi.Meta, rc)
	}
	if err != nil {
		return fmt.Errorf("verify file object %s: %w", csum, err)
	}
	if got != csum {
		return fmt.Errorf("file object %s is corrupt: content hashes to %s", csum, got)
	}
	return nil
}

// Walk calls fn for every path of a commit (a checksum or ref), parents
// before children and each directory's entries in name order, with ""
// for the root. Files and symlinks carry Object and ObjectMeta.
func (r *Repo) Walk(ctx context.Context, commit string, fn func(p string, e *fstree.Entry) error) error {
	csum, err := r.ResolveRef(commit)
	if err != nil {
		return err
	}
	c, err := r.ReadCommit(csum)
	if err != nil {
		return err
	}
	return r.walkDir(ctx, "", c.RootTree, c.RootMeta, fn, 0)
}

func (r *Repo) walkDir(ctx context.Context, p, tree, meta string, fn func(string, *fstree.Entry) error, depth int) error {
	if depth > 4096 {
		return fmt.Errorf("walk %s: directories nested too deep", p)
	}
	if err := ctx.Err(); err != nil {
		return err
	}
	dm, err := r.ReadDirMeta(meta)
	if err != nil {
		return err
	}
	if err := fn(p, &fstree.Entry{Kind: fstree.Dir, Meta: dm.Meta}); err != nil {
		return err
	}
	dt, err := r.ReadDirTree(tree)
	if err != nil {
		return err
	}
	// Files and directories interleave in name order, as a checkout
	// listing would show them.
	fi, di := 0, 0
	for fi < len(dt.Files) || di < len(dt.Dirs) {
		if di >= len(dt.Dirs) || (fi < len(dt.Files) && dt.Files[fi].Name < dt.Dirs[di].Name) {
			f := dt.Files[fi]
			fi++
			e, err := r.fileEntry(f.Checksum)
			if err != nil {
				return fmt.Errorf("%s: %w", path.Join(p, f.Name), err)
			}
			if err := fn(path.Join(p, f.Name), e); err != nil {
				return err
			}
			continue
		}
		d := dt.Dirs[di]
		di++
		if err := r.walkDir(ctx, path.Join(p, d.Name), d.Tree, d.Meta, fn, depth+1); err != nil {
			return err
		}
	}
	return nil
}

func (r *Repo) fileEntry(csum string) (*fstree.Entry, error) {
	rc, fi, err := r.OpenFile(csum)
	if err != nil {
		return nil, err
	}
	rc.Close()
	return &fstree.Entry{Kind: fi.Kind, Meta: fi.Meta, Target: fi.Target, Size: fi.Size, Object: csum, ObjectMeta: fi.Meta}, nil
}

// Checkout loads a commit into an fstree.Tree whose files refer to this
// repository's objects.
func (r *Repo) Checkout(ctx context.Context, commit string) (*fstree.Tree, error) {
	t := fstree.New()
	err := r.Walk(ctx, commit, func(p string, e *fstree.Entry) error {
		return t.Put(p, e)
	})
	if err != nil {
		return nil, err
	}
	return t, nil
}
