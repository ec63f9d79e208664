// Package unpack streams the files of .deb packages straight into an OSTree
// object store, in parallel, and describes each package as a Manifest:
// its control data and every entry of its data.tar as an fstree entry
// whose content is an object in the store.
//
// Nothing is extracted to a directory: a regular file goes from the xz
// decoder through the tar reader into Repo.WriteFile, with the owner and
// mode of its tar header (never the host's). Manifests are cached by the
// SHA256 of the .deb, so a package is decompressed once; a cached manifest
// is used only when every object it names is in the target repository.
//
// Tar content is hostile until checked: ".." components, absolute paths,
// hardlinks to files outside the package, device nodes and FIFOs (which
// Debian packages do not ship and OSTree cannot store), sizes over the
// limit, duplicate paths and paths below a non-directory are each an
// error naming the package and the entry.
package unpack

import (
	"archive/tar"
	"bytes"
	"context"
	"crypto/sha256"
	"encoding/hex"
	"errors"
	"fmt"
	"io"
	"os"
	"path"
	"runtime"
	"sort"
	"strings"
	"sync"
	"time"

	"github.com/debatom/debatom/pkg/deb"
	"github.com/debatom/debatom/pkg/fstree"
	"github.com/debatom/debatom/pkg/ostreerepo"
)

// DefaultMaxFileSize bounds one file in a package. The largest file in
// Debian 13 main is a few hundred MB; a header claiming more than this is
// taken as hostile rather than streamed for hours.
const DefaultMaxFileSize = 4 << 30

// maxSymlinkTarget is PATH_MAX: no kernel follows a longer link.
const maxSymlinkTarget = 4096

// Options configure an Unpacker.
type Options struct {
	// Workers is the number of packages unpacked at once; 0 means one per
	// core (GOMAXPROCS).
	Workers int
	// CacheDir holds manifests (CacheDir/unpacked/<sha256>.manifest). ""
	// disables caching.
	CacheDir string
	// MaxFileSize bounds one regular file; 0 means DefaultMaxFileSize.
	MaxFileSize int64
	// Done, when set, is called by UnpackAll as each input succeeds, with
	// its index and result, from the worker that unpacked it (so it must
	// be safe for concurrent use and quick). It lets a caller start work
	// on one package, such as the kernel's modules, while the others
	// still unpack.
	Done func(i int, r *Result)
	// Observe, when set, selects regular files (by path, in fstree form)
	// whose bytes are handed to Observed as they are unpacked, so that a
	// caller can learn what it needs of them (a library's soname, say)
	// while they are in memory, instead of reading each back from the
	// repository later. Files over MaxObservedSize are not selected: they
	// would cost that much memory per worker. It is called from the
	// workers: it must be safe for concurrent use, and cheap, since it
	// sees every regular file.
	Observe func(path string) bool
	// Observed is called for each file Observe selected, from the worker
	// that unpacked it, after its object is written, with the object's
	// checksum and the file's bytes, which are valid only during the call.
	// A package whose manifest comes from the cache is not decompressed,
	// so its files are not observed.
	Observed func(path, object string, data []byte)
}

// MaxObservedSize bounds a file given to Options.Observed.
const MaxObservedSize = 32 << 20

// Input is one .deb to unpack.
type Input struct {
	Path string
	// SHA256 is the .deb's expected SHA256 (64 hex), as a lockfile or
	// Packages index gives it. When set, the file is checked against it;
	// when empty, it is computed.
	SHA256 string
}

// Manifest describes one unpacked package.
type Manifest struct {
	// SHA256 is the .deb's SHA256.
	SHA256 string
	// Package holds the control data: name, version, architecture, the
	// control paragraph, conffiles, md5sums and maintainer scripts.
	Package *deb.Package
	// Entries are the data.tar entries in archive order.
	Entries []Entry
	// Bytes is the total size of the package's regular files, hardlinks
	// counted once.
	Bytes int64
}

// Entry is one path of a package.
type Entry struct {
	// Path is in fstree form: relative, cleaned ("usr/bin/ls"; "" is
	// the root directory).
	Path string
	fstree.Entry
	// Hardlink is, for an entry that the tar stored as a hard link, the
	// path of the file it links to; both share one content object.
	Hardlink string
}

// Tree returns the package's files as an fstree.Tree. Files and symlinks
// carry the package name; directories carry none, since packages share
// them.
func (m *Manifest) Tree() (*fstree.Tree, error) {
	t := fstree.New()
	for i := range m.Entries {
		e := m.Entries[i].Entry // a copy: callers may edit the tree
		if e.Kind != fstree.Dir {
			e.Package = m.Package.Name
		}
		if err := t.Put(m.Entries[i].Path, &e); err != nil {
			return nil, fmt.Errorf("package %s: %w", m.Package.Name, err)
		}
	}
	return t, nil
}

// Result is the outcome for one Input.
type Result struct {
	Manifest *Manifest
	// Cached reports that the manifest came from the cache and nothing was
	// decompressed.
	Cached bool
	// Duration is the wall time spent on this package.
	Duration time.Duration
}

// Unpacker unpacks packages into one repository. It is safe for
// concurrent use.
type Unpacker struct {
	repo *ostreerepo.Repo
	opts Options
	// observeBufs are *[]byte buffers for observed files, reused because
	// shared libraries are megabytes each.
	observeBufs sync.Pool
}

// New returns an Unpacker writing objects into repo.
func New(repo *ostreerepo.Repo, opts Options) *Unpacker {
	if opts.Workers <= 0 {
		opts.Workers = runtime.GOMAXPROCS(0)
	}
	if opts.MaxFileSize <= 0 {
		opts.MaxFileSize = DefaultMaxFileSize
	}
	return &Unpacker{repo: repo, opts: opts}
}

// UnpackAll unpacks every input with Options.Workers workers and returns
// the results in input order. The largest files start first so that one
// big package (the kernel) does not finish alone at the end. On the first
// failure the remaining work is cancelled and that error is returned.
func (u *Unpacker) UnpackAll(ctx context.Context, inputs []Input) ([]*Result, error) {
	ctx, cancel := context.WithCancel(ctx)
	defer cancel()

	order := make([]int, len(inputs))
	sizes := make([]int64, len(inputs))
	for i, in := range inputs {
		order[i] = i
		if st, err := os.Stat(in.Path); err == nil {
			sizes[i] = st.Size()
		}
	}
	sort.SliceStable(order, func(a, b int) bool { return sizes[order[a]] > sizes[order[b]] })

	results := make([]*Result, len(inputs))
	errs := make([]error, len(inputs))
	jobs := make(chan int)
	var wg sync.WaitGroup
	for w := 0; w < min(u.opts.Workers, len(inputs)); w++ {
		wg.Add(1)
		go func() {
			defer wg.Done()
			var dec deb.Decoder // one per worker: decoders are big, reuse them
			for i := range jobs {
				r, err := u.unpackInput(ctx, inputs[i], &dec)
				results[i], errs[i] = r, err
				if err != nil {
					cancel()
				} else if u.opts.Done != nil {
					u.opts.Done(i, r)
				}
			}
		}()
	}
feed:
	for _, i := range order {
		select {
		case jobs <- i:
		case <-ctx.Done():
			break feed
		}
	}
	close(jobs)
	wg.Wait()

	// Report a real failure rather than the cancellation it caused.
	var canceled error
	for _, err := range errs {
		if err != nil && !errors.Is(err, context.Canceled) {
			return nil, err
		}
		if err != nil && canceled == nil {
			canceled = err
		}
	}
	if canceled != nil {
		return nil, canceled
	}
	if err := ctx.Err(); err != nil {
		return nil, err // cancelled by the caller before every job started
	}
	return results, nil
}

// Unpack unpacks one .deb, or takes its manifest from the cache when the
// cache has it and the repository holds every object it names.
func (u *Unpacker) Unpack(ctx context.Context, in Input) (*Result, error) {
	return u.unpackInput(ctx, in, new(deb.Decoder))
}

func (u *Unpacker) unpackInput(ctx context.Context, in Input, dec *deb.Decoder) (*Result, error) {
	start := time.Now()
	sum, err := fileSHA256(in.Path)
	if err != nil {
		return nil, err
	}
	if in.SHA256 != "" && !strings.EqualFold(in.SHA256, sum) {
		return nil, fmt.Errorf("%s: SHA256 %s, expected %s", in.Path, sum, in.SHA256)
	}
	if m := u.cached(sum); m != nil {
		return &Result{Manifest: m, Cached: true, Duration: time.Since(start)}, nil
	}
	f, err := os.Open(in.Path)
	if err != nil {
		return nil, err
	}
	defer f.Close()
	m, err := u.unpack(ctx, f, in.Path, dec)
	if err != nil {
		return nil, err
	}
	m.SHA256 = sum
	if u.opts.CacheDir != "" {
		if err := writeCache(u.cachePath(sum), m); err != nil {
			return nil, err
		}
	}
	return &Result{Manifest: m, Duration: time.Since(start)}, nil
}

// Read unpacks the .deb in r (name is used in errors) without the cache.
func (u *Unpacker) Read(ctx context.Context, r io.Reader, name string) (*Manifest, error) {
	h := sha256.New()
	m, err := u.unpack(ctx, io.TeeReader(r, h), name, new(deb.Decoder))
	if err != nil {
		return nil, err
	}
	if _, err := io.Copy(h, r); err != nil {
		return nil, fmt.Errorf("%s: %w", name, err)
	}
	m.SHA256 = hex.EncodeToString(h.Sum(nil))
	return m, nil
}

func fileSHA256(p string) (string, error) {
	f, err := os.Open(p)
	if err != nil {
		return "", err
	}
	defer f.Close()
	h := sha256.New()
	if _, err := io.Copy(h, f); err != nil {
		return "", fmt.Errorf("hash %s: %w", p, err)
	}
	return hex.EncodeToString(h.Sum(nil)), nil
}

// unpack streams the package's data.tar into the repository.
func (u *Unpacker) unpack(ctx context.Context, r io.Reader, name string, dec *deb.Decoder) (*Manifest, error) {
	d, err := dec.Open(r, name)
	if err != nil {
		return nil, err
	}
	s := &state{u: u, index: map[string]int{}}
	if err := d.Data(ctx, s.entry); err != nil {
		return nil, fmt.Errorf("package %s: %w", d.Package.Name, err)
	}
	return &Manifest{Package: d.Package, Entries: s.entries, Bytes: s.bytes}, nil
}

// state is what unpacking one package accumulates.
type state struct {
	u       *Unpacker
	entries []Entry
	index   map[string]int // path → entries index
	bytes   int64
}

func (s *state) entry(h *tar.Header, body io.Reader) error {
	p, err := entryPath(h.Name)
	if err != nil {
		return err
	}
	if _, dup := s.index[p]; dup {
		return fmt.Errorf("duplicate path %s", displayPath(p))
	}
	if p != "" {
		if err := s.checkParent(p); err != nil {
			return err
		}
	}
	meta, err := headerMeta(h)
	if err != nil {
		return err
	}
	e := Entry{Path: p}
	e.Meta = meta
	switch h.Typeflag {
	case tar.TypeDir:
		e.Kind = fstree.Dir
	case tar.TypeReg, tar.TypeRegA:
		if p == "" {
			return fmt.Errorf("the root is a regular file")
		}
		if h.Size < 0 || h.Size > s.u.opts.MaxFileSize {
			return fmt.Errorf("size %d is over the %d-byte limit", h.Size, s.u.opts.MaxFileSize)
		}
		var csum string
		if s.u.observes(p, h.Size) {
			csum, err = s.u.writeObserved(p, meta, body, h.Size)
		} else {
			csum, err = s.u.repo.WriteFile(meta, body, h.Size)
		}
		if err != nil {
			return err
		}
		e.Kind, e.Size, e.Object, e.ObjectMeta = fstree.File, h.Size, csum, meta
		s.bytes += h.Size
	case tar.TypeSymlink:
		if h.Linkname == "" || len(h.Linkname) > maxSymlinkTarget || strings.IndexByte(h.Linkname, 0) >= 0 {
			return fmt.Errorf("symlink target %.80q is empty, too long or has a NUL", h.Linkname)
		}
		if p == "" {
			return fmt.Errorf("the root is a symlink")
		}
		csum, err := s.u.repo.WriteSymlink(meta, h.Linkname)
		if err != nil {
			return err
		}
		e.Kind, e.Target, e.Object, e.ObjectMeta = fstree.Symlink, h.Linkname, csum, meta
	case tar.TypeLink:
		target, err := entryPath(h.Linkname)
		if err != nil {
			return fmt.Errorf("hardlink target: %w", err)
		}
		i, ok := s.index[target]
		if !ok || s.entries[i].Kind != fstree.File {
			return fmt.Errorf("hardlink to %s, which is not a regular file earlier in the package", displayPath(target))
		}
		t := s.entries[i]
		if t.Hardlink != "" {
			target = t.Hardlink // always name the first path of the inode
		}
		// One inode has one owner and mode: the content object's.
		e.Entry = t.Entry
		e.Hardlink = target
	case tar.TypeChar, tar.TypeBlock:
		return fmt.Errorf("device node: Debian packages ship none and OSTree cannot store one")
	case tar.TypeFifo:
		return fmt.Errorf("FIFO: Debian packages ship none and OSTree cannot store one")
	default:
		return fmt.Errorf("unsupported tar entry type %q", h.Typeflag)
	}
	s.index[p] = len(s.entries)
	s.entries = append(s.entries, e)
	return nil
}

// observes reports whether the file at p, of size bytes, goes to
// Options.Observed.
func (u *Unpacker) observes(p string, size int64) bool {
	return u.opts.Observed != nil && u.opts.Observe != nil && size <= MaxObservedSize && u.opts.Observe(p)
}

// writeObserved reads the file into memory, stores it from there and hands
// the bytes to Options.Observed. Reading it first costs one copy, which is
// little beside inflating and deflating it.
func (u *Unpacker) writeObserved(p string, meta fstree.Meta, body io.Reader, size int64) (string, error) {
	bp, _ := u.observeBufs.Get().(*[]byte)
	if bp == nil {
		bp = new([]byte)
	}
	defer u.observeBufs.Put(bp)
	if int64(cap(*bp)) < size {
		*bp = make([]byte, size)
	}
	buf := (*bp)[:size]
	if _, err := io.ReadFull(body, buf); err != nil {
		return "", fmt.Errorf("read %d bytes: %w", size, err)
	}
	csum, err := u.repo.WriteFile(meta, bytes.NewReader(buf), size)
	if err != nil {
		return "", err
	}
	u.opts.Observed(p, csum, buf)
	return csum, nil
}

// checkParent rejects a path below a non-directory of the same package,
// which would let a symlink redirect later entries.
func (s *state) checkParent(p string) error {
	for d := path.Dir(p); d != "."; d = path.Dir(d) {
		if i, ok := s.index[d]; ok {
			if k := s.entries[i].Kind; k != fstree.Dir {
				return fmt.Errorf("parent %s is a %s, not a directory", d, k)
			}
			return nil
		}
	}
	return nil
}

// entryPath turns a tar name into fstree form. Debian writes "./usr/bin";
// plain relative names are accepted; absolute names and ".." are not,
// because nothing legitimate needs them.
func entryPath(name string) (string, error) {
	if strings.HasPrefix(name, "/") {
		return "", fmt.Errorf("absolute path %q", name)
	}
	if strings.IndexByte(name, 0) >= 0 {
		return "", fmt.Errorf("path %q has a NUL byte", name)
	}
	return fstree.Clean(name)
}

func displayPath(p string) string {
	if p == "" {
		return "/"
	}
	return "/" + p
}

// headerMeta takes ownership, permissions and xattrs from the tar header.
func headerMeta(h *tar.Header) (fstree.Meta, error) {
	if h.Uid < 0 || h.Gid < 0 || int64(h.Uid) > 1<<32-1 || int64(h.Gid) > 1<<32-1 {
		return fstree.Meta{}, fmt.Errorf("owner %d:%d out of range", h.Uid, h.Gid)
	}
	m := fstree.Meta{Mode: uint32(h.Mode & 0o7777), UID: uint32(h.Uid), GID: uint32(h.Gid)}
	for k, v := range h.PAXRecords {
		if name, ok := strings.CutPrefix(k, "SCHILY.xattr."); ok {
			if name == "" {
				return fstree.Meta{}, fmt.Errorf("xattr with an empty name")
			}
			m.Xattrs = append(m.Xattrs, fstree.Xattr{Name: name, Value: []byte(v)})
		}
	}
	sort.Slice(m.Xattrs, func(i, j int) bool { return m.Xattrs[i].Name < m.Xattrs[j].Name })
	return m, nil
}
