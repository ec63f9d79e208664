package ostreerepo

import (
	"bufio"
	"bytes"
	"crypto/sha256"
	"encoding/binary"
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

// scratch is one writer's reusable state: hashing, copying and output
// buffers that would otherwise be allocated for every object.
type scratch struct {
	h   hash.Hash
	buf []byte       // copyBuf bytes: a small payload or a copy buffer
	out bytes.Buffer // an archive object's bytes, written at once
	bw  *bufio.Writer
	sum [sha256.Size]byte
}

func (r *Repo) scratch() *scratch {
	if s, ok := r.scratches.Get().(*scratch); ok {
		s.h.Reset()
		return s
	}
	return &scratch{h: sha256.New(), buf: make([]byte, copyBuf), bw: bufio.NewWriterSize(nil, 64<<10)}
}

func (r *Repo) putScratch(s *scratch) {
	// A rare huge header must not stay pinned in the pool.
	if s.out.Cap() > 2*copyBuf {
		s.out = bytes.Buffer{}
	}
	s.out.Reset()
	s.bw.Reset(nil)
	r.scratches.Put(s)
}

// checksum is the hex digest of s.h.
func (s *scratch) checksum() string {
	return hex.EncodeToString(s.h.Sum(s.sum[:0]))
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
	s := r.scratch()
	defer r.putScratch(s)
	s.h.Write(sizedPrefix(hdr))

	if size <= smallFile {
		buf := s.buf[:size]
		if _, err := io.ReadFull(content, buf); err != nil {
			return "", fmt.Errorf("write file object: read %d bytes: %w", size, err)
		}
		if err := expectEOF(content, size); err != nil {
			return "", err
		}
		s.h.Write(buf)
		csum := s.checksum()
		if r.HasObject(csum, ObjFile) {
			return csum, nil
		}
		return csum, r.storeFile(s, csum, meta, sIFREG, "", buf, nil, size)
	}
	var csum string
	err = r.storeFile(s, "", meta, sIFREG, "", nil, io.TeeReader(content, s.h), size)
	if err == nil {
		csum = s.checksum()
	}
	return csum, err
}

func expectEOF(r io.Reader, size int64) error {
	var one [1]byte
	if n, _ := r.Read(one[:]); n > 0 {
		return fmt.Errorf("write file object: content longer than its size %d", size)
	}
	return nil
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
	s := r.scratch()
	defer r.putScratch(s)
	return csum, r.storeFile(s, csum, meta, sIFLNK, target, nil, nil, 0)
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

// storeFile writes a content object and links it into place. The payload
// is either data, in memory with its name csum known, or stream, hashed
// into s.h while it is written (csum == ""); the name is then s.h's sum.
func (r *Repo) storeFile(s *scratch, csum string, meta fstree.Meta, kind uint32, target string, data []byte, stream io.Reader, size int64) error {
	if r.mode == ModeBare && kind == sIFLNK {
		tmp, err := r.bareSymlink(meta, target)
		if err != nil {
			return fmt.Errorf("write content object: %w", err)
		}
		return r.commitTemp(tmp, csum, ObjFile)
	}
	prefix := ""
	if csum != "" {
		prefix = csum[:2]
	}
	o, err := r.createObj(prefix)
	if err != nil {
		return fmt.Errorf("write content object: %w", err)
	}
	if err := r.writeObj(s, o, meta, kind, target, data, stream, size); err != nil {
		o.abort()
		return fmt.Errorf("write content object: %w", err)
	}
	if csum == "" {
		csum = s.checksum()
	}
	return r.commitObj(o, csum, ObjFile)
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

// bareSymlink makes a bare-mode symlink object under a fresh name in
// tmp/ (a symlink cannot be an O_TMPFILE). The name is reserved with
// os.CreateTemp and the placeholder replaced: a racing creator would make
// that fail with EEXIST rather than be overwritten.
func (r *Repo) bareSymlink(meta fstree.Meta, target string) (string, error) {
	f, err := os.CreateTemp(filepath.Join(r.dir, "tmp"), "obj-*")
	if err != nil {
		return "", err
	}
	name := f.Name()
	f.Close()
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

// writeObj writes the object's on-disk form for the repository's mode,
// metadata included, so that it is complete before it gets a name.
func (r *Repo) writeObj(s *scratch, o *objFile, meta fstree.Meta, kind uint32, target string, data []byte, stream io.Reader, size int64) error {
	switch r.mode {
	case ModeArchive:
		if err := r.writeFilez(s, o, meta, kind, target, data, stream, size); err != nil {
			return err
		}
		return fchmod(o.fd, 0o644)
	case ModeBareUser:
		if kind == sIFLNK {
			data = append([]byte(target), 0)
		}
		if err := r.writePayload(s, o, data, stream, size); err != nil {
			return err
		}
		xs, err := xattrsValue(meta.Xattrs)
		if err != nil {
			return err
		}
		um, err := typeDirMeta.Append(nil, gvariant.Tuple{be32(meta.UID), be32(meta.GID), be32(kind | meta.Mode&0o7777), xs})
		if err != nil {
			return err
		}
		if err := unix.Fsetxattr(o.fd, "user.ostreemeta", um, 0); err != nil {
			return fmt.Errorf("set user.ostreemeta: %w", err)
		}
		// The object itself is a plain file the caller owns; only the
		// permission bits that are safe for an unprivileged copy remain.
		perm := uint32(0o644)
		if kind == sIFREG {
			perm = meta.Mode&0o775 | 0o400
		}
		if err := fchmod(o.fd, perm); err != nil {
			return err
		}
		return futimesZero(o.fd)
	default:
		if err := r.writePayload(s, o, data, stream, size); err != nil {
			return err
		}
		return applyBareMeta("", o.fd, meta)
	}
}

func fchmod(fd int, mode uint32) error {
	if err := unix.Fchmod(fd, mode); err != nil {
		return fmt.Errorf("chmod: %w", err)
	}
	return nil
}

func futimesZero(fd int) error {
	if err := unix.Futimes(fd, []unix.Timeval{{}, {}}); err != nil {
		return fmt.Errorf("set times: %w", err)
	}
	return nil
}

// writePayload writes a bare object's payload: data at once, or exactly
// size bytes of stream.
func (r *Repo) writePayload(s *scratch, o *objFile, data []byte, stream io.Reader, size int64) error {
	if stream == nil {
		_, err := o.Write(data)
		return err
	}
	return copyExact(o, stream, size, s.buf)
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

// copyExact copies exactly size bytes of payload to w through buf.
func copyExact(w io.Writer, payload io.Reader, size int64, buf []byte) error {
	n, err := io.CopyBuffer(w, io.LimitReader(payload, size), buf)
	if err != nil {
		return err
	}
	if n != size {
		return fmt.Errorf("content is %d bytes, want %d", n, size)
	}
	return expectEOF(payload, size)
}

// writeFilez writes an archive-mode object: the sized filez header, then
// (for regular files) the raw deflate stream of the payload. A payload
// that deflate would not shrink (already compressed: kernel modules,
// images, .gz documentation) is written as stored deflate blocks, which
// every inflater reads and which cost no compression time; checksums
// cover the uncompressed content, so they do not change.
func (r *Repo) writeFilez(s *scratch, o *objFile, meta fstree.Meta, kind uint32, target string, data []byte, stream io.Reader, size int64) error {
	hdr, err := filezHeader(meta, kind, target, uint64(size))
	if err != nil {
		return err
	}
	s.out.Reset()
	s.out.Write(sizedPrefix(hdr))
	if kind != sIFREG {
		_, err := o.Write(s.out.Bytes())
		return err
	}
	if stream == nil {
		// The whole object is built in memory and written at once.
		if err := r.deflateSmall(&s.out, data); err != nil {
			return err
		}
		_, err := o.Write(s.out.Bytes())
		return err
	}
	return r.deflateStream(s, o, stream, size)
}

// deflateSmall appends data's deflate stream to out, or stored blocks
// when compressing does not pay.
func (r *Repo) deflateSmall(out *bytes.Buffer, data []byte) error {
	if len(data) > 0 && compressedMagic(data) {
		appendStored(out, data)
		return nil
	}
	start := out.Len()
	fw, err := r.flater(out)
	if err != nil {
		return err
	}
	fw.Write(data) // writes to a bytes.Buffer do not fail
	if err := fw.Close(); err != nil {
		return err
	}
	r.flaters.Put(fw)
	if len(data) > 0 && int64(out.Len()-start) >= storedSize(int64(len(data))) {
		out.Truncate(start)
		appendStored(out, data)
	}
	return nil
}

// probeSize is how much of a large payload is test-compressed to decide
// whether the whole is worth compressing.
const probeSize = 64 << 10

// deflateStream writes a large payload's deflate stream (or stored
// blocks) after the header already in s.out.
func (r *Repo) deflateStream(s *scratch, o *objFile, stream io.Reader, size int64) error {
	probe := s.buf[:probeSize]
	if _, err := io.ReadFull(stream, probe); err != nil {
		return fmt.Errorf("read payload: %w", err)
	}
	stored, err := r.incompressible(probe)
	if err != nil {
		return err
	}
	s.bw.Reset(o)
	s.bw.Write(s.out.Bytes())
	rest := io.MultiReader(bytes.NewReader(probe), stream)
	if stored {
		sw := &storedWriter{w: s.bw, left: size}
		if err := copyExact(sw, rest, size, s.buf[probeSize:]); err != nil {
			return err
		}
	} else {
		fw, err := r.flater(s.bw)
		if err != nil {
			return err
		}
		if err := copyExact(fw, rest, size, s.buf[probeSize:]); err != nil {
			return err
		}
		if err := fw.Close(); err != nil {
			return err
		}
		r.flaters.Put(fw)
	}
	return s.bw.Flush()
}

// incompressible reports whether a payload starting with probe should be
// stored rather than deflated: it carries a compressed format's magic, or
// its first probeSize bytes do not shrink.
func (r *Repo) incompressible(probe []byte) (bool, error) {
	if compressedMagic(probe) {
		return true, nil
	}
	var c countWriter
	fw, err := r.flater(&c)
	if err != nil {
		return false, err
	}
	fw.Write(probe)
	if err := fw.Close(); err != nil {
		return false, err
	}
	r.flaters.Put(fw)
	return c.n >= storedSize(int64(len(probe))), nil
}

type countWriter struct{ n int64 }

func (c *countWriter) Write(p []byte) (int, error) {
	c.n += int64(len(p))
	return len(p), nil
}

// compressedMagic reports whether data starts like an xz, zstd, gzip or
// bzip2 stream, which deflate cannot shrink.
func compressedMagic(data []byte) bool {
	for _, m := range [...]string{"\xfd7zXZ\x00", "\x28\xb5\x2f\xfd", "\x1f\x8b", "BZh"} {
		if bytes.HasPrefix(data, []byte(m)) {
			return true
		}
	}
	return false
}

// maxStored is the payload limit of one stored deflate block.
const maxStored = 0xffff

// storedSize is the length of n bytes as stored deflate blocks: each
// block of up to 65535 bytes costs a 5-byte header.
func storedSize(n int64) int64 {
	blocks := max((n+maxStored-1)/maxStored, 1)
	return n + 5*blocks
}

// appendStored appends data to out as stored deflate blocks, the last one
// final. data must not be empty.
func appendStored(out *bytes.Buffer, data []byte) {
	sw := storedWriter{w: out, left: int64(len(data))}
	sw.Write(data)
}

// storedWriter frames exactly left bytes as stored deflate blocks
// (RFC 1951 3.2.4: BTYPE 00 at a byte boundary, LEN, NLEN, the bytes),
// marking the block that ends the payload final.
type storedWriter struct {
	w     io.Writer
	left  int64 // payload bytes not yet written
	block int   // bytes still to go in the current block
}

func (s *storedWriter) Write(p []byte) (int, error) {
	n := 0
	for len(p) > 0 {
		if s.left <= 0 {
			return n, fmt.Errorf("stored deflate: more than the announced size")
		}
		if s.block == 0 {
			s.block = int(min(s.left, maxStored))
			var h [5]byte
			if int64(s.block) == s.left {
				h[0] = 1 // BFINAL
			}
			binary.LittleEndian.PutUint16(h[1:], uint16(s.block))
			binary.LittleEndian.PutUint16(h[3:], ^uint16(s.block))
			if _, err := s.w.Write(h[:]); err != nil {
				return n, err
			}
		}
		k := min(len(p), s.block)
		if _, err := s.w.Write(p[:k]); err != nil {
			return n, err
		}
		p, n, s.block, s.left = p[k:], n+k, s.block-k, s.left-int64(k)
	}
	return n, nil
}

// WriteMetadata stores a dirtree, dirmeta, commit or commitmeta object and
// returns its checksum, the SHA-256 of data.
func (r *Repo) WriteMetadata(t ObjectType, data []byte) (string, error) {
	csum := metadataChecksum(data)
	if r.HasObject(csum, t) {
		return csum, nil
	}
	o, err := r.createObj(csum[:2])
	if err != nil {
		return "", fmt.Errorf("write %s object: %w", t, err)
	}
	_, err = o.Write(data)
	if err == nil {
		err = fchmod(o.fd, 0o644)
	}
	if err != nil {
		o.abort()
		return "", fmt.Errorf("write %s object: %w", t, err)
	}
	return csum, r.commitObj(o, csum, t)
}

// WriteDirMeta stores a directory's metadata object.
func (r *Repo) WriteDirMeta(meta fstree.Meta) (string, error) {
	b, err := DirMetaBytes(meta)
	if err != nil {
		return "", fmt.Errorf("write dirmeta: %w", err)
	}
	return r.WriteMetadata(ObjDirMeta, b)
}
