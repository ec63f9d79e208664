package ociwriter

import (
	"archive/tar"
	"bufio"
	"bytes"
	"compress/gzip"
	"context"
	"crypto/sha256"
	"encoding/hex"
	"errors"
	"fmt"
	"hash"
	"io"
	"os"
	"path"
	"path/filepath"
	"strings"

	"github.com/klauspost/compress/zstd"

	"github.com/debatom/debatom/internal/atomicfile"
	"github.com/debatom/debatom/pkg/fstree"
	"github.com/debatom/debatom/pkg/gvariant"
	"github.com/debatom/debatom/pkg/ostreerepo"
)

// Bounds on what an image may ask the importer to hold in memory.
const (
	maxMetaObject = 64 << 20 // a dirtree of a huge directory is still far below this
	maxXattrs     = 1 << 20
)

// ImportOptions describe an import.
type ImportOptions struct {
	// Tag picks the image in a layout holding several; "" takes the only
	// one.
	Tag string
	// Ref, if set, is pointed at the imported commit.
	Ref string
}

// Import reads an encapsulated image from the OCI layout in dir into repo
// and returns the commit checksum. Every object is verified against its
// name; only paths under sysroot/ostree/repo/objects are read, so the
// checkout paths in the layers can never write anywhere.
func Import(ctx context.Context, dir string, repo *ostreerepo.Repo, opts ImportOptions) (string, error) {
	m, _, err := readLayoutManifest(dir, opts.Tag)
	if err != nil {
		return "", fmt.Errorf("import: %w", err)
	}
	commit := m.Annotations[LabelCommit]
	if !ostreerepo.ValidChecksum(commit) {
		return "", fmt.Errorf("import %s: the image has no valid %s label: not an encapsulated OSTree commit", dir, LabelCommit)
	}
	im := &importer{repo: repo, xattrs: map[string][]fstree.Xattr{}}
	for i, l := range m.Layers {
		if err := importBlob(ctx, dir, l, im); err != nil {
			return "", fmt.Errorf("import %s: layer %d (%s): %w", dir, i, l.Digest, err)
		}
	}
	if err := checkComplete(ctx, repo, commit); err != nil {
		return "", fmt.Errorf("import %s: %w", dir, err)
	}
	if opts.Ref != "" {
		if err := repo.SetRef(opts.Ref, commit); err != nil {
			return "", fmt.Errorf("import %s: %w", dir, err)
		}
	}
	return commit, nil
}

// hashReader hashes what is read through it.
type hashReader struct {
	r io.Reader
	h hash.Hash
}

func (h *hashReader) Read(p []byte) (int, error) {
	n, err := h.r.Read(p)
	h.h.Write(p[:n])
	return n, err
}

func importBlob(ctx context.Context, dir string, l descriptor, im *importer) error {
	hx, err := digestHex(l.Digest)
	if err != nil {
		return err
	}
	f, err := os.Open(filepath.Join(dir, "blobs", "sha256", hx))
	if err != nil {
		return err
	}
	defer f.Close()
	hr := &hashReader{r: bufio.NewReaderSize(f, 256<<10), h: sha256.New()}
	var r io.Reader
	switch {
	case strings.HasSuffix(l.MediaType, "+zstd"):
		zr, err := zstd.NewReader(hr, zstd.WithDecoderConcurrency(1))
		if err != nil {
			return err
		}
		defer zr.Close()
		r = zr
	case strings.HasSuffix(l.MediaType, "+gzip") || strings.HasSuffix(l.MediaType, ".tar.gzip"):
		zr, err := gzip.NewReader(hr)
		if err != nil {
			return fmt.Errorf("gzip: %w", err)
		}
		r = zr
	case strings.HasSuffix(l.MediaType, ".tar"):
		r = hr
	default:
		return fmt.Errorf("unsupported layer media type %q", l.MediaType)
	}
	if err := im.layer(ctx, r); err != nil {
		return err
	}
	// Drain what the tar reader left (padding, compressor trailer) so the
	// digest covers the whole blob.
	if _, err := io.Copy(io.Discard, r); err != nil {
		return err
	}
	if _, err := io.Copy(io.Discard, hr); err != nil {
		return err
	}
	if got := hex.EncodeToString(hr.h.Sum(nil)); got != hx {
		return fmt.Errorf("blob has digest sha256:%s", got)
	}
	return nil
}

// importer writes the objects of a tar stream into a repository. xattrs
// objects come before the content object they describe.
type importer struct {
	repo    *ostreerepo.Repo
	xattrs  map[string][]fstree.Xattr // by the xattrs' SHA-256
	pending *[]fstree.Xattr           // for the next .file object
}

const objectsPrefix = "sysroot/ostree/repo/objects/"

// layer imports one uncompressed tar stream.
func (im *importer) layer(ctx context.Context, r io.Reader) error {
	tr := tar.NewReader(r)
	for {
		if err := ctx.Err(); err != nil {
			return err
		}
		h, err := tr.Next()
		if errors.Is(err, io.EOF) {
			if im.pending != nil {
				return fmt.Errorf("xattrs at the end of a layer for an object that never came")
			}
			return nil
		}
		if err != nil {
			return fmt.Errorf("read tar: %w", err)
		}
		name := strings.TrimPrefix(strings.TrimPrefix(h.Name, "./"), "/")
		rest, ok := strings.CutPrefix(name, objectsPrefix)
		if !ok || h.Typeflag == tar.TypeDir {
			continue // checkout paths and the repository skeleton
		}
		csum, ext, err := parseObjectName(rest)
		if err != nil {
			return fmt.Errorf("tar entry %s: %w", h.Name, err)
		}
		if err := im.entry(h, tr, csum, ext); err != nil {
			return fmt.Errorf("object %s.%s: %w", csum, ext, err)
		}
	}
}

// parseObjectName splits "xx/<62 hex>.ext" into checksum and extension.
func parseObjectName(rest string) (string, string, error) {
	dir, file := path.Split(rest)
	base, ext, ok := strings.Cut(file, ".")
	csum := strings.TrimSuffix(dir, "/") + base
	if !ok || len(dir) != 3 || !ostreerepo.ValidChecksum(csum) {
		return "", "", fmt.Errorf("not an object path: %q", rest)
	}
	return csum, ext, nil
}

func readAllLimited(r io.Reader, size, limit int64) ([]byte, error) {
	if size > limit || size < 0 {
		return nil, fmt.Errorf("%d bytes is over the %d-byte limit", size, limit)
	}
	b := make([]byte, size)
	if _, err := io.ReadFull(r, b); err != nil {
		return nil, err
	}
	return b, nil
}

func (im *importer) entry(h *tar.Header, r io.Reader, csum, ext string) error {
	switch ext {
	case "commit", "dirtree", "dirmeta":
		if h.Typeflag != tar.TypeReg {
			return fmt.Errorf("metadata object is not a regular file")
		}
		b, err := readAllLimited(r, h.Size, maxMetaObject)
		if err != nil {
			return err
		}
		if err := checkSum(b, csum, ext); err != nil {
			return err
		}
		t := map[string]ostreerepo.ObjectType{"commit": ostreerepo.ObjCommit, "dirtree": ostreerepo.ObjDirTree, "dirmeta": ostreerepo.ObjDirMeta}[ext]
		switch t {
		case ostreerepo.ObjCommit:
			_, err = ostreerepo.ParseCommit(b)
		case ostreerepo.ObjDirTree:
			_, err = ostreerepo.ParseDirTree(b)
		default:
			_, err = ostreerepo.ParseDirMeta(b)
		}
		if err != nil {
			return err
		}
		_, err = im.repo.WriteMetadata(t, b)
		return err
	case "commitmeta":
		if h.Typeflag != tar.TypeReg {
			return fmt.Errorf("metadata object is not a regular file")
		}
		b, err := readAllLimited(r, h.Size, maxMetaObject)
		if err != nil {
			return err
		}
		if _, err := gvariant.Unmarshal("a{sv}", b); err != nil {
			return fmt.Errorf("detached metadata: %w", err)
		}
		return writeCommitMeta(im.repo, csum, b)
	case "file-xattrs-link", "file-xattrs":
		if im.pending != nil {
			return fmt.Errorf("xattrs for an object that never came")
		}
		var xs []fstree.Xattr
		switch h.Typeflag {
		case tar.TypeReg:
			b, err := readAllLimited(r, h.Size, maxXattrs)
			if err != nil {
				return err
			}
			xs, err = parseXattrs(b)
			if err != nil {
				return err
			}
			sum := sha256.Sum256(b)
			im.xattrs[hex.EncodeToString(sum[:])] = xs
		case tar.TypeLink:
			// A link to an earlier xattrs object, named by its SHA-256.
			target := strings.TrimPrefix(strings.TrimPrefix(h.Linkname, "./"), "/")
			rest, ok := strings.CutPrefix(target, objectsPrefix)
			if !ok {
				return fmt.Errorf("xattrs link to %q outside the repository", h.Linkname)
			}
			xc, _, err := parseObjectName(rest)
			if err != nil {
				return err
			}
			x, ok := im.xattrs[xc]
			if !ok {
				return fmt.Errorf("xattrs link to unknown %s", xc)
			}
			xs = x
		default:
			return fmt.Errorf("xattrs entry of tar type %q", h.Typeflag)
		}
		im.pending = &xs
		return nil
	case "file":
		var xs []fstree.Xattr
		if im.pending != nil {
			xs = *im.pending
			im.pending = nil
		}
		meta := fstree.Meta{Mode: uint32(h.Mode) & 0o7777, UID: uint32(h.Uid), GID: uint32(h.Gid), Xattrs: xs}
		if h.Uid < 0 || h.Gid < 0 || int64(uint32(h.Uid)) != int64(h.Uid) || int64(uint32(h.Gid)) != int64(h.Gid) {
			return fmt.Errorf("owner %d:%d out of range", h.Uid, h.Gid)
		}
		var got string
		var err error
		switch h.Typeflag {
		case tar.TypeReg:
			got, err = im.repo.WriteFile(meta, r, h.Size)
		case tar.TypeSymlink:
			got, err = im.repo.WriteSymlink(meta, h.Linkname)
		case tar.TypeLink:
			// ostree-ext hard-links a repeated object when the link count
			// of the first copy ran out; it is already imported.
			if !im.repo.HasObject(csum, ostreerepo.ObjFile) {
				return fmt.Errorf("hard link to an object not yet imported")
			}
			return nil
		default:
			return fmt.Errorf("content object of tar type %q", h.Typeflag)
		}
		if err != nil {
			return err
		}
		if got != csum {
			return fmt.Errorf("content hashes to %s", got)
		}
		return nil
	}
	return fmt.Errorf("unknown object type %q", ext)
}

// parseXattrs decodes OSTree's a(ayay) xattrs.
func parseXattrs(b []byte) ([]fstree.Xattr, error) {
	if len(b) == 0 {
		return nil, nil
	}
	v, err := gvariant.Unmarshal("a(ayay)", b)
	if err != nil {
		return nil, fmt.Errorf("xattrs: %w", err)
	}
	arr, _ := v.([]any)
	var xs []fstree.Xattr
	for _, e := range arr {
		t, ok := e.(gvariant.Tuple)
		if !ok || len(t) != 2 {
			return nil, fmt.Errorf("xattrs: bad entry")
		}
		name, _ := t[0].([]byte)
		val, _ := t[1].([]byte)
		if len(name) < 2 || name[len(name)-1] != 0 {
			return nil, fmt.Errorf("xattrs: name %q lacks its NUL", name)
		}
		xs = append(xs, fstree.Xattr{Name: string(name[:len(name)-1]), Value: val})
	}
	// GVariant readers accept malformed data and substitute defaults; only
	// bytes that re-serialize identically are what the writer meant.
	nb, err := xattrBytes(xs)
	if err != nil || !bytes.Equal(nb, b) {
		return nil, fmt.Errorf("xattrs are not a normal-form a(ayay)")
	}
	return xs, nil
}

// writeCommitMeta stores detached metadata, named by its commit rather
// than by its own checksum.
func writeCommitMeta(repo *ostreerepo.Repo, commit string, b []byte) error {
	dir := filepath.Join(repo.Dir(), "objects", commit[:2])
	if err := os.MkdirAll(dir, 0o755); err != nil {
		return err
	}
	return atomicfile.WriteFile(filepath.Join(dir, commit[2:]+".commitmeta"), b, 0o644)
}

// checkComplete walks the imported commit and fails if any object it
// needs is missing.
func checkComplete(ctx context.Context, repo *ostreerepo.Repo, commit string) error {
	if !repo.HasObject(commit, ostreerepo.ObjCommit) {
		return fmt.Errorf("commit %s is not in the image", commit)
	}
	return repo.Walk(ctx, commit, func(p string, e *fstree.Entry) error {
		if e.Object != "" && !repo.HasObject(e.Object, ostreerepo.ObjFile) {
			return fmt.Errorf("commit %s: /%s: object %s is not in the image", commit, p, e.Object)
		}
		return nil
	})
}
