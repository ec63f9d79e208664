package depmod

import (
	"bytes"
	"compress/gzip"
	"debug/elf"
	"errors"
	"fmt"
	"io"
	"io/fs"
	"slices"
	"strings"

	"github.com/klauspost/compress/zstd"

	"github.com/debatom/debatom/pkg/deb/xz"
)

// maxModuleSize bounds a decompressed module: the largest Debian 13 module
// (amdgpu) is about 25 MiB, so 512 MiB only stops a decompression bomb.
const maxModuleSize = 512 << 20

// moduleDictMax bounds an xz module's dictionary: kernels compress
// modules with at most a few MiB.
const moduleDictMax = 64 << 20

// KV is one .modinfo entry ("alias=pci:v...", "softdep=pre: crc32c").
type KV struct {
	Key, Value string
}

// ModuleInfo is what depmod reads from one module file.
type ModuleInfo struct {
	Info    []KV     // .modinfo entries in section order
	Exports []string // exported symbols, in the order kmod lists them
	Needs   []string // symbols it needs: undefined .symtab entries, then unmatched __versions entries
}

// moduleExts are the file name endings depmod treats as modules.
var moduleExts = []string{".ko", ".ko.xz", ".ko.zst", ".ko.gz"}

// IsModuleName reports whether a file's base name is one depmod reads as
// a module.
func IsModuleName(name string) bool {
	for _, e := range moduleExts {
		if len(name) > len(e) && strings.HasSuffix(name, e) {
			return true
		}
	}
	return false
}

// ModuleName is kmod's name for a module file: the base name up to its
// first dot, with dashes turned into underscores.
func ModuleName(path string) string {
	if i := strings.LastIndexByte(path, '/'); i >= 0 {
		path = path[i+1:]
	}
	if i := strings.IndexByte(path, '.'); i >= 0 {
		path = path[:i]
	}
	return strings.ReplaceAll(path, "-", "_")
}

// Decompress returns the ELF image of a module file, choosing the decoder
// by the file name's ending as kmod does.
func Decompress(name string, data []byte) ([]byte, error) {
	var r io.Reader
	switch {
	case strings.HasSuffix(name, ".xz"):
		// The same decoder that unpacks packages: kernels compress modules
		// the way dpkg-deb compresses members (LZMA2 alone).
		xr, err := xz.NewReader(bytes.NewReader(data), moduleDictMax)
		if err != nil {
			return nil, fmt.Errorf("xz: %w", err)
		}
		r = xr
	case strings.HasSuffix(name, ".zst"):
		zr, err := zstd.NewReader(bytes.NewReader(data), zstd.WithDecoderConcurrency(1), zstd.WithDecoderMaxMemory(maxModuleSize))
		if err != nil {
			return nil, fmt.Errorf("zstd: %w", err)
		}
		defer zr.Close()
		r = zr
	case strings.HasSuffix(name, ".gz"):
		gr, err := gzip.NewReader(bytes.NewReader(data))
		if err != nil {
			return nil, fmt.Errorf("gzip: %w", err)
		}
		r = gr
	default:
		return data, nil
	}
	var buf bytes.Buffer
	buf.Grow(len(data) * 6)
	n, err := io.Copy(&buf, io.LimitReader(r, maxModuleSize+1))
	if err != nil {
		return nil, fmt.Errorf("decompressing: %w", err)
	}
	if n > maxModuleSize {
		return nil, fmt.Errorf("decompressed size exceeds %d bytes", maxModuleSize)
	}
	return buf.Bytes(), nil
}

// A Parser reads module files one after another, reusing its xz decoder
// (window and probability tables) and its buffers: ParseModule copies
// what it keeps, so the image is free again once it returns. The zero
// Parser is ready to use; it is not safe for concurrent use.
type Parser struct {
	xz       *xz.Reader
	raw, img []byte
}

// Parse decompresses and parses the module file whose content r reads;
// name, the file's name, chooses the decompression as kmod does.
func (p *Parser) Parse(name string, r io.Reader) (*ModuleInfo, error) {
	var err error
	p.raw, err = readAllInto(r, p.raw[:0])
	if err != nil {
		return nil, fmt.Errorf("reading: %w", err)
	}
	return p.parse(name)
}

// read reads the module file name of fsys.
func (p *Parser) read(fsys fs.FS, name string) (*ModuleInfo, error) {
	f, err := fsys.Open(name)
	if err != nil {
		return nil, err
	}
	defer f.Close()
	p.raw = p.raw[:0]
	if st, err := f.Stat(); err == nil && st.Size() > 0 && int64(cap(p.raw)) < st.Size()+1 {
		p.raw = slices.Grow(p.raw, int(st.Size())+1) // +1: EOF needs no growth
	}
	p.raw, err = readAllInto(f, p.raw)
	if err != nil {
		return nil, fmt.Errorf("reading %s: %w", name, err)
	}
	return p.parse(name)
}

// parse decompresses and parses p.raw.
func (p *Parser) parse(name string) (*ModuleInfo, error) {
	if !strings.HasSuffix(name, ".xz") {
		img, err := Decompress(name, p.raw)
		if err != nil {
			return nil, err
		}
		return ParseModule(img)
	}
	var err error
	if p.xz == nil {
		if p.xz, err = xz.NewReader(nil, moduleDictMax); err != nil {
			return nil, fmt.Errorf("xz: %w", err)
		}
	}
	if err := p.xz.Reset(bytes.NewReader(p.raw)); err != nil {
		return nil, fmt.Errorf("xz: %w", err)
	}
	p.img, err = readAllInto(io.LimitReader(p.xz, maxModuleSize+1), p.img[:0])
	if err != nil {
		return nil, fmt.Errorf("decompressing: xz: %w", err)
	}
	if len(p.img) > maxModuleSize {
		return nil, fmt.Errorf("decompressed size exceeds %d bytes", maxModuleSize)
	}
	return ParseModule(p.img)
}

// Compression names the decompression kmod, and Parser, apply to a
// module file of that name: "xz", "zst", "gz", or "" for none. Two files
// with the same content and Compression parse the same.
func Compression(name string) string {
	for _, c := range []string{"xz", "zst", "gz"} {
		if strings.HasSuffix(name, "."+c) {
			return c
		}
	}
	return ""
}

// readAllInto is io.ReadAll appending to buf.
func readAllInto(r io.Reader, buf []byte) ([]byte, error) {
	for {
		if len(buf) == cap(buf) {
			buf = slices.Grow(buf, max(len(buf), 64<<10))
		}
		n, err := r.Read(buf[len(buf):cap(buf)])
		buf = buf[:len(buf)+n]
		if err == io.EOF {
			return buf, nil
		}
		if err != nil {
			return buf, err
		}
	}
}

// ParseModule reads .modinfo, the exported and the needed symbols from an
// uncompressed module image, following kmod's libkmod-elf.c rules.
func ParseModule(img []byte) (*ModuleInfo, error) {
	f, err := elf.NewFile(bytes.NewReader(img))
	if err != nil {
		return nil, fmt.Errorf("not a kernel module: %w", err)
	}
	m := &elfModule{img: img, f: f}
	switch f.Class {
	case elf.ELFCLASS64:
		m.symSize, m.verSize, m.crcSize = 24, 64, 8
	case elf.ELFCLASS32:
		m.symSize, m.verSize, m.crcSize = 16, 64, 4
	default:
		return nil, fmt.Errorf("not a kernel module: ELF class %v", f.Class)
	}
	mi := &ModuleInfo{}
	modinfo, err := m.section(".modinfo")
	if err != nil {
		return nil, err
	}
	for _, s := range nulStrings(modinfo) {
		k, v, ok := strings.Cut(s, "=")
		if !ok {
			v = k // kmod gives a key without '=' itself as value
		}
		mi.Info = append(mi.Info, KV{k, v})
	}
	if mi.Exports, err = m.exports(); err != nil {
		return nil, err
	}
	if mi.Needs, err = m.needs(); err != nil {
		return nil, err
	}
	return mi, nil
}

type elfModule struct {
	img                       []byte
	f                         *elf.File
	symSize, verSize, crcSize int
}

// section returns the first section with that name, nil if there is none.
func (m *elfModule) section(name string) ([]byte, error) {
	s := m.f.Section(name)
	if s == nil || s.Type == elf.SHT_NOBITS {
		return nil, nil
	}
	if s.Offset > uint64(len(m.img)) || s.Size > uint64(len(m.img))-s.Offset {
		return nil, fmt.Errorf("section %s (offset %d, size %d) lies outside the %d-byte file", name, s.Offset, s.Size, len(m.img))
	}
	return m.img[s.Offset : s.Offset+s.Size], nil
}

// nulStrings splits a string table the way kmod_elf_get_strings does:
// leading NULs skipped, runs of NULs separate, empty strings dropped.
func nulStrings(b []byte) []string {
	for len(b) > 1 && b[0] == 0 {
		b = b[1:]
	}
	if len(b) <= 1 {
		return nil
	}
	var out []string
	for _, s := range bytes.Split(b, []byte{0}) {
		if len(s) > 0 {
			out = append(out, string(s))
		}
	}
	return out
}

func cstring(b []byte, off uint64) string {
	if off >= uint64(len(b)) {
		return ""
	}
	b = b[off:]
	if i := bytes.IndexByte(b, 0); i >= 0 {
		b = b[:i]
	}
	return string(b)
}

type rawSym struct {
	name  uint32
	shndx uint16
}

func (m *elfModule) symbols() (syms []rawSym, strtab []byte, ok bool, err error) {
	strtab, err = m.section(".strtab")
	if err != nil || strtab == nil {
		return nil, nil, false, err
	}
	symtab, err := m.section(".symtab")
	if err != nil || symtab == nil {
		return nil, nil, false, err
	}
	if len(symtab)%m.symSize != 0 {
		return nil, nil, false, nil
	}
	bo := m.f.ByteOrder
	for off := m.symSize; off < len(symtab); off += m.symSize { // entry 0 is the null symbol
		e := symtab[off : off+m.symSize]
		s := rawSym{name: bo.Uint32(e)}
		if m.f.Class == elf.ELFCLASS64 {
			s.shndx = bo.Uint16(e[6:])
		} else {
			s.shndx = bo.Uint16(e[14:])
		}
		syms = append(syms, s)
	}
	return syms, strtab, true, nil
}

// exports follows kmod_elf_get_symbols: the names of __crc_* symbols when
// there are any (modversioned kernels such as Debian's), else the strings in
// __ksymtab_strings.
func (m *elfModule) exports() ([]string, error) {
	const crcPrefix = "__crc_"
	syms, strtab, ok, err := m.symbols()
	if err != nil {
		return nil, err
	}
	var out []string
	if ok {
		for _, s := range syms {
			if uint64(s.name) >= uint64(len(strtab)) {
				out = nil
				break
			}
			if n := cstring(strtab, uint64(s.name)); strings.HasPrefix(n, crcPrefix) {
				out = append(out, n[len(crcPrefix):])
			}
		}
		if len(out) > 0 {
			return out, nil
		}
	}
	ks, err := m.section("__ksymtab_strings")
	if err != nil {
		return nil, err
	}
	return nulStrings(ks), nil
}

// needs follows kmod_elf_get_dependency_symbols: undefined symbols in
// .symtab order, then __versions entries no undefined symbol matched
// (module_layout and the like).
func (m *elfModule) needs() ([]string, error) {
	syms, strtab, ok, err := m.symbols()
	if err != nil {
		return nil, err
	}
	if !ok {
		return nil, errors.New("no usable .symtab/.strtab")
	}
	versions, err := m.section("__versions")
	if err != nil {
		return nil, err
	}
	if len(versions)%m.verSize != 0 {
		versions = nil
	}
	var verNames []string
	for off := 0; off < len(versions); off += m.verSize {
		verNames = append(verNames, cstring(versions[off:off+m.verSize], uint64(m.crcSize)))
	}
	visited := make([]bool, len(verNames))
	firstVer := make(map[string]int, len(verNames))
	for i := len(verNames) - 1; i >= 0; i-- {
		firstVer[verNames[i]] = i
	}
	var out []string
	for _, s := range syms {
		if s.shndx != uint16(elf.SHN_UNDEF) {
			continue
		}
		if uint64(s.name) >= uint64(len(strtab)) {
			return nil, fmt.Errorf(".symtab names offset %d beyond the %d-byte .strtab", s.name, len(strtab))
		}
		n := cstring(strtab, uint64(s.name))
		if n == "" {
			continue
		}
		out = append(out, n)
		if i, ok := firstVer[n]; ok {
			visited[i] = true
		}
	}
	for i, v := range verNames {
		if !visited[i] {
			out = append(out, v)
		}
	}
	return out, nil
}
