// Package ldcache writes /etc/ld.so.cache in glibc's current format
// ("glibc-ld.so.cache1.1", the only one glibc 2.32 and later writes),
// listing the shared libraries of the directories in /etc/ld.so.conf and
// the system directories, as "ldconfig -r ROOT" would. Sonames come from
// the ELF files' dynamic sections (debug/elf); nothing is executed.
package ldcache

import (
	"bytes"
	"context"
	"debug/elf"
	"encoding/binary"
	"errors"
	"fmt"
	"io"
	"path"
	"runtime"
	"sort"
	"strings"

	"golang.org/x/sync/errgroup"

	"github.com/debatom/debatom/pkg/configure/sysroot"
	"github.com/debatom/debatom/pkg/fstree"
)

// Flags of a cache entry (glibc's dl-cache.h).
const (
	FlagELFLibc6   = 0x0003
	FlagX8664Lib64 = 0x0300
)

const (
	magic          = "glibc-ld.so.cache1.1"
	headerSize     = 48
	entrySize      = 24
	extensionMagic = 0xEAA42174
	flagsLittle    = 2 // cache_file_new_flags_endian_little
)

// Entry is one library in the cache.
type Entry struct {
	Flags  int32
	Key    string // the soname ld.so looks up
	Path   string // absolute path of the soname link
	HWCap  uint64
	serial int // insertion order, for glibc's tie-breaking
}

// LibCmp is glibc's _dl_cache_libcmp: bytewise, but runs of digits
// compare as numbers and a digit sorts after a non-digit.
func LibCmp(a, b string) int {
	i, j := 0, 0
	for i < len(a) {
		ca := a[i]
		var cb byte
		if j < len(b) {
			cb = b[j]
		}
		isDigit := func(c byte) bool { return c >= '0' && c <= '9' }
		switch {
		case isDigit(ca) && isDigit(cb):
			va, vb := 0, 0
			for i < len(a) && isDigit(a[i]) {
				va = va*10 + int(a[i]-'0')
				i++
			}
			for j < len(b) && isDigit(b[j]) {
				vb = vb*10 + int(b[j]-'0')
				j++
			}
			if va != vb {
				return va - vb
			}
		case isDigit(ca):
			return 1
		case isDigit(cb):
			return -1
		case ca != cb:
			return int(ca) - int(cb)
		default:
			i++
			j++
		}
	}
	if j < len(b) {
		return -int(b[j])
	}
	return 0
}

// sortEntries orders entries as ldconfig's add_to_cache does: soname
// descending, then higher flags, then higher hwcap; among equals the one
// added last comes first.
func sortEntries(es []Entry) {
	sort.SliceStable(es, func(x, y int) bool {
		a, b := es[x], es[y]
		if c := LibCmp(b.Key, a.Key); c != 0 {
			return c < 0
		}
		if a.Flags != b.Flags {
			return a.Flags > b.Flags
		}
		if a.HWCap != b.HWCap {
			return a.HWCap > b.HWCap
		}
		return a.serial > b.serial
	})
}

// Build serialises entries (in any order) with the generator string
// extension that ldconfig writes.
func Build(entries []Entry, generator string) []byte {
	es := append([]Entry(nil), entries...)
	for i := range es {
		if es[i].serial == 0 {
			es[i].serial = i + 1
		}
	}
	sortEntries(es)
	base := uint32(headerSize + entrySize*len(es))
	var all []string
	for _, e := range es {
		all = append(all, e.Key, e.Path)
	}
	strs, offs := stringTable(all)
	type raw struct{ key, val uint32 }
	raws := make([]raw, len(es))
	for i, e := range es {
		raws[i] = raw{base + offs[e.Key], base + offs[e.Path]}
	}
	var b bytes.Buffer
	le := binary.LittleEndian
	b.WriteString(magic)
	binary.Write(&b, le, uint32(len(es)))
	binary.Write(&b, le, uint32(len(strs)))
	b.Write([]byte{flagsLittle, 0, 0, 0})
	ext := (base + uint32(len(strs)) + 3) &^ 3
	binary.Write(&b, le, ext)
	b.Write(make([]byte, 12))
	for i, e := range es {
		binary.Write(&b, le, e.Flags)
		binary.Write(&b, le, raws[i].key)
		binary.Write(&b, le, raws[i].val)
		binary.Write(&b, le, uint32(0))
		binary.Write(&b, le, e.HWCap)
	}
	b.Write(strs)
	for uint32(b.Len()) < ext {
		b.WriteByte(0)
	}
	binary.Write(&b, le, uint32(extensionMagic))
	binary.Write(&b, le, uint32(1))
	// One section: the generator, right after the section table.
	binary.Write(&b, le, uint32(0)) // cache_extension_tag_generator
	binary.Write(&b, le, uint32(0))
	binary.Write(&b, le, ext+8+16)
	binary.Write(&b, le, uint32(len(generator)))
	b.WriteString(generator)
	return b.Bytes()
}

// stringTable lays strings out as glibc's ldconfig does (stringtable.c):
// sorted by their reversed bytes, longest first among equal tails, and a
// string that ends another shares its bytes. Same layout, same file.
func stringTable(in []string) ([]byte, map[string]uint32) {
	seen := map[string]bool{}
	var ss []string
	for _, s := range in {
		if !seen[s] {
			seen[s] = true
			ss = append(ss, s)
		}
	}
	sort.Slice(ss, func(i, j int) bool { return tailCmp(ss[i], ss[j]) < 0 })
	offs := map[string]uint32{}
	var size uint32
	for i, s := range ss {
		if i == 0 {
			offs[s] = 0
		} else if prev := ss[i-1]; strings.HasSuffix(prev, s) {
			offs[s] = offs[prev] + uint32(len(prev)-len(s))
		} else {
			offs[s] = offs[prev] + uint32(len(prev)) + 1
		}
		if end := offs[s] + uint32(len(s)) + 1; end > size {
			size = end
		}
	}
	out := make([]byte, size)
	for _, s := range ss {
		copy(out[offs[s]:], s)
	}
	return out, offs
}

// tailCmp compares strings from their last byte backwards, higher bytes
// first; of two where one ends the other, the longer sorts first, so a
// string directly follows one it can share bytes with.
func tailCmp(a, b string) int {
	for i := 0; i < len(a) && i < len(b); i++ {
		ca, cb := a[len(a)-1-i], b[len(b)-1-i]
		if ca != cb {
			return int(cb) - int(ca)
		}
	}
	return len(b) - len(a)
}

// Parse reads a cache file back (for tests and for checking input).
func Parse(b []byte) ([]Entry, error) {
	if len(b) < headerSize || string(b[:len(magic)]) != magic {
		return nil, errors.New("ld.so.cache: not a glibc-ld.so.cache1.1 file")
	}
	le := binary.LittleEndian
	n := le.Uint32(b[20:])
	if uint64(n)*entrySize+headerSize > uint64(len(b)) {
		return nil, fmt.Errorf("ld.so.cache: %d entries do not fit in %d bytes", n, len(b))
	}
	cstr := func(off uint32) (string, error) {
		if off >= uint32(len(b)) {
			return "", fmt.Errorf("ld.so.cache: string offset %d beyond the file", off)
		}
		end := bytes.IndexByte(b[off:], 0)
		if end < 0 {
			return "", fmt.Errorf("ld.so.cache: unterminated string at %d", off)
		}
		return string(b[off : off+uint32(end)]), nil
	}
	out := make([]Entry, n)
	for i := range out {
		p := b[headerSize+i*entrySize:]
		k, err := cstr(le.Uint32(p[4:]))
		if err != nil {
			return nil, err
		}
		v, err := cstr(le.Uint32(p[8:]))
		if err != nil {
			return nil, err
		}
		out[i] = Entry{Flags: int32(le.Uint32(p)), Key: k, Path: v, HWCap: le.Uint64(p[16:])}
	}
	return out, nil
}

// Dirs returns the library directories in ldconfig's order: those of
// etc/ld.so.conf (following include lines), then the system directories.
func Dirs(r *sysroot.Root) ([]string, error) {
	var dirs []string
	seen := map[string]bool{}
	var read func(p string, depth int) error
	read = func(p string, depth int) error {
		if depth > 10 {
			return fmt.Errorf("%s: includes nest too deep", p)
		}
		b, err := r.ReadFile(p)
		if err != nil {
			return err
		}
		for _, line := range strings.Split(string(b), "\n") {
			line, _, _ = strings.Cut(line, "#")
			line = strings.TrimSpace(line)
			if line == "" || strings.HasPrefix(line, "hwcap ") {
				continue
			}
			if rest, ok := strings.CutPrefix(line, "include"); ok && (rest == "" || rest[0] == ' ' || rest[0] == '\t') {
				for _, pat := range strings.Fields(rest) {
					if !strings.HasPrefix(pat, "/") {
						pat = path.Join("/", path.Dir(p), pat)
					}
					for _, f := range r.Glob(strings.TrimPrefix(path.Dir(pat), "/"), path.Base(pat)) {
						if err := read(f, depth+1); err != nil {
							return err
						}
					}
				}
				continue
			}
			for _, d := range strings.FieldsFunc(line, func(c rune) bool { return c == ' ' || c == '\t' || c == ',' || c == ':' }) {
				d, _, _ = strings.Cut(d, "=")
				d = path.Clean(d)
				if strings.HasPrefix(d, "/") && !seen[d] {
					seen[d] = true
					dirs = append(dirs, d)
				}
			}
		}
		return nil
	}
	if r.Exists("etc/ld.so.conf") {
		if err := read("etc/ld.so.conf", 0); err != nil {
			return nil, err
		}
	}
	for _, d := range []string{"/lib/x86_64-linux-gnu", "/usr/lib/x86_64-linux-gnu"} {
		if !seen[d] {
			seen[d] = true
			dirs = append(dirs, d)
		}
	}
	return dirs, nil
}

// Scan finds the libraries in dirs, following ldconfig's search_dir.
// facts, when not nil, supplies what earlier builds read from the same
// content objects and receives what this scan reads.
func Scan(ctx context.Context, r *sysroot.Root, dirs []string, facts *Facts) ([]Entry, error) {
	type cand struct {
		name, realPath string
		isLink         bool
	}
	type scanDir struct {
		dir   string
		cands []cand
	}
	// First the candidates of every directory, so their files can be read
	// in parallel before ldconfig's order-dependent choice below.
	var sds []scanDir
	files := map[string]*fstree.Entry{}
	var order []string
	realSeen := map[string]bool{}
	for _, d := range dirs {
		if err := ctx.Err(); err != nil {
			return nil, err
		}
		rd, e, err := r.Lookup(d)
		if err != nil || e == nil || e.Kind != fstree.Dir || realSeen[rd] {
			continue // missing, or the same directory under another name
		}
		realSeen[rd] = true
		sd := scanDir{dir: d}
		for _, name := range r.Tree.Children(rd) {
			if !candidateName(name) {
				continue
			}
			p := path.Join(rd, name)
			ent := r.Tree.Get(p)
			realPath, target, err := r.Lookup(p)
			if err != nil || target == nil || target.Kind != fstree.File {
				continue
			}
			sd.cands = append(sd.cands, cand{name: name, realPath: realPath, isLink: ent.Kind == fstree.Symlink})
			if _, ok := files[realPath]; !ok {
				files[realPath] = target
				order = append(order, realPath)
			}
		}
		sds = append(sds, sd)
	}
	found, err := readAll(ctx, r, order, files, facts)
	if err != nil {
		return nil, err
	}

	var out []Entry
	for _, sd := range sds {
		type dlib struct {
			name, soname string
			flags        int32
			isLink       bool
		}
		var libs []*dlib
		for _, c := range sd.cands {
			name, isLink := c.name, c.isLink
			fa := found[c.realPath]
			if !fa.ok {
				continue
			}
			soname, flags := fa.soname, fa.flags
			if soname == "" {
				soname = name
			}
			if isLink {
				// A link is kept as itself only when it points at its
				// soname or is the .so link for ld(1).
				rb := path.Base(c.realPath)
				if rb != soname && !(strings.HasSuffix(rb, ".so") && strings.HasPrefix(soname, rb)) {
					isLink = false
				}
				if isLink {
					soname = name
				}
			}
			var found *dlib
			for _, l := range libs {
				if l.soname == soname {
					found = l
					break
				}
			}
			if found == nil {
				libs = append(libs, &dlib{name: name, soname: soname, flags: flags, isLink: isLink})
			} else if (!isLink && found.isLink) || (isLink == found.isLink && LibCmp(found.name, name) < 0) {
				found.name, found.isLink, found.flags = name, isLink, flags
			}
		}
		for _, l := range libs {
			out = append(out, Entry{Flags: l.flags, Key: l.soname, Path: path.Join(sd.dir, l.soname), serial: len(out) + 1})
		}
	}
	return out, nil
}

// candidateName reports whether ldconfig's search_dir looks at a
// directory entry of this name at all: a shared library's, "lib*.so*" or
// the dynamic loader's "ld-*.so*".
func candidateName(name string) bool {
	return (strings.HasPrefix(name, "lib") || strings.HasPrefix(name, "ld-")) && strings.Contains(name, ".so")
}

// Candidate reports whether the file at p (a path, absolute or relative)
// may be one whose facts Scan wants: its name is one ldconfig looks at. It
// is a superset: where the file lies is not checked, since which
// directories are scanned is known only once the tree is configured; a
// library reached only through a link of another name is not selected
// (Scan reads it as before). Callers use it to choose the files whose
// bytes to pass to Facts.Observe.
func Candidate(p string) bool {
	return candidateName(path.Base(p))
}

// minELF is the size below which a file cannot be an ELF object ldconfig
// takes: readAll does not even open it.
const minELF = 64

// readAll returns the facts of the files at paths (entries in files):
// from facts when known there, else read, on as many workers as the
// process may run at once, since inflating libraries is most of a cold
// scan.
func readAll(ctx context.Context, r *sysroot.Root, paths []string, files map[string]*fstree.Entry, facts *Facts) (map[string]fact, error) {
	out := make(map[string]fact, len(paths))
	var todo []string
	for _, p := range paths {
		e := files[p]
		if e.Size < minELF {
			out[p] = fact{} // too small to be an ELF object
			continue
		}
		if facts != nil && e.Data == nil && e.Object != "" {
			if v, ok := facts.get(e.Object); ok {
				out[p] = v
				continue
			}
		}
		todo = append(todo, p)
	}
	if len(todo) == 0 {
		return out, nil
	}
	read := make([]fact, len(todo))
	workers := min(runtime.GOMAXPROCS(0), len(todo))
	g, gctx := errgroup.WithContext(ctx)
	next := make(chan int)
	g.Go(func() error {
		defer close(next)
		for i := range todo {
			if err := gctx.Err(); err != nil {
				return err
			}
			select {
			case next <- i:
			case <-gctx.Done():
				return gctx.Err()
			}
		}
		return nil
	})
	for range workers {
		g.Go(func() error {
			for i := range next {
				e := files[todo[i]]
				v, readable := readELF(r, todo[i], e)
				read[i] = v
				// An unreadable file is skipped, as ldconfig skips it,
				// but that says nothing about the content: not kept.
				if readable && facts != nil && e.Data == nil && e.Object != "" {
					facts.put(e.Object, v)
				}
			}
			return nil
		})
	}
	if err := g.Wait(); err != nil {
		return nil, err
	}
	for i, p := range todo {
		out[p] = read[i]
	}
	return out, nil
}

// readELF returns a shared object's soname and cache flags; ok is false
// for files ldconfig ignores (not ELF, another architecture, unreadable).
// readable is false when the content could not be read at all.
func readELF(r *sysroot.Root, p string, e *fstree.Entry) (v fact, readable bool) {
	if e.Data != nil {
		return elfFacts(bytes.NewReader(e.Data)), true
	}
	rc, err := r.Contents.Open(p, e)
	if err != nil {
		return fact{}, false
	}
	defer rc.Close()
	// An object stored uncompressed can be read in place: debug/elf then
	// reads only the headers and the dynamic section.
	if ra, ok := rc.(io.ReaderAt); ok {
		return elfFacts(ra), true
	}
	b, err := io.ReadAll(rc)
	if err != nil {
		return fact{}, false
	}
	return elfFacts(bytes.NewReader(b)), true
}

// elfFacts reads the soname and flags of the ELF object in ra.
func elfFacts(ra io.ReaderAt) fact {
	var m [4]byte
	if _, err := ra.ReadAt(m[:], 0); err != nil || string(m[:]) != elf.ELFMAG {
		return fact{}
	}
	f, err := elf.NewFile(ra)
	if err != nil {
		return fact{}
	}
	defer f.Close()
	var flags int32
	switch {
	case f.Class == elf.ELFCLASS64 && f.Machine == elf.EM_X86_64:
		flags = FlagX8664Lib64 | FlagELFLibc6
	case f.Class == elf.ELFCLASS32 && f.Machine == elf.EM_386:
		flags = FlagELFLibc6
	default:
		return fact{}
	}
	names, err := f.DynString(elf.DT_SONAME)
	if err != nil || len(names) == 0 {
		return fact{flags: flags, ok: true}
	}
	return fact{soname: names[0], flags: flags, ok: true}
}

// Generator is the string ldconfig records as the cache's author; the
// tree's own glibc version is used so the file matches the one the
// system's ldconfig would write.
func Generator(r *sysroot.Root) string {
	p := r.Package("libc-bin")
	if p == nil {
		return "debatom"
	}
	up := p.Version
	if k := strings.LastIndexByte(up, '-'); k > 0 {
		up = up[:k]
	}
	if k := strings.IndexByte(up, ':'); k >= 0 {
		up = up[k+1:]
	}
	return "ldconfig (Debian GLIBC " + p.Version + ") stable release version " + up
}

// Configure writes etc/ld.so.cache. facts may be nil; see Scan.
func Configure(ctx context.Context, r *sysroot.Root, facts *Facts) error {
	dirs, err := Dirs(r)
	if err != nil {
		return fmt.Errorf("ld.so.conf: %w", err)
	}
	es, err := Scan(ctx, r, dirs, facts)
	if err != nil {
		return err
	}
	if err := r.WriteFile("etc/ld.so.cache", Build(es, Generator(r)), 0o644, 0, 0); err != nil {
		return err
	}
	r.Report.Notef("ld.so.cache: %d libraries in %d directories", len(es), len(dirs))
	return nil
}
