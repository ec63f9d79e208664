package vfat

import (
	"encoding/binary"
	"errors"
	"fmt"
	"io"
	"io/fs"
	"path"
	"slices"
	"strings"
	"time"
	"unicode/utf16"
	"unicode/utf8"
)

// FS is a FAT32 file system opened for reading. It implements fs.FS and
// fs.ReadDirFS; names are matched case-insensitively, as FAT does.
type FS struct {
	r           io.ReaderAt
	bps         int64 // bytes per sector
	clusterSize int64
	fatStart    int64
	dataStart   int64
	clusters    uint32 // data clusters, numbered 2…clusters+1
	root        uint32
	volumeID    uint32
	label       string
}

// Open reads the boot sector of the FAT32 file system in r, which is size
// bytes long. Like Linux, it takes any volume whose BPB has a zero 16-bit
// FAT size as FAT32, however few clusters it has.
func Open(r io.ReaderAt, size int64) (*FS, error) {
	b := make([]byte, sectorSize)
	if _, err := r.ReadAt(b, 0); err != nil {
		return nil, fmt.Errorf("vfat: reading the boot sector: %w", err)
	}
	if b[510] != 0x55 || b[511] != 0xAA {
		return nil, errors.New("vfat: no boot sector signature")
	}
	bps := int64(binary.LittleEndian.Uint16(b[11:]))
	spc := int64(b[13])
	rsvd := int64(binary.LittleEndian.Uint16(b[14:]))
	nfats := int64(b[16])
	rootEnts := binary.LittleEndian.Uint16(b[17:])
	fat16 := binary.LittleEndian.Uint16(b[22:])
	total := int64(binary.LittleEndian.Uint32(b[32:]))
	fatSecs := int64(binary.LittleEndian.Uint32(b[36:]))
	switch {
	case bps != 512 && bps != 1024 && bps != 2048 && bps != 4096:
		return nil, fmt.Errorf("vfat: %d bytes per sector is not valid", bps)
	case spc == 0 || spc&(spc-1) != 0:
		return nil, fmt.Errorf("vfat: %d sectors per cluster is not a power of two", spc)
	case fat16 != 0 || fatSecs == 0 || rootEnts != 0:
		return nil, errors.New("vfat: not a FAT32 file system (FAT12 or FAT16?)")
	case rsvd == 0 || nfats == 0:
		return nil, errors.New("vfat: boot sector has no reserved sectors or no FAT")
	case total*bps > size:
		return nil, fmt.Errorf("vfat: file system of %d bytes is larger than its %d-byte container", total*bps, size)
	}
	f := &FS{
		r:           r,
		bps:         bps,
		clusterSize: bps * spc,
		fatStart:    rsvd * bps,
		dataStart:   (rsvd + nfats*fatSecs) * bps,
		root:        binary.LittleEndian.Uint32(b[44:]),
		volumeID:    binary.LittleEndian.Uint32(b[67:]),
		label:       strings.TrimRight(string(b[71:82]), " "),
	}
	if f.dataStart >= total*bps {
		return nil, errors.New("vfat: the FATs leave no room for data")
	}
	clusters := (total*bps - f.dataStart) / f.clusterSize
	clusters = min(clusters, fatSecs*bps/4-2, maxClusters)
	if clusters < 1 {
		return nil, errors.New("vfat: no data clusters")
	}
	f.clusters = uint32(clusters)
	if !f.valid(f.root) {
		return nil, fmt.Errorf("vfat: root directory cluster %d is out of range", f.root)
	}
	return f, nil
}

// Label returns the volume label from the boot sector.
func (f *FS) Label() string { return f.label }

// VolumeID returns the volume serial number.
func (f *FS) VolumeID() uint32 { return f.volumeID }

func (f *FS) valid(c uint32) bool { return c >= 2 && c <= f.clusters+1 }

// chain returns at most limit clusters of the chain starting at c.
func (f *FS) chain(c uint32, limit int64) ([]uint32, error) {
	var out []uint32
	var sector []byte
	sectorAt := int64(-1)
	seen := map[uint32]bool{}
	for int64(len(out)) < limit {
		if !f.valid(c) {
			return nil, fmt.Errorf("cluster chain reaches invalid cluster %#x", c)
		}
		if seen[c] {
			return nil, fmt.Errorf("cluster chain loops back to cluster %d", c)
		}
		seen[c] = true
		out = append(out, c)
		off := f.fatStart + 4*int64(c)
		if s := off / f.bps * f.bps; s != sectorAt {
			if sector == nil {
				sector = make([]byte, f.bps)
			}
			if _, err := f.r.ReadAt(sector, s); err != nil {
				return nil, fmt.Errorf("reading the FAT: %w", err)
			}
			sectorAt = s
		}
		next := binary.LittleEndian.Uint32(sector[off-sectorAt:]) & 0x0FFFFFFF
		if next >= 0x0FFFFFF8 {
			return out, nil
		}
		c = next
	}
	return out, nil
}

// entry is a parsed directory entry.
type entry struct {
	name    string
	attr    byte
	cluster uint32
	size    int64
	mtime   time.Time
}

func (e entry) isDir() bool { return e.attr&attrDir != 0 }

// readDir parses the directory starting at cluster c.
func (f *FS) readDir(c uint32) ([]entry, error) {
	chain, err := f.chain(c, maxDirBytes/f.clusterSize)
	if err != nil {
		return nil, err
	}
	var out []entry
	var lfn []uint16 // long name being assembled, in order
	lfnSum, lfnNext := byte(0), 0
	buf := make([]byte, f.clusterSize)
	for _, cl := range chain {
		if _, err := f.r.ReadAt(buf, f.dataStart+int64(cl-2)*f.clusterSize); err != nil {
			return nil, fmt.Errorf("reading cluster %d: %w", cl, err)
		}
		for i := 0; i < len(buf); i += dirEntrySize {
			e := buf[i : i+dirEntrySize]
			switch {
			case e[0] == 0x00:
				return out, nil
			case e[0] == 0xE5:
				lfnNext = 0
				continue
			case e[11]&0x3F == attrLFN:
				ord := int(e[0] & 0x1F)
				if e[0]&0x40 != 0 {
					lfn, lfnSum, lfnNext = make([]uint16, 13*ord), e[13], ord
				}
				if ord == 0 || ord != lfnNext || e[13] != lfnSum {
					lfnNext = 0
					continue
				}
				part := lfn[13*(ord-1):]
				for j := range 13 {
					var o int
					switch {
					case j < 5:
						o = 1 + 2*j
					case j < 11:
						o = 14 + 2*(j-5)
					default:
						o = 28 + 2*(j-11)
					}
					part[j] = binary.LittleEndian.Uint16(e[o:])
				}
				lfnNext--
				if lfnNext == 0 {
					lfnNext = -1 // complete: awaiting its short entry
				}
				continue
			case e[11]&attrVolumeID != 0:
				lfnNext = 0
				continue
			}
			var short [11]byte
			copy(short[:], e[0:11])
			name := ""
			if lfnNext == -1 && lfnChecksum(short) == lfnSum {
				if k := slices.Index(lfn, 0); k >= 0 {
					lfn = lfn[:k]
				}
				name = string(utf16.Decode(lfn))
			} else {
				name = shortDisplayName(short, e[12])
			}
			lfnNext = 0
			if name == "." || name == ".." {
				continue
			}
			if !utf8.ValidString(name) || !fs.ValidPath(name) || strings.Contains(name, "/") {
				return nil, fmt.Errorf("directory entry with invalid name %q", name)
			}
			out = append(out, entry{
				name:    name,
				attr:    e[11],
				cluster: uint32(binary.LittleEndian.Uint16(e[20:]))<<16 | uint32(binary.LittleEndian.Uint16(e[26:])),
				size:    int64(binary.LittleEndian.Uint32(e[28:])),
				mtime:   fromFAT(binary.LittleEndian.Uint16(e[24:]), binary.LittleEndian.Uint16(e[22:])),
			})
		}
	}
	return out, nil
}

// shortDisplayName turns an 8.3 entry into a name, honouring the
// lower-case flags Windows NT and Linux set in byte 12.
func shortDisplayName(n [11]byte, flags byte) string {
	if n[0] == 0x05 {
		n[0] = 0xE5
	}
	conv := func(b []byte, lower bool) string {
		s := strings.TrimRight(string(latin1(b)), " ")
		if lower {
			s = strings.ToLower(s)
		}
		return s
	}
	base, ext := conv(n[:8], flags&0x08 != 0), conv(n[8:], flags&0x10 != 0)
	if ext == "" {
		return base
	}
	return base + "." + ext
}

func latin1(b []byte) []rune {
	r := make([]rune, len(b))
	for i, c := range b {
		r[i] = rune(c)
	}
	return r
}

func fromFAT(date, tm uint16) time.Time {
	return time.Date(1980+int(date>>9), time.Month(date>>5&15), int(date&31),
		int(tm>>11), int(tm>>5&63), 2*int(tm&31), 0, time.UTC)
}

// lookup finds name, a slash-separated path, in the tree.
func (f *FS) lookup(name string) (entry, error) {
	e := entry{name: ".", attr: attrDir, cluster: f.root}
	if name == "." {
		return e, nil
	}
	for _, part := range strings.Split(name, "/") {
		if !e.isDir() {
			return entry{}, fs.ErrNotExist
		}
		ents, err := f.readDir(e.cluster)
		if err != nil {
			return entry{}, err
		}
		i := slices.IndexFunc(ents, func(x entry) bool { return strings.EqualFold(x.name, part) })
		if i < 0 {
			return entry{}, fs.ErrNotExist
		}
		e = ents[i]
	}
	return e, nil
}

// Open implements fs.FS.
func (f *FS) Open(name string) (fs.File, error) {
	if !fs.ValidPath(name) {
		return nil, &fs.PathError{Op: "open", Path: name, Err: fs.ErrInvalid}
	}
	e, err := f.lookup(name)
	if err != nil {
		return nil, &fs.PathError{Op: "open", Path: name, Err: err}
	}
	if name != "." {
		e.name = path.Base(name)
	}
	if e.isDir() {
		ents, err := f.readDir(e.cluster)
		if err != nil {
			return nil, &fs.PathError{Op: "open", Path: name, Err: err}
		}
		return &dir{info: fileInfo(e), ents: ents}, nil
	}
	file := &file{fs: f, info: fileInfo(e)}
	if e.size > 0 {
		n := (e.size + f.clusterSize - 1) / f.clusterSize
		if file.chain, err = f.chain(e.cluster, n); err != nil {
			return nil, &fs.PathError{Op: "open", Path: name, Err: err}
		}
		if int64(len(file.chain)) < n {
			return nil, &fs.PathError{Op: "open", Path: name, Err: fmt.Errorf("cluster chain is shorter than the file's %d bytes", e.size)}
		}
	}
	return file, nil
}

// ReadDir implements fs.ReadDirFS.
func (f *FS) ReadDir(name string) ([]fs.DirEntry, error) {
	d, err := f.Open(name)
	if err != nil {
		return nil, err
	}
	rd, ok := d.(*dir)
	if !ok {
		return nil, &fs.PathError{Op: "readdir", Path: name, Err: errors.New("not a directory")}
	}
	ents, err := rd.ReadDir(-1)
	slices.SortFunc(ents, func(a, b fs.DirEntry) int { return strings.Compare(a.Name(), b.Name()) })
	return ents, err
}

type fileInfo entry

func (i fileInfo) Name() string       { return i.name }
func (i fileInfo) Size() int64        { return i.size }
func (i fileInfo) ModTime() time.Time { return i.mtime }
func (i fileInfo) IsDir() bool        { return entry(i).isDir() }
func (i fileInfo) Sys() any           { return nil }
func (i fileInfo) Mode() fs.FileMode {
	m := fs.FileMode(0o644)
	if i.attr&attrReadOnly != 0 {
		m = 0o444
	}
	if i.IsDir() {
		m |= fs.ModeDir | 0o111
	}
	return m
}

type file struct {
	fs    *FS
	info  fileInfo
	chain []uint32
	off   int64
}

func (f *file) Stat() (fs.FileInfo, error) { return f.info, nil }
func (f *file) Close() error               { return nil }

func (f *file) Read(p []byte) (int, error) {
	n := 0
	for n < len(p) && f.off < f.info.size {
		cs := f.fs.clusterSize
		c := f.chain[f.off/cs]
		in := f.off % cs
		k := min(int64(len(p)-n), cs-in, f.info.size-f.off)
		if _, err := f.fs.r.ReadAt(p[n:n+int(k)], f.fs.dataStart+int64(c-2)*cs+in); err != nil {
			return n, fmt.Errorf("vfat: reading %s: %w", f.info.name, err)
		}
		n += int(k)
		f.off += k
	}
	if n == 0 && len(p) > 0 {
		return 0, io.EOF
	}
	return n, nil
}

type dir struct {
	info fileInfo
	ents []entry
	off  int
}

func (d *dir) Stat() (fs.FileInfo, error) { return d.info, nil }
func (d *dir) Close() error               { return nil }
func (d *dir) Read([]byte) (int, error) {
	return 0, &fs.PathError{Op: "read", Path: d.info.name, Err: errors.New("is a directory")}
}

func (d *dir) ReadDir(n int) ([]fs.DirEntry, error) {
	rest := d.ents[d.off:]
	if n > 0 && len(rest) == 0 {
		return nil, io.EOF
	}
	if n > 0 && n < len(rest) {
		rest = rest[:n]
	}
	d.off += len(rest)
	out := make([]fs.DirEntry, len(rest))
	for i, e := range rest {
		out[i] = fs.FileInfoToDirEntry(fileInfo(e))
	}
	return out, nil
}
