// Package iso9660 writes ISO 9660 images (ECMA-119) with Joliet long
// names and an El Torito boot catalog that makes them boot under UEFI:
// the firmware reads the FAT image the catalog points at as an EFI System
// Partition and starts \EFI\BOOT\BOOTX64.EFI from it (UEFI 2.10, 13.3.2).
//
// The image is written front to back to an io.Writer: the system area,
// the volume descriptors (primary, El Torito boot record, Joliet
// supplementary, terminator), the boot catalog, the path tables, the
// directories of both trees, the Rock Ridge continuation areas and then
// the file data, the boot image last.
// Both trees share the file data. The primary tree carries Rock Ridge
// (modes, symlinks, names of any length; owners are root), which Linux
// and libisofs prefer; Joliet serves Windows and tools without Rock
// Ridge. Every timestamp is Options.Time, so the same tree and options
// give the same bytes.
package iso9660

import (
	"bufio"
	"context"
	"encoding/binary"
	"fmt"
	"io"
	"io/fs"
	"path"
	"sort"
	"strings"
	"time"
	"unicode/utf16"

	"github.com/debatom/debatom/pkg/gpt"
)

const (
	sectorSize    = 2048
	systemArea    = 16 // sectors before the first volume descriptor
	maxJolietName = 64 // UCS-2 units
	maxISOName    = 30 // level 2: name and extension, without ".;1"
	flagDir       = 0x02
)

// Options fix what is not the tree.
type Options struct {
	VolumeID string    // up to 32 characters (16 in the Joliet tree); upper-cased for the primary tree
	Time     time.Time // every timestamp in the image
	// EFIBootImage is the path in the tree of a FAT file system image
	// (such as pkg/vfat writes) for the El Torito UEFI boot entry; no
	// boot catalog is written if it is empty.
	EFIBootImage string
	// Hybrid also makes the image a GPT disk whose EFI System Partition
	// is the boot image, so that it boots when written to a USB stick.
	// The GPT lives in the system area, its backup in sectors appended
	// after the ISO volume. Needs EFIBootImage.
	Hybrid bool
	// DiskGUID is the hybrid GPT's disk GUID; the partition's is derived
	// from it. If zero, both are derived from VolumeID.
	DiskGUID gpt.GUID
}

// node is a file, directory or symlink of the tree.
type node struct {
	path     string
	name     string // as in the fs.FS
	dir      bool
	size     int64
	children []*node
	parent   *node
	isoName  string // primary identifier: "NAME.EXT;1" or "DIR"
	jName    []byte // Joliet identifier, UCS-2 big-endian
	extent   uint32 // first sector of the data (files) or directory (dirs)
	jExtent  uint32 // dirs: first sector in the Joliet tree
	dirSize  uint32 // dirs: bytes of the primary directory, whole sectors
	jDirSize uint32
	number   int // dirs: 1-based number in the path table

	mode      fs.FileMode
	link      string // symlink target
	slEntries []byte // Rock Ridge SL entries of a symlink
	serial    uint32 // Rock Ridge file serial number
}

// Write writes an ISO image of the regular files, directories and
// symlinks in fsys (symlinks are read with fs.ReadLink).
func Write(ctx context.Context, w io.Writer, fsys fs.FS, opts Options) error {
	root := &node{path: ".", dir: true, mode: fs.ModeDir | 0o755}
	root.parent = root
	if info, err := fs.Stat(fsys, "."); err == nil && info.Mode().Perm() != 0 {
		root.mode = info.Mode()
	}
	if err := readTree(ctx, fsys, root); err != nil {
		return fmt.Errorf("iso9660: %w", err)
	}
	serial := uint32(0)
	walk(root, func(n *node) {
		serial++
		n.serial = serial
	})
	var boot *node
	if opts.EFIBootImage != "" {
		boot = find(root, opts.EFIBootImage)
		if boot == nil || boot.dir || boot.link != "" {
			return fmt.Errorf("iso9660: EFI boot image %s is not a file in the tree", opts.EFIBootImage)
		}
		if boot.size == 0 {
			return fmt.Errorf("iso9660: EFI boot image %s is empty", opts.EFIBootImage)
		}
	}
	if len(opts.VolumeID) > 32 {
		return fmt.Errorf("iso9660: volume ID %q is longer than 32 characters", opts.VolumeID)
	}

	dirs := breadthFirst(root)
	if len(dirs) > 0xFFFF {
		// Path table records name their parent with 16 bits.
		return fmt.Errorf("iso9660: %d directories, the path table can number %d", len(dirs), 0xFFFF)
	}
	for i, d := range dirs {
		d.number = i + 1
	}
	pathTable, jPathTable := pathTableSize(dirs, false), pathTableSize(dirs, true)

	// Lay out the sectors.
	next := uint32(systemArea)
	next++ // primary volume descriptor
	if boot != nil {
		next++ // El Torito boot record
	}
	next++ // Joliet supplementary volume descriptor
	next++ // terminator
	catalogAt := uint32(0)
	if boot != nil {
		catalogAt = next
		next++
	}
	lTable := next
	next += sectors(int64(pathTable))
	mTable := next
	next += sectors(int64(pathTable))
	jLTable := next
	next += sectors(int64(jPathTable))
	jMTable := next
	next += sectors(int64(jPathTable))
	b := &builder{ts: opts.Time, rr: newRockRidge(opts.Time)}
	for _, d := range dirs {
		d.dirSize = b.dirBytes(d, false)
		d.extent = next
		next += d.dirSize / sectorSize
	}
	for _, d := range dirs {
		d.jDirSize = b.dirBytes(d, true)
		d.jExtent = next
		next += d.jDirSize / sectorSize
	}
	ceFirst := next
	next = b.rr.layout(ceFirst)
	ceEnd := next
	var files []*node
	walk(root, func(n *node) {
		if !n.dir && n.link == "" && n.size > 0 && n != boot {
			files = append(files, n)
		}
	})
	if boot != nil {
		// Last, so that a boot image too large for the catalog's 16-bit
		// sector count (which then says 0) ends where the volume does:
		// EDK2 takes the rest of the volume in that case.
		files = append(files, boot)
	}
	for _, f := range files {
		f.extent = next
		if uint64(next)+uint64(sectors(f.size)) > 0xFFFFFFFF {
			return fmt.Errorf("iso9660: the tree is larger than ISO 9660's 8 TiB")
		}
		next += sectors(f.size)
	}
	total := next

	system := make([]byte, systemArea*sectorSize)
	var gptTail []byte
	if opts.Hybrid {
		if boot == nil {
			return fmt.Errorf("iso9660: a hybrid image needs an EFI boot image")
		}
		var err error
		if gptTail, err = hybridGPT(system, opts, boot, total); err != nil {
			return fmt.Errorf("iso9660: %w", err)
		}
	}

	bw := bufio.NewWriterSize(w, 1<<20)
	out := &sectorWriter{w: bw}
	out.Write(system)
	ts := opts.Time
	out.sector(volumeDescriptor(1, opts, root, total, uint32(pathTable), lTable, mTable, ts))
	if boot != nil {
		out.sector(bootRecord(catalogAt))
	}
	out.sector(volumeDescriptor(2, opts, root, total, uint32(jPathTable), jLTable, jMTable, ts))
	term := make([]byte, sectorSize)
	term[0] = 255
	copy(term[1:], "CD001\x01")
	out.sector(term)
	if boot != nil {
		out.sector(bootCatalog(boot))
	}
	for _, joliet := range []bool{false, true} {
		for _, bigEndian := range []bool{false, true} {
			out.padded(pathTableBytes(dirs, joliet, bigEndian))
		}
	}
	for _, joliet := range []bool{false, true} {
		for _, d := range dirs {
			out.Write(b.dirRecords(d, joliet))
		}
	}
	out.Write(b.rr.bytes(ceFirst, ceEnd))
	if out.err != nil {
		return fmt.Errorf("iso9660: %w", out.err)
	}
	for _, f := range files {
		if err := ctx.Err(); err != nil {
			return err
		}
		if err := copyFile(fsys, f, out); err != nil {
			return fmt.Errorf("iso9660: %w", err)
		}
	}
	if out.err == nil && out.n != int64(total)*sectorSize {
		out.err = fmt.Errorf("wrote %d bytes, laid out %d sectors", out.n, total)
	}
	out.Write(gptTail)
	if out.err != nil {
		return fmt.Errorf("iso9660: %w", out.err)
	}
	if err := bw.Flush(); err != nil {
		return fmt.Errorf("iso9660: %w", err)
	}
	return nil
}

func sectors(n int64) uint32 { return uint32((n + sectorSize - 1) / sectorSize) }

func find(root *node, p string) *node {
	n := root
	for _, part := range strings.Split(path.Clean(p), "/") {
		var next *node
		for _, c := range n.children {
			if c.name == part {
				next = c
			}
		}
		if next == nil {
			return nil
		}
		n = next
	}
	return n
}

func walk(n *node, fn func(*node)) {
	fn(n)
	for _, c := range n.children {
		walk(c, fn)
	}
}

// breadthFirst lists the directories in path table order: by depth, then
// by parent, then by identifier (children are kept sorted).
func breadthFirst(root *node) []*node {
	out := []*node{root}
	for i := 0; i < len(out); i++ {
		for _, c := range out[i].children {
			if c.dir {
				out = append(out, c)
			}
		}
	}
	return out
}

type sectorWriter struct {
	w   io.Writer
	n   int64
	err error
}

func (s *sectorWriter) Write(p []byte) (int, error) {
	if s.err != nil {
		return 0, s.err
	}
	n, err := s.w.Write(p)
	s.n += int64(n)
	s.err = err
	return n, err
}

func (s *sectorWriter) sector(b []byte) { s.Write(b) }
func (s *sectorWriter) zeros(n int)     { s.Write(make([]byte, n*sectorSize)) }

// padded writes b and zeros up to the next sector boundary.
func (s *sectorWriter) padded(b []byte) {
	s.Write(b)
	if r := len(b) % sectorSize; r != 0 {
		s.Write(make([]byte, sectorSize-r))
	}
}

func copyFile(fsys fs.FS, n *node, out *sectorWriter) error {
	f, err := fsys.Open(n.path)
	if err != nil {
		return err
	}
	defer f.Close()
	c, err := io.Copy(out, io.LimitReader(f, n.size+1))
	if err != nil {
		return fmt.Errorf("copying %s: %w", n.path, err)
	}
	if c != n.size {
		return fmt.Errorf("%s changed size while being written (%d bytes, then %d)", n.path, n.size, c)
	}
	if r := n.size % sectorSize; r != 0 {
		out.Write(make([]byte, sectorSize-r))
	}
	return out.err
}

// readTree fills n's children from fsys and gives them their identifiers.
func readTree(ctx context.Context, fsys fs.FS, n *node) error {
	if err := ctx.Err(); err != nil {
		return err
	}
	ents, err := fs.ReadDir(fsys, n.path)
	if err != nil {
		return err
	}
	for _, e := range ents {
		p := path.Join(n.path, e.Name())
		c := &node{path: p, name: e.Name(), parent: n}
		info, err := e.Info()
		if err != nil {
			return err
		}
		c.mode = info.Mode()
		switch {
		case e.IsDir():
			c.dir = true
		case e.Type()&fs.ModeSymlink != 0:
			if c.link, err = fs.ReadLink(fsys, p); err != nil {
				return err
			}
			if c.link == "" {
				return fmt.Errorf("%s is a symlink to nothing", p)
			}
			if c.slEntries, err = sl(c.link); err != nil {
				return fmt.Errorf("%s: %w", p, err)
			}
		case e.Type().IsRegular():
			c.size = info.Size()
			if c.size > 0xFFFFFFFF {
				return fmt.Errorf("%s is %d bytes, over the 4 GiB a single extent can hold", p, c.size)
			}
		default:
			return fmt.Errorf("%s is a %v; the image holds only files, directories and symlinks", p, e.Type())
		}
		n.children = append(n.children, c)
	}
	assignISONames(n.children)
	assignJolietNames(n.children)
	for _, c := range n.children {
		if c.dir {
			if err := readTree(ctx, fsys, c); err != nil {
				return err
			}
		}
	}
	return nil
}

// assignJolietNames gives siblings unique Joliet identifiers: the name
// in UCS-2 with the characters Joliet forbids mapped to '_', cut to 64
// units (keeping a short extension) where it is longer. Rock Ridge keeps
// the real name in any case.
func assignJolietNames(children []*node) {
	taken := map[string]bool{}
	for _, c := range children {
		u := utf16.Encode([]rune(c.name))
		for i, r := range u {
			if r < 0x20 || strings.ContainsRune(`*/:;?\`, rune(r)) {
				u[i] = '_'
			}
		}
		base, ext := u, []uint16(nil)
		if i := lastDot(u); i > 0 && len(u)-i <= 16 {
			base, ext = u[:i], u[i:]
		}
		try := func(tail string) []uint16 {
			t := utf16.Encode([]rune(tail))
			b := base
			if n := maxJolietName - len(ext) - len(t); len(b) > n {
				b = b[:n]
			}
			return append(append(append([]uint16(nil), b...), t...), ext...)
		}
		name := try("")
		for i := 1; taken[string(utf16.Decode(name))]; i++ {
			name = try(fmt.Sprint("_", i))
		}
		taken[string(utf16.Decode(name))] = true
		c.jName = make([]byte, 2*len(name))
		for i, r := range name {
			binary.BigEndian.PutUint16(c.jName[2*i:], r)
		}
	}
}

func lastDot(u []uint16) int {
	for i := len(u) - 1; i >= 0; i-- {
		if u[i] == '.' {
			return i
		}
	}
	return -1
}

// dChars maps s to ISO 9660 d-characters (A–Z, 0–9, _).
func dChars(s string) string {
	var b strings.Builder
	for _, r := range strings.ToUpper(s) {
		if r >= 'A' && r <= 'Z' || r >= '0' && r <= '9' || r == '_' {
			b.WriteRune(r)
		} else {
			b.WriteByte('_')
		}
	}
	return b.String()
}

// assignISONames gives siblings unique primary identifiers, replacing
// the end of a name with a counter where truncation made two the same.
func assignISONames(children []*node) {
	taken := map[string]bool{}
	for _, c := range children {
		base, ext := c.name, ""
		if !c.dir {
			if i := strings.LastIndexByte(c.name, '.'); i > 0 {
				base, ext = c.name[:i], c.name[i+1:]
			}
		}
		base, ext = dChars(base), dChars(ext)
		if len(ext) > 8 {
			ext = ext[:8]
		}
		limit := maxISOName - len(ext)
		if c.dir {
			limit = maxISOName + 1
		}
		ident := func(b string) string {
			if c.dir {
				return b
			}
			return b + "." + ext + ";1"
		}
		b := base
		if len(b) > limit {
			b = b[:limit]
		}
		for i := 1; taken[ident(b)]; i++ {
			tail := fmt.Sprint("_", i)
			b = base
			if len(b) > limit-len(tail) {
				b = b[:limit-len(tail)]
			}
			b += tail
		}
		c.isoName = ident(b)
		taken[c.isoName] = true
	}
}

// sortedChildren returns n's children in the order of the tree's
// directory records: ISO 9660 orders by identifier, name then extension,
// each padded with spaces; Joliet by the UCS-2 identifier.
func sortedChildren(n *node, joliet bool) []*node {
	cs := append([]*node(nil), n.children...)
	if joliet {
		sort.Slice(cs, func(i, j int) bool { return string(cs[i].jName) < string(cs[j].jName) })
		return cs
	}
	key := func(c *node) string {
		id := strings.TrimSuffix(c.isoName, ";1")
		name, ext, _ := strings.Cut(id, ".")
		return fmt.Sprintf("%-31s%-8s", name, ext)
	}
	sort.Slice(cs, func(i, j int) bool { return key(cs[i]) < key(cs[j]) })
	return cs
}

func recordLen(idLen int) int {
	n := 33 + idLen
	return n + n%2
}

func ident(c *node, joliet bool) []byte {
	if joliet {
		return c.jName
	}
	return []byte(c.isoName)
}

// dirBytes returns the size of n's directory, in whole sectors.
func (b *builder) dirBytes(n *node, joliet bool) uint32 {
	return uint32(len(b.dirRecords(n, joliet)))
}

func both32(b []byte, v uint32) {
	binary.LittleEndian.PutUint32(b, v)
	binary.BigEndian.PutUint32(b[4:], v)
}

func both16(b []byte, v uint16) {
	binary.LittleEndian.PutUint16(b, v)
	binary.BigEndian.PutUint16(b[2:], v)
}

func recordDate(b []byte, t time.Time) {
	t = t.UTC()
	if t.Year() < 1900 || t.Year() > 2155 {
		t = time.Date(1980, 1, 1, 0, 0, 0, 0, time.UTC)
	}
	b[0] = byte(t.Year() - 1900)
	b[1], b[2] = byte(t.Month()), byte(t.Day())
	b[3], b[4], b[5] = byte(t.Hour()), byte(t.Minute()), byte(t.Second())
	b[6] = 0 // GMT
}

func record(id []byte, extent, size uint32, dir bool, ts time.Time) []byte {
	r := make([]byte, recordLen(len(id)))
	r[0] = byte(len(r))
	both32(r[2:], extent)
	both32(r[10:], size)
	recordDate(r[18:], ts)
	if dir {
		r[25] = flagDir
	}
	both16(r[28:], 1)
	r[32] = byte(len(id))
	copy(r[33:], id)
	return r
}

// builder holds what directory records depend on besides the tree.
type builder struct {
	ts time.Time
	rr *rockRidge
}

// dirRecords returns n's directory: ".", "..", then the children, in
// whole sectors; records may not cross a sector boundary. The primary
// tree's records carry Rock Ridge fields; the Joliet tree has no symlinks.
func (b *builder) dirRecords(n *node, joliet bool) []byte {
	extent, size := n.extent, n.dirSize
	pExtent, pSize := n.parent.extent, n.parent.dirSize
	if joliet {
		extent, size = n.jExtent, n.jDirSize
		pExtent, pSize = n.parent.jExtent, n.parent.jDirSize
	}
	var buf []byte
	add := func(r []byte) {
		if used := len(buf) % sectorSize; used+len(r) > sectorSize {
			buf = append(buf, make([]byte, sectorSize-used)...)
		}
		buf = append(buf, r...)
	}
	rec := func(c *node, w which, id []byte, extent, size uint32, dir bool) []byte {
		if joliet {
			return record(id, extent, size, dir, b.ts)
		}
		return recordSU(id, extent, size, dir, b.ts, b.rr.systemUse(c, w, len(id)))
	}
	add(rec(n, asDot, []byte{0}, extent, size, true))
	add(rec(n, asDotDot, []byte{1}, pExtent, pSize, true))
	for _, c := range sortedChildren(n, joliet) {
		switch {
		case c.link != "" && joliet:
		case c.dir && joliet:
			add(rec(c, asChild, ident(c, joliet), c.jExtent, c.jDirSize, true))
		case c.dir:
			add(rec(c, asChild, ident(c, joliet), c.extent, c.dirSize, true))
		case c.link != "":
			add(rec(c, asChild, ident(c, joliet), 0, 0, false))
		default:
			add(rec(c, asChild, ident(c, joliet), c.extent, uint32(c.size), false))
		}
	}
	if r := len(buf) % sectorSize; r != 0 || len(buf) == 0 {
		buf = append(buf, make([]byte, sectorSize-r)...)
	}
	return buf
}

func pathTableSize(dirs []*node, joliet bool) int {
	n := 0
	for _, d := range dirs {
		l := 1
		if d.number != 1 {
			l = len(ident(d, joliet))
		}
		n += 8 + l + l%2
	}
	return n
}

func pathTableBytes(dirs []*node, joliet, bigEndian bool) []byte {
	var buf []byte
	for _, d := range dirs {
		id := []byte{0}
		if d.number != 1 {
			id = ident(d, joliet)
		}
		r := make([]byte, 8+len(id)+len(id)%2)
		r[0] = byte(len(id))
		extent := d.extent
		if joliet {
			extent = d.jExtent
		}
		if bigEndian {
			binary.BigEndian.PutUint32(r[2:], extent)
			binary.BigEndian.PutUint16(r[6:], uint16(d.parent.number))
		} else {
			binary.LittleEndian.PutUint32(r[2:], extent)
			binary.LittleEndian.PutUint16(r[6:], uint16(d.parent.number))
		}
		copy(r[8:], id)
		buf = append(buf, r...)
	}
	return buf
}

// field writes s into b, padded with spaces; UCS-2 big-endian for Joliet.
func field(b []byte, s string, joliet bool) {
	if !joliet {
		for i := range b {
			b[i] = ' '
		}
		copy(b, s)
		return
	}
	for i := 0; i+1 < len(b); i += 2 {
		b[i], b[i+1] = 0, ' '
	}
	u := utf16.Encode([]rune(s))
	for i := 0; i < len(u) && 2*i+1 < len(b); i++ {
		binary.BigEndian.PutUint16(b[2*i:], u[i])
	}
}

func vdDate(b []byte, t time.Time, zero bool) {
	if zero {
		copy(b, "0000000000000000")
		b[16] = 0
		return
	}
	t = t.UTC()
	copy(b, fmt.Sprintf("%04d%02d%02d%02d%02d%02d%02d", t.Year(), int(t.Month()), t.Day(), t.Hour(), t.Minute(), t.Second(), t.Nanosecond()/1e7))
	b[16] = 0
}

// volumeDescriptor returns the primary (1) or Joliet supplementary (2)
// volume descriptor.
func volumeDescriptor(typ byte, opts Options, root *node, total, ptSize, lTable, mTable uint32, ts time.Time) []byte {
	joliet := typ == 2
	b := make([]byte, sectorSize)
	b[0] = typ
	copy(b[1:], "CD001\x01")
	field(b[8:40], "", joliet)
	vol := dChars(opts.VolumeID)
	if joliet {
		vol = opts.VolumeID
	}
	field(b[40:72], vol, joliet)
	both32(b[80:], total)
	if joliet {
		copy(b[88:], "%/E") // UCS-2 level 3
	}
	both16(b[120:], 1)
	both16(b[124:], 1)
	both16(b[128:], sectorSize)
	both32(b[132:], ptSize)
	binary.LittleEndian.PutUint32(b[140:], lTable)
	binary.BigEndian.PutUint32(b[148:], mTable)
	extent, size := root.extent, root.dirSize
	if joliet {
		extent, size = root.jExtent, root.jDirSize
	}
	copy(b[156:190], record([]byte{0}, extent, size, true, ts))
	field(b[190:318], "", joliet)
	field(b[318:446], "", joliet)
	field(b[446:574], "", joliet)
	field(b[574:702], "DEBATOM", joliet)
	field(b[702:739], "", joliet)
	field(b[739:776], "", joliet)
	field(b[776:813], "", joliet)
	vdDate(b[813:], ts, false)
	vdDate(b[830:], ts, false)
	vdDate(b[847:], ts, true)
	vdDate(b[864:], ts, true)
	b[881] = 1
	return b
}

// bootRecord is the El Torito boot record volume descriptor.
func bootRecord(catalog uint32) []byte {
	b := make([]byte, sectorSize)
	copy(b[1:], "CD001\x01")
	copy(b[7:], "EL TORITO SPECIFICATION")
	binary.LittleEndian.PutUint32(b[71:], catalog)
	return b
}

// bootCatalog holds a validation entry for the EFI platform and a
// bootable no-emulation default entry for the FAT image.
func bootCatalog(boot *node) []byte {
	b := make([]byte, sectorSize)
	v := b[0:32]
	v[0] = 0x01
	v[1] = 0xEF // EFI
	copy(v[4:28], "DEBATOM")
	v[30], v[31] = 0x55, 0xAA
	var sum uint16
	for i := 0; i < 32; i += 2 {
		sum += binary.LittleEndian.Uint16(v[i:])
	}
	binary.LittleEndian.PutUint16(v[28:], -sum)

	e := b[32:64]
	e[0] = 0x88 // bootable
	e[1] = 0x00 // no emulation
	count := (boot.size + 511) / 512
	if count > 0xFFFF {
		count = 0 // too large to say: firmware takes the rest of the volume
	}
	binary.LittleEndian.PutUint16(e[6:], uint16(count))
	binary.LittleEndian.PutUint32(e[8:], boot.extent)
	return b
}

// gptTailSectors is how many 2048-byte sectors after the ISO volume hold
// the backup GPT: its 33 512-byte sectors, rounded up.
const gptTailSectors = (33*gpt.SectorSize + sectorSize - 1) / sectorSize

// hybridGPT writes a protective MBR and primary GPT into the system area
// and returns the sectors to append, which hold the backup GPT. The one
// partition is the boot image, typed EFI System, where the firmware of a
// USB boot looks for \EFI\BOOT\BOOTX64.EFI.
func hybridGPT(system []byte, opts Options, boot *node, total uint32) ([]byte, error) {
	tailStart := int64(total) * sectorSize
	disk := &splitDisk{head: system, tail: make([]byte, gptTailSectors*sectorSize), tailAt: tailStart}
	diskSize := tailStart + int64(len(disk.tail))
	id := opts.DiskGUID
	if id.IsZero() {
		id = gpt.DeriveGUID("debatom/iso9660/" + opts.VolumeID)
	}
	first := uint64(boot.extent) * (sectorSize / gpt.SectorSize)
	table := gpt.Table{
		DiskGUID: id,
		Partitions: []gpt.Partition{{
			Type:     gpt.TypeEFISystem,
			GUID:     gpt.DeriveGUID(id.String() + "/esp"),
			Name:     "EFI System Partition",
			FirstLBA: first,
			LastLBA:  first + uint64((boot.size+gpt.SectorSize-1)/gpt.SectorSize) - 1,
		}},
	}
	if err := gpt.Write(disk, diskSize, table); err != nil {
		return nil, err
	}
	return disk.tail, nil
}

// splitDisk is an io.WriterAt over the two parts of a disk that the GPT
// writer touches: its start and its end.
type splitDisk struct {
	head, tail []byte
	tailAt     int64
}

func (d *splitDisk) WriteAt(p []byte, off int64) (int, error) {
	switch {
	case off+int64(len(p)) <= int64(len(d.head)):
		return copy(d.head[off:], p), nil
	case off >= d.tailAt && off+int64(len(p)) <= d.tailAt+int64(len(d.tail)):
		return copy(d.tail[off-d.tailAt:], p), nil
	}
	return 0, fmt.Errorf("GPT write at %d+%d falls outside the system area and the tail", off, len(p))
}
