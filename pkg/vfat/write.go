// Package vfat writes and reads FAT32 file systems with VFAT long names,
// as needed for an EFI System Partition.
//
// The writer is hand-written rather than built on go-diskfs: an ESP image
// needs only a one-shot writer of a small tree, about 500 lines that are
// fully under our control, and reproducibility (fixed volume ID, label and
// timestamps, a deterministic cluster layout and 8.3 names) is a property
// we can then guarantee and test instead of hoping a general-purpose
// read-write library keeps it. The layout follows Microsoft's "FAT32 File
// System Specification" (FAT: General Overview of On-Disk Format, 1.03):
// 32 reserved sectors holding the boot sector, FSInfo at 1 and their
// backups at 6 and 7; two FATs; the root directory at cluster 2; then
// every directory and file in one contiguous run of clusters, in the
// order of a depth-first walk with names sorted.
package vfat

import (
	"context"
	"encoding/binary"
	"fmt"
	"io"
	"io/fs"
	"path"
	"strings"
	"time"
	"unicode/utf16"
)

const (
	sectorSize   = 512
	reservedSecs = 32
	numFATs      = 2
	dirEntrySize = 32
	fsInfoSector = 1
	backupBoot   = 6

	attrReadOnly = 0x01
	attrHidden   = 0x02
	attrSystem   = 0x04
	attrVolumeID = 0x08
	attrDir      = 0x10
	attrArchive  = 0x20
	attrLFN      = attrReadOnly | attrHidden | attrSystem | attrVolumeID

	fatEOC      = 0x0FFFFFFF
	minClusters = 65525      // fewer clusters make a FAT16 by definition
	maxClusters = 0x0FFFFFF5 // cluster numbers above are reserved
	maxDirBytes = 65536 * dirEntrySize
)

// DefaultSize is the ESP size used when Options.Size is zero: room for a
// few kernel and initramfs pairs, and large enough for 4 KiB clusters.
const DefaultSize = 512 << 20

// Options fix everything about the image that is not the tree, so that the
// same tree and options always give the same bytes.
type Options struct {
	Size          int64     // bytes, a multiple of 512; DefaultSize if zero
	VolumeID      uint32    // the serial number blkid shows as UUID
	Label         string    // up to 11 characters of the 8.3 set; "NO NAME" if empty
	Time          time.Time // every timestamp; clamped to FAT's 1980–2107 range
	HiddenSectors uint32    // the partition's first LBA, recorded in the boot sector
}

// node is one directory or file of the tree being written.
type node struct {
	path     string // in fsys
	name     string // long name
	dir      bool
	size     int64
	children []*node
	short    [11]byte
	lfn      bool
	cluster  uint32 // first cluster, 0 for an empty file
	clusters uint32
}

// geometry is the computed layout of the file system.
type geometry struct {
	totalSecs  uint32
	secPerClus uint32
	fatSecs    uint32
	clusters   uint32 // data clusters, numbered 2…clusters+1
}

func (g geometry) clusterSize() int64 { return int64(g.secPerClus) * sectorSize }
func (g geometry) dataStart() int64 {
	return int64(reservedSecs+numFATs*g.fatSecs) * sectorSize
}
func (g geometry) clusterOffset(c uint32) int64 {
	return g.dataStart() + int64(c-2)*g.clusterSize()
}

// newGeometry picks the cluster size by Microsoft's table for FAT32 and
// sizes the FATs with the specification's formula.
func newGeometry(size int64) (geometry, error) {
	var g geometry
	if size%sectorSize != 0 || size <= 0 {
		return g, fmt.Errorf("size %d is not a positive multiple of %d", size, sectorSize)
	}
	secs := size / sectorSize
	if secs > 0xFFFFFFFF {
		return g, fmt.Errorf("size %d is over FAT32's 2 TiB", size)
	}
	g.totalSecs = uint32(secs)
	switch {
	case secs <= 532480: // 260 MiB
		g.secPerClus = 1
	case secs <= 16777216: // 8 GiB
		g.secPerClus = 8
	case secs <= 33554432:
		g.secPerClus = 16
	case secs <= 67108864:
		g.secPerClus = 32
	default:
		g.secPerClus = 64
	}
	tmp1 := uint64(g.totalSecs) - reservedSecs
	tmp2 := (256*uint64(g.secPerClus) + numFATs) / 2
	g.fatSecs = uint32((tmp1 + tmp2 - 1) / tmp2)
	data := uint64(g.totalSecs) - reservedSecs - numFATs*uint64(g.fatSecs)
	clusters := data / uint64(g.secPerClus)
	if clusters < minClusters {
		return g, fmt.Errorf("size %d gives %d clusters, FAT32 needs at least %d (about 33 MiB)", size, clusters, minClusters)
	}
	g.clusters = uint32(min(clusters, maxClusters))
	return g, nil
}

// Write writes a FAT32 file system of opts.Size bytes holding the tree
// fsys to w. Only regular files and directories are allowed. Write writes
// only the parts that are not zero: w must read as zeros elsewhere, as a
// new or freshly truncated file does (which also keeps it sparse).
func Write(ctx context.Context, w io.WriterAt, fsys fs.FS, opts Options) error {
	if opts.Size == 0 {
		opts.Size = DefaultSize
	}
	label, err := volumeLabel(opts.Label)
	if err != nil {
		return fmt.Errorf("vfat: %w", err)
	}
	g, err := newGeometry(opts.Size)
	if err != nil {
		return fmt.Errorf("vfat: %w", err)
	}
	return write(ctx, w, fsys, opts, label, g)
}

// Layout is a planned file system: the tree read and every cluster
// placed, with only the writing left.
type Layout struct {
	fsys     fs.FS
	opts     Options
	label    [11]byte
	hasLabel bool
	g        geometry
	root     *node
	next     uint32 // the first cluster after the last one used
}

// Plan reads the tree fsys (not the files' contents) and lays it out,
// for a caller that needs to know where the data goes before writing it.
func Plan(ctx context.Context, fsys fs.FS, opts Options) (*Layout, error) {
	if opts.Size == 0 {
		opts.Size = DefaultSize
	}
	label, err := volumeLabel(opts.Label)
	if err != nil {
		return nil, fmt.Errorf("vfat: %w", err)
	}
	g, err := newGeometry(opts.Size)
	if err != nil {
		return nil, fmt.Errorf("vfat: %w", err)
	}
	return plan(ctx, fsys, opts, label, g)
}

// ByteRange is a range of bytes of a file system.
type ByteRange struct {
	Offset, Length int64
}

// DataRanges returns, sorted, the byte ranges Write may write: the
// reserved sectors with the first FAT's used part, the second FAT's, and
// the used clusters. Everything else reads as zeros.
func (l *Layout) DataRanges() []ByteRange {
	fat := int64(4 * l.next)
	rs := []ByteRange{
		{0, reservedSecs*sectorSize + fat},
		{int64(reservedSecs+l.g.fatSecs) * sectorSize, fat},
	}
	if l.next > 2 {
		rs = append(rs, ByteRange{l.g.clusterOffset(2), l.g.clusterOffset(l.next) - l.g.clusterOffset(2)})
	}
	return rs
}

// Write writes the planned file system to w, as the package's Write does.
func (l *Layout) Write(ctx context.Context, w io.WriterAt) error {
	return l.write(ctx, w)
}

// write lays the tree out on geometry g and writes it. Tests call it with
// geometries too small for a real FAT32, to make small fuzz seeds.
func write(ctx context.Context, w io.WriterAt, fsys fs.FS, opts Options, label [11]byte, g geometry) error {
	l, err := plan(ctx, fsys, opts, label, g)
	if err != nil {
		return err
	}
	return l.write(ctx, w)
}

func plan(ctx context.Context, fsys fs.FS, opts Options, label [11]byte, g geometry) (*Layout, error) {
	root := &node{path: ".", dir: true}
	if err := readTree(ctx, fsys, root); err != nil {
		return nil, fmt.Errorf("vfat: %w", err)
	}
	hasLabel := string(label[:]) != "NO NAME    "

	// Allocate clusters depth first, the root directory at cluster 2.
	next := uint32(2)
	var alloc func(n *node) error
	alloc = func(n *node) error {
		var bytes int64
		if n.dir {
			entries := 2 // "." and ".."
			if n == root {
				entries = 0
				if hasLabel {
					entries = 1
				}
			}
			for _, c := range n.children {
				entries++
				if c.lfn {
					entries += (len(utf16.Encode([]rune(c.name))) + 12) / 13
				}
			}
			bytes = max(int64(entries)*dirEntrySize, 1)
			if bytes > maxDirBytes {
				return fmt.Errorf("directory %s has more entries than FAT allows", n.path)
			}
		} else {
			bytes = n.size
		}
		n.clusters = uint32((bytes + g.clusterSize() - 1) / g.clusterSize())
		if n.clusters > 0 {
			if uint64(next)+uint64(n.clusters) > uint64(g.clusters)+2 {
				return fmt.Errorf("the tree does not fit in %d bytes", opts.Size)
			}
			n.cluster = next
			next += n.clusters
		}
		for _, c := range n.children {
			if err := alloc(c); err != nil {
				return err
			}
		}
		return nil
	}
	if err := alloc(root); err != nil {
		return nil, fmt.Errorf("vfat: %w", err)
	}
	return &Layout{fsys: fsys, opts: opts, label: label, hasLabel: hasLabel, g: g, root: root, next: next}, nil
}

func (l *Layout) write(ctx context.Context, w io.WriterAt) error {
	fsys, opts, label, hasLabel, g, root, next := l.fsys, l.opts, l.label, l.hasLabel, l.g, l.root, l.next
	used := next - 2

	stamp := fatTime(opts.Time)
	if err := writeBoot(w, g, opts, label, g.clusters-used, next); err != nil {
		return fmt.Errorf("vfat: %w", err)
	}

	// The FAT: two reserved entries, then one chain per node. Entries past
	// the last used cluster are zero (free) and are not written.
	fat := make([]byte, 4*next)
	binary.LittleEndian.PutUint32(fat[0:], 0x0FFFFF00|0xF8)
	binary.LittleEndian.PutUint32(fat[4:], fatEOC)
	var chain func(n *node)
	chain = func(n *node) {
		for i := uint32(0); i < n.clusters; i++ {
			v := uint32(fatEOC)
			if i+1 < n.clusters {
				v = n.cluster + i + 1
			}
			binary.LittleEndian.PutUint32(fat[4*(n.cluster+i):], v)
		}
		for _, c := range n.children {
			chain(c)
		}
	}
	chain(root)
	for i := range numFATs {
		off := int64(reservedSecs+uint32(i)*g.fatSecs) * sectorSize
		if _, err := w.WriteAt(fat, off); err != nil {
			return fmt.Errorf("vfat: writing FAT %d: %w", i+1, err)
		}
	}

	var emit func(n, parent *node) error
	emit = func(n, parent *node) error {
		if err := ctx.Err(); err != nil {
			return err
		}
		if n.dir {
			buf := dirBytes(n, parent, root, label, hasLabel, stamp)
			if _, err := w.WriteAt(buf, g.clusterOffset(n.cluster)); err != nil {
				return fmt.Errorf("writing directory %s: %w", n.path, err)
			}
			for _, c := range n.children {
				if err := emit(c, n); err != nil {
					return err
				}
			}
			return nil
		}
		if n.size == 0 {
			return nil
		}
		return copyFile(fsys, n, io.NewOffsetWriter(w, g.clusterOffset(n.cluster)))
	}
	if err := emit(root, nil); err != nil {
		return fmt.Errorf("vfat: %w", err)
	}
	return nil
}

func copyFile(fsys fs.FS, n *node, w io.Writer) error {
	f, err := fsys.Open(n.path)
	if err != nil {
		return err
	}
	defer f.Close()
	c, err := io.Copy(w, io.LimitReader(f, n.size+1))
	if err != nil {
		return fmt.Errorf("copying %s: %w", n.path, err)
	}
	if c != n.size {
		return fmt.Errorf("%s changed size while being written (%d bytes, then %d)", n.path, n.size, c)
	}
	return nil
}

// readTree fills n's children from fsys, sorted by name as fs.ReadDir
// returns them, and assigns their 8.3 names.
func readTree(ctx context.Context, fsys fs.FS, n *node) error {
	if err := ctx.Err(); err != nil {
		return err
	}
	ents, err := fs.ReadDir(fsys, n.path)
	if err != nil {
		return err
	}
	folded := map[string]string{}
	for _, e := range ents {
		p := path.Join(n.path, e.Name())
		if err := checkLongName(e.Name()); err != nil {
			return fmt.Errorf("%s: %w", p, err)
		}
		if prev, ok := folded[strings.ToUpper(e.Name())]; ok {
			return fmt.Errorf("%s: %q and %q differ only in case, which FAT cannot tell apart", n.path, prev, e.Name())
		}
		folded[strings.ToUpper(e.Name())] = e.Name()
		c := &node{path: p, name: e.Name()}
		switch {
		case e.IsDir():
			c.dir = true
		case e.Type().IsRegular():
			info, err := e.Info()
			if err != nil {
				return err
			}
			c.size = info.Size()
			if c.size > 0xFFFFFFFF {
				return fmt.Errorf("%s is %d bytes, over FAT32's 4 GiB file size limit", p, c.size)
			}
		default:
			return fmt.Errorf("%s is a %v, FAT holds only files and directories", p, e.Type())
		}
		n.children = append(n.children, c)
	}
	// Exact 8.3 names first, so that a generated "FOO~1" never takes the
	// name of a file that is literally called "foo~1".
	names := shortNamer{taken: map[[11]byte]bool{}}
	for _, c := range n.children {
		short, lfn, err := names.assign(c.name, false)
		if err != nil {
			return fmt.Errorf("%s: %w", c.path, err)
		}
		c.short, c.lfn = short, lfn
	}
	for _, c := range n.children {
		if c.short != ([11]byte{}) {
			continue
		}
		if c.short, c.lfn, err = names.assign(c.name, true); err != nil {
			return fmt.Errorf("%s: %w", c.path, err)
		}
	}
	for _, c := range n.children {
		if c.dir {
			if err := readTree(ctx, fsys, c); err != nil {
				return err
			}
		}
	}
	return nil
}

// volumeLabel returns the 11-byte label field.
func volumeLabel(s string) ([11]byte, error) {
	var l [11]byte
	if s == "" {
		s = "NO NAME"
	}
	if len(s) > 11 {
		return l, fmt.Errorf("volume label %q is longer than 11 characters", s)
	}
	for i := range l {
		l[i] = ' '
	}
	for i, r := range s {
		c, ok := shortChar(r)
		if r == ' ' {
			c, ok = ' ', true
		}
		if !ok {
			return l, fmt.Errorf("volume label %q has %q, which FAT labels cannot hold", s, r)
		}
		l[i] = c
	}
	return l, nil
}

// stamp is a FAT date and time.
type stamp struct{ date, time uint16 }

func fatTime(t time.Time) stamp {
	t = t.UTC()
	if t.Year() < 1980 {
		return stamp{date: 1<<5 | 1} // 1980-01-01 00:00:00
	}
	if t.Year() > 2107 {
		return stamp{date: 127<<9 | 12<<5 | 31, time: 23<<11 | 59<<5 | 29}
	}
	return stamp{
		date: uint16(t.Year()-1980)<<9 | uint16(t.Month())<<5 | uint16(t.Day()),
		time: uint16(t.Hour())<<11 | uint16(t.Minute())<<5 | uint16(t.Second()/2),
	}
}

func shortEntry(name [11]byte, attr byte, cluster uint32, size uint32, ts stamp) [dirEntrySize]byte {
	var e [dirEntrySize]byte
	copy(e[0:11], name[:])
	e[11] = attr
	binary.LittleEndian.PutUint16(e[14:], ts.time)
	binary.LittleEndian.PutUint16(e[16:], ts.date)
	binary.LittleEndian.PutUint16(e[18:], ts.date)
	binary.LittleEndian.PutUint16(e[20:], uint16(cluster>>16))
	binary.LittleEndian.PutUint16(e[22:], ts.time)
	binary.LittleEndian.PutUint16(e[24:], ts.date)
	binary.LittleEndian.PutUint16(e[26:], uint16(cluster))
	binary.LittleEndian.PutUint32(e[28:], size)
	return e
}

// dirBytes returns the entries of directory n.
func dirBytes(n, parent, root *node, label [11]byte, hasLabel bool, ts stamp) []byte {
	var buf []byte
	add := func(e [dirEntrySize]byte) { buf = append(buf, e[:]...) }
	if n == root {
		if hasLabel {
			add(shortEntry(label, attrVolumeID, 0, 0, ts))
		}
	} else {
		add(shortEntry(shortEntryName(".", ""), attrDir, n.cluster, 0, ts))
		up := uint32(0) // ".." of a root child points at cluster 0 by convention
		if parent != root {
			up = parent.cluster
		}
		add(shortEntry(shortEntryName("..", ""), attrDir, up, 0, ts))
	}
	for _, c := range n.children {
		if c.lfn {
			for _, e := range lfnEntries(c.name, c.short) {
				add(e)
			}
		}
		if c.dir {
			add(shortEntry(c.short, attrDir, c.cluster, 0, ts))
		} else {
			add(shortEntry(c.short, attrArchive, c.cluster, uint32(c.size), ts))
		}
	}
	return buf
}

// writeBoot writes the boot sector, FSInfo and their backups.
func writeBoot(w io.WriterAt, g geometry, opts Options, label [11]byte, free, nextFree uint32) error {
	b := make([]byte, sectorSize)
	copy(b[0:3], []byte{0xEB, 0x58, 0x90})
	copy(b[3:11], "DEBATOM ")
	binary.LittleEndian.PutUint16(b[11:], sectorSize)
	b[13] = byte(g.secPerClus)
	binary.LittleEndian.PutUint16(b[14:], reservedSecs)
	b[16] = numFATs
	b[21] = 0xF8                              // fixed disk
	binary.LittleEndian.PutUint16(b[24:], 63) // the usual fake geometry
	binary.LittleEndian.PutUint16(b[26:], 255)
	binary.LittleEndian.PutUint32(b[28:], opts.HiddenSectors)
	binary.LittleEndian.PutUint32(b[32:], g.totalSecs)
	binary.LittleEndian.PutUint32(b[36:], g.fatSecs)
	binary.LittleEndian.PutUint32(b[44:], 2) // root directory cluster
	binary.LittleEndian.PutUint16(b[48:], fsInfoSector)
	binary.LittleEndian.PutUint16(b[50:], backupBoot)
	b[64] = 0x80
	b[66] = 0x29
	binary.LittleEndian.PutUint32(b[67:], opts.VolumeID)
	copy(b[71:82], label[:])
	copy(b[82:90], "FAT32   ")
	// Not bootable from BIOS: cli; hlt; jmp back to the hlt.
	copy(b[90:], []byte{0xFA, 0xF4, 0xEB, 0xFD})
	b[510], b[511] = 0x55, 0xAA

	info := make([]byte, sectorSize)
	binary.LittleEndian.PutUint32(info[0:], 0x41615252)
	binary.LittleEndian.PutUint32(info[484:], 0x61417272)
	binary.LittleEndian.PutUint32(info[488:], free)
	if nextFree > g.clusters+1 {
		nextFree = 0xFFFFFFFF // unknown: the disk is full
	}
	binary.LittleEndian.PutUint32(info[492:], nextFree)
	binary.LittleEndian.PutUint32(info[508:], 0xAA550000)

	for _, base := range []int64{0, backupBoot} {
		if _, err := w.WriteAt(b, base*sectorSize); err != nil {
			return fmt.Errorf("writing the boot sector: %w", err)
		}
		if _, err := w.WriteAt(info, (base+fsInfoSector)*sectorSize); err != nil {
			return fmt.Errorf("writing FSInfo: %w", err)
		}
	}
	return nil
}
