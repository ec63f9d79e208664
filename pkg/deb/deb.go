// Package deb reads Debian binary packages (.deb files) as a stream.
//
// A .deb is an ar archive holding "debian-binary" (the format version),
// "control.tar[.ext]" (the control paragraph, maintainer scripts, conffiles
// and md5sums) and "data.tar[.ext]" (the files), in that order; members whose
// names start with "_" may sit between them and are ignored, as is anything
// after data.tar (deb(5)). Both tar members may be compressed with xz, zstd,
// gzip, bzip2 or lzma, or not at all.
//
// Read hands each data.tar entry to a callback as it streams by, so a
// 100 MB kernel package is never held in memory; only the control member
// (bounded to MaxControlSize) is read whole.
//
// # Decompression
//
// Every member in Debian 13 main is xz-compressed, so xz decoding is the
// hot loop of unpacking. bench/unpack/XZ.md measures the pure-Go decoders
// on the real packages of the frozen archive against xz-utils, single
// core: the best published one (github.com/xi2/xz, an xz-embedded port,
// and its fork) reached about 0.7x of xz-utils, under the 0.8x we aimed
// for, so xz members are decoded by this module's own pkg/deb/xz, which
// reached 0.82x to 0.87x. It verifies each block's CRC32/CRC64/SHA-256 and
// the index, which Read forces by draining each member to its end.
package deb

import (
	"archive/tar"
	"bytes"
	"context"
	"errors"
	"fmt"
	"io"
	"sort"
	"strings"

	"github.com/debatom/debatom/pkg/deb/ar"
	"github.com/debatom/debatom/pkg/deb822"
)

// MaxControlSize bounds the decompressed control.tar: it is read into
// memory, and real ones are under 1 MB (linux-image's md5sums is the
// largest part).
const MaxControlSize = 64 << 20

// maxControlFile bounds one file inside control.tar.
const maxControlFile = 16 << 20

// Package is what a .deb says about itself: everything in control.tar.
type Package struct {
	// Format is the content of debian-binary without its newline ("2.0").
	Format string
	// Control is the control paragraph.
	Control *deb822.Paragraph
	// Name, Version and Architecture come from Control.
	Name, Version, Architecture string
	// Conffiles lists the conffiles file, in file order.
	Conffiles []Conffile
	// MD5Sums lists the md5sums file, in file order. Paths are relative
	// ("usr/bin/ls"), as dpkg writes them.
	MD5Sums []MD5Sum
	// Files holds every regular file of control.tar ("control",
	// "md5sums", "postinst", "triggers", "shlibs", ...) sorted by name, so
	// later stages can act on maintainer scripts and install them as dpkg
	// would under /var/lib/dpkg/info. A slice, not a map, so that encoding
	// a Package gives the same bytes every time.
	Files []ControlFile
	// ControlCompression and DataCompression name the members'
	// compression ("xz", "zstd", "gzip", "bzip2", "lzma" or "none").
	ControlCompression, DataCompression string
}

// ControlFile is one file of control.tar.
type ControlFile struct {
	Name string // base name: "postinst"
	Data []byte
	Mode int64 // permission bits, as in the tar header
}

// File returns the maintainer script or control file name ("postinst",
// "config", "templates", ...) and whether the package has it.
func (p *Package) File(name string) ([]byte, bool) {
	i := sort.Search(len(p.Files), func(i int) bool { return p.Files[i].Name >= name })
	if i < len(p.Files) && p.Files[i].Name == name {
		return p.Files[i].Data, true
	}
	return nil, false
}

// FileNames returns the names in Files in byte order.
func (p *Package) FileNames() []string {
	out := make([]string, len(p.Files))
	for i, f := range p.Files {
		out[i] = f.Name
	}
	return out
}

// Conffile is one line of the conffiles control file.
type Conffile struct {
	Path string // absolute, as written ("/etc/default/foo")
	// RemoveOnUpgrade is the "remove-on-upgrade" flag of dpkg >= 1.20.
	RemoveOnUpgrade bool
}

// MD5Sum is one line of the md5sums control file.
type MD5Sum struct {
	Path string
	Sum  string // 32 lowercase hex digits
}

// DataFunc receives one data.tar entry. body reads the entry's content
// (regular files only) and is valid only during the call; what the callback
// leaves unread is skipped.
type DataFunc func(h *tar.Header, body io.Reader) error

// Read reads the .deb in r, whose name (a file name or URL) is used in
// error messages. It parses the control member and, when data is not nil,
// hands each data.tar entry to data in archive order. An error from data
// stops the read and is returned wrapped with the package and entry.
// ctx is checked between entries.
func Read(ctx context.Context, r io.Reader, name string, data DataFunc) (*Package, error) {
	d, err := Open(r, name)
	if err != nil {
		return nil, err
	}
	if data == nil {
		return d.Package, nil
	}
	if err := d.Data(ctx, data); err != nil {
		return nil, err
	}
	return d.Package, nil
}

// Reader is a .deb whose control member has been read and whose data
// member is next in the stream.
type Reader struct {
	// Package is filled from control.tar; Data sets DataCompression.
	Package *Package
	a       *ar.Reader
	name    string
	dec     *Decoder
}

// Open reads the .deb in r up to and including its control member, so
// the caller can look at the package before streaming its files with
// Data. name is used in error messages.
func Open(r io.Reader, name string) (*Reader, error) {
	return open(r, name, new(Decoder))
}

func open(r io.Reader, name string, dec *Decoder) (*Reader, error) {
	a := ar.NewReader(r, name)
	h, err := a.Next()
	if err == io.EOF {
		return nil, fmt.Errorf("%s: empty ar archive, not a Debian package", name)
	}
	if err != nil {
		return nil, err
	}
	if h.Name != "debian-binary" {
		return nil, fmt.Errorf("%s: first member is %q, not debian-binary: not a Debian package", name, h.Name)
	}
	if h.Size > 64 {
		return nil, fmt.Errorf("%s: debian-binary is %d bytes, expected a version line", name, h.Size)
	}
	vb, err := io.ReadAll(a)
	if err != nil {
		return nil, err
	}
	format := strings.TrimSuffix(string(vb), "\n")
	if major, _, _ := strings.Cut(format, "."); major != "2" || strings.ContainsAny(format, "\n\x00") {
		return nil, fmt.Errorf("%s: unsupported package format %q (want 2.x)", name, format)
	}
	p := &Package{Format: format}

	h, err = nextRequired(a, name, "control.tar")
	if err != nil {
		return nil, err
	}
	comp, err := memberCompression(h.Name, "control.tar")
	if err != nil {
		return nil, fmt.Errorf("%s: %w", name, err)
	}
	p.ControlCompression = comp
	if err := readControl(p, a, name, h.Name, comp, dec); err != nil {
		return nil, err
	}
	return &Reader{Package: p, a: a, name: name, dec: dec}, nil
}

// Data hands each data.tar entry to fn in archive order. It may be called
// once.
func (d *Reader) Data(ctx context.Context, fn DataFunc) error {
	h, err := nextRequired(d.a, d.name, "data.tar")
	if err != nil {
		return err
	}
	comp, err := memberCompression(h.Name, "data.tar")
	if err != nil {
		return fmt.Errorf("%s: %w", d.name, err)
	}
	d.Package.DataCompression = comp
	return readData(ctx, d.a, d.name, h.Name, comp, d.dec, fn)
}

// nextRequired returns the next member not starting with "_", which must
// be want[.ext].
func nextRequired(a *ar.Reader, name, want string) (*ar.Header, error) {
	for {
		h, err := a.Next()
		if err == io.EOF {
			return nil, fmt.Errorf("%s: no %s member: truncated or not a Debian package", name, want)
		}
		if err != nil {
			return nil, err
		}
		if strings.HasPrefix(h.Name, "_") {
			continue
		}
		if h.Name != want && !strings.HasPrefix(h.Name, want+".") {
			return nil, fmt.Errorf("%s: member %q where %s was expected", name, h.Name, want)
		}
		return h, nil
	}
}

func memberCompression(member, base string) (string, error) {
	ext := strings.TrimPrefix(member, base)
	switch ext {
	case "":
		return "none", nil
	case ".xz":
		return "xz", nil
	case ".zst":
		return "zstd", nil
	case ".gz":
		return "gzip", nil
	case ".bz2":
		return "bzip2", nil
	case ".lzma":
		return "lzma", nil
	}
	return "", fmt.Errorf("member %s: unknown compression %q", member, ext)
}

// openMember returns the decompressed stream of the current member, and a
// function that drains it (so trailing checksums are verified) and frees it.
func openMember(a *ar.Reader, name, member, comp string, dec *Decoder) (io.Reader, func() error, error) {
	r, closer, err := dec.decompress(comp, a)
	if err != nil {
		return nil, nil, fmt.Errorf("%s: member %s: %w", name, member, err)
	}
	finish := func() error {
		_, err := io.Copy(io.Discard, r)
		closer()
		if err != nil {
			return fmt.Errorf("%s: member %s: %w", name, member, err)
		}
		return nil
	}
	return r, finish, nil
}

func readControl(p *Package, a *ar.Reader, name, member, comp string, dec *Decoder) error {
	r, finish, err := openMember(a, name, member, comp, dec)
	if err != nil {
		return err
	}
	lr := &limitedReader{r: r, left: MaxControlSize}
	tr := tar.NewReader(lr)
	seen := map[string]bool{}
	for {
		h, err := tr.Next()
		if err == io.EOF {
			break
		}
		if err != nil {
			finish()
			return fmt.Errorf("%s: %s: %w", name, member, tarError(err))
		}
		base := strings.TrimPrefix(strings.TrimPrefix(h.Name, "./"), "/")
		switch {
		case h.Typeflag == tar.TypeDir && (base == "" || base == "."):
			continue
		case h.Typeflag != tar.TypeReg:
			finish()
			return fmt.Errorf("%s: %s: entry %q is not a regular file", name, member, h.Name)
		case base == "" || strings.Contains(base, "/") || base == "." || base == "..":
			finish()
			return fmt.Errorf("%s: %s: entry %q is not a top-level file", name, member, h.Name)
		case h.Size > maxControlFile:
			finish()
			return fmt.Errorf("%s: %s: %s is %d bytes, over the %d-byte limit", name, member, base, h.Size, maxControlFile)
		}
		if seen[base] {
			finish()
			return fmt.Errorf("%s: %s: %s appears twice", name, member, base)
		}
		b, err := io.ReadAll(tr)
		if err != nil {
			finish()
			return fmt.Errorf("%s: %s: %s: %w", name, member, base, tarError(err))
		}
		seen[base] = true
		p.Files = append(p.Files, ControlFile{Name: base, Data: b, Mode: h.Mode & 0o7777})
	}
	if err := finish(); err != nil {
		return err
	}
	sort.Slice(p.Files, func(i, j int) bool { return p.Files[i].Name < p.Files[j].Name })
	return parseControlFiles(p, name)
}

// parseControlFiles fills the typed fields of p from p.Files.
func parseControlFiles(p *Package, name string) error {
	cb, ok := p.File("control")
	if !ok {
		return fmt.Errorf("%s: control.tar has no control file", name)
	}
	paras, err := deb822.ReadAll(bytes.NewReader(cb), name+": control")
	if err != nil {
		return err
	}
	if len(paras) != 1 {
		return fmt.Errorf("%s: control file has %d paragraphs, want 1", name, len(paras))
	}
	p.Control = paras[0]
	for _, f := range []struct {
		field string
		dst   *string
	}{{"Package", &p.Name}, {"Version", &p.Version}, {"Architecture", &p.Architecture}} {
		*f.dst = p.Control.Get(f.field)
		if *f.dst == "" {
			return fmt.Errorf("%s: control file has no %s field", name, f.field)
		}
	}
	if b, ok := p.File("conffiles"); ok {
		for i, line := range lines(b) {
			c := Conffile{Path: line}
			if rest, ok := strings.CutPrefix(line, "remove-on-upgrade "); ok {
				c = Conffile{Path: strings.TrimSpace(rest), RemoveOnUpgrade: true}
			}
			if !strings.HasPrefix(c.Path, "/") || strings.ContainsAny(c.Path, " \t") {
				return fmt.Errorf("%s: conffiles line %d: %q is not an absolute path", name, i+1, line)
			}
			p.Conffiles = append(p.Conffiles, c)
		}
	}
	if b, ok := p.File("md5sums"); ok {
		for i, line := range lines(b) {
			sum, path, ok := strings.Cut(line, " ")
			path = strings.TrimLeft(path, " *")
			if !ok || len(sum) != 32 || !isHex(sum) || path == "" {
				return fmt.Errorf("%s: md5sums line %d is not \"<md5>  <path>\": %.80q", name, i+1, line)
			}
			p.MD5Sums = append(p.MD5Sums, MD5Sum{Path: path, Sum: strings.ToLower(sum)})
		}
	}
	return nil
}

// lines splits b into its non-blank lines, trimmed of trailing blanks.
func lines(b []byte) []string {
	var out []string
	for _, l := range strings.Split(string(b), "\n") {
		l = strings.TrimRight(l, " \t\r")
		if l != "" {
			out = append(out, l)
		}
	}
	return out
}

func isHex(s string) bool {
	for _, c := range []byte(s) {
		if !('0' <= c && c <= '9' || 'a' <= c && c <= 'f' || 'A' <= c && c <= 'F') {
			return false
		}
	}
	return true
}

func readData(ctx context.Context, a *ar.Reader, name, member, comp string, dec *Decoder, fn DataFunc) error {
	r, finish, err := openMember(a, name, member, comp, dec)
	if err != nil {
		return err
	}
	tr := tar.NewReader(dec.buffered(r))
	for {
		if err := ctx.Err(); err != nil {
			finish()
			return err
		}
		h, err := tr.Next()
		if err == io.EOF {
			break
		}
		if err != nil {
			finish()
			return fmt.Errorf("%s: %s: %w", name, member, tarError(err))
		}
		if err := fn(h, tr); err != nil {
			finish()
			return fmt.Errorf("%s: %s: entry %s: %w", name, member, h.Name, err)
		}
	}
	return finish()
}

// limitedReader fails, rather than stopping quietly, once more than left
// bytes are read, so a decompression bomb is an error and not a short file.
type limitedReader struct {
	r    io.Reader
	left int64
}

var errTooLarge = errors.New("decompressed control.tar exceeds the size limit")

func (l *limitedReader) Read(p []byte) (int, error) {
	if l.left <= 0 {
		return 0, errTooLarge
	}
	if int64(len(p)) > l.left {
		p = p[:l.left]
	}
	n, err := l.r.Read(p)
	l.left -= int64(n)
	return n, err
}

// tarError makes archive/tar's errors say what they mean here.
func tarError(err error) error {
	if errors.Is(err, io.ErrUnexpectedEOF) {
		return fmt.Errorf("truncated tar archive: %w", err)
	}
	return err
}
