package ext4

import (
	"errors"
	"fmt"
	"io"
	"strings"
)

// Reader reads an ext4 image far enough to check what was written: the
// superblock, inodes, directories (linear or hashed, read linearly), file
// contents through extents, symlinks and extended attributes. It treats
// the image as hostile: every offset is bounds-checked, and a malformed
// image gives an error, never a panic or an unbounded allocation.
type Reader struct {
	r         io.ReaderAt
	blocks    uint64
	bsize     uint64
	ipg       uint32
	inodes    uint32
	inodeSize uint32
	descSize  uint32
	groups    uint32
	csumSeed  uint32
	csum      bool
	gdtOff    uint64 // descriptors are read one at a time, when needed
	// Label and UUID as stored in the superblock.
	Label string
	UUID  [16]byte
}

// maxReadBytes bounds what the reader will hold in memory for one
// directory, symlink or attribute block.
const maxReadBytes = 64 << 20

// NewReader parses the superblock and group descriptors of the image in r.
func NewReader(r io.ReaderAt) (*Reader, error) {
	sb := make([]byte, 1024)
	if _, err := r.ReadAt(sb, 1024); err != nil {
		return nil, fmt.Errorf("ext4: reading superblock: %w", err)
	}
	if get16(sb, 0x38) != sbMagic {
		return nil, fmt.Errorf("ext4: bad superblock magic %#x", get16(sb, 0x38))
	}
	rd := &Reader{r: r}
	lbs := get32(sb, 0x18)
	if lbs > 6 {
		return nil, fmt.Errorf("ext4: block size 1024<<%d out of range", lbs)
	}
	rd.bsize = 1024 << lbs
	rd.blocks = uint64(get32(sb, 0x04))
	incompat := get32(sb, 0x60)
	if incompat&incompat64bit != 0 {
		rd.blocks |= uint64(get32(sb, 0x150)) << 32
	}
	bpg := uint64(get32(sb, 0x20))
	rd.ipg = get32(sb, 0x28)
	rd.inodes = get32(sb, 0x00)
	rd.inodeSize = 128
	if get32(sb, 0x4C) >= 1 {
		rd.inodeSize = uint32(get16(sb, 0x58))
	}
	if rd.inodeSize < 128 || rd.inodeSize > uint32(rd.bsize) || rd.inodeSize&(rd.inodeSize-1) != 0 {
		return nil, fmt.Errorf("ext4: inode size %d invalid", rd.inodeSize)
	}
	if bpg == 0 || bpg > 8*rd.bsize || rd.ipg == 0 || rd.ipg > uint32(8*rd.bsize) || rd.blocks == 0 {
		return nil, fmt.Errorf("ext4: bad geometry: %d blocks, %d blocks and %d inodes per group", rd.blocks, bpg, rd.ipg)
	}
	groups := (rd.blocks + bpg - 1) / bpg
	if uint64(rd.inodes) > groups*uint64(rd.ipg) || groups > 1<<24 {
		return nil, fmt.Errorf("ext4: %d inodes do not fit %d groups of %d", rd.inodes, groups, rd.ipg)
	}
	rd.groups = uint32(groups)
	rd.descSize = 32
	if incompat&incompat64bit != 0 {
		rd.descSize = uint32(get16(sb, 0xFE))
		if rd.descSize < 32 || rd.descSize > 1024 || rd.descSize&(rd.descSize-1) != 0 {
			return nil, fmt.Errorf("ext4: descriptor size %d invalid", rd.descSize)
		}
	}
	rd.Label = strings.TrimRight(string(sb[0x78:0x88]), "\x00")
	copy(rd.UUID[:], sb[0x68:0x78])
	if get32(sb, 0x64)&roCompatMetadataCsum != 0 {
		rd.csum = true
		if got, want := get32(sb, 0x3FC), crc32c(^uint32(0), sb[:0x3FC]); got != want {
			return nil, fmt.Errorf("ext4: superblock checksum %#x, want %#x", got, want)
		}
		rd.csumSeed = crc32c(^uint32(0), rd.UUID[:])
	}
	rd.gdtOff = uint64(get32(sb, 0x14)+1) * rd.bsize
	return rd, nil
}

// Inode is one inode as read.
type Inode struct {
	Ino   uint32
	Mode  uint32 // full st_mode, type bits included
	UID   uint32
	GID   uint32
	Size  uint64
	Links uint16
	Flags uint32
	raw   []byte
}

// IsDir reports whether the inode is a directory.
func (in *Inode) IsDir() bool { return in.Mode&0o170000 == sIFDIR }

// IsRegular reports whether the inode is a regular file.
func (in *Inode) IsRegular() bool { return in.Mode&0o170000 == sIFREG }

// IsSymlink reports whether the inode is a symbolic link.
func (in *Inode) IsSymlink() bool { return in.Mode&0o170000 == sIFLNK }

// Inode reads inode ino, checking its checksum when the image has them.
func (r *Reader) Inode(ino uint32) (*Inode, error) {
	if ino == 0 || ino > r.inodes {
		return nil, fmt.Errorf("ext4: inode %d out of range 1..%d", ino, r.inodes)
	}
	grp := (ino - 1) / r.ipg
	d := make([]byte, r.descSize)
	if _, err := r.r.ReadAt(d, int64(r.gdtOff+uint64(grp)*uint64(r.descSize))); err != nil {
		return nil, fmt.Errorf("ext4: reading group descriptor %d: %w", grp, err)
	}
	table := uint64(get32(d, 0x08))
	if r.descSize >= 64 {
		table |= uint64(get32(d, 0x28)) << 32
	}
	off := table*r.bsize + uint64((ino-1)%r.ipg)*uint64(r.inodeSize)
	if table >= r.blocks || off/r.bsize >= r.blocks {
		return nil, fmt.Errorf("ext4: inode %d: table block %d outside the image", ino, table)
	}
	raw := make([]byte, r.inodeSize)
	if _, err := r.r.ReadAt(raw, int64(off)); err != nil {
		return nil, fmt.Errorf("ext4: reading inode %d: %w", ino, err)
	}
	in := &Inode{
		Ino:   ino,
		Mode:  uint32(get16(raw, 0x00)),
		UID:   uint32(get16(raw, 0x02)) | uint32(get16(raw, 0x78))<<16,
		GID:   uint32(get16(raw, 0x18)) | uint32(get16(raw, 0x7A))<<16,
		Size:  uint64(get32(raw, 0x04)) | uint64(get32(raw, 0x6C))<<32,
		Links: get16(raw, 0x1A),
		Flags: get32(raw, 0x20),
		raw:   raw,
	}
	if r.csum && !allZero(raw) {
		// The checksum covers the inode with its checksum fields zeroed;
		// the high half exists only when the extra fields reach it.
		seed := crc32c(crc32c(r.csumSeed, le32(ino)), raw[0x64:0x68])
		c := crc32c(seed, raw[:0x7C])
		c = crc32c(c, []byte{0, 0})
		c = crc32c(c, raw[0x7E:0x80])
		want := uint32(get16(raw, 0x7C))
		hasHi := false
		if r.inodeSize > 128 {
			extra := uint32(get16(raw, 0x80))
			if 128+extra > r.inodeSize {
				return nil, fmt.Errorf("ext4: inode %d: extra size %d too large", ino, extra)
			}
			c = crc32c(c, raw[0x80:0x82])
			if extra >= 4 {
				hasHi = true
				c = crc32c(c, []byte{0, 0})
				c = crc32c(c, raw[0x84:])
				want |= uint32(get16(raw, 0x82)) << 16
			} else {
				c = crc32c(c, raw[0x82:])
			}
		}
		if !hasHi {
			c &= 0xFFFF
		}
		if c != want {
			return nil, fmt.Errorf("ext4: inode %d: checksum %#x, want %#x", ino, want, c)
		}
	}
	return in, nil
}

func allZero(b []byte) bool {
	for _, c := range b {
		if c != 0 {
			return false
		}
	}
	return true
}

// extents returns the inode's extent list (leaves of its tree), sorted by
// logical block as stored.
func (r *Reader) extents(in *Inode) ([]extent, error) {
	if in.Flags&inodeFlagExtents == 0 {
		return nil, fmt.Errorf("ext4: inode %d does not use extents", in.Ino)
	}
	var out []extent
	visits := 0
	var walk func(node []byte, depth int) error
	walk = func(node []byte, depth int) error {
		if visits++; visits > 4096 {
			return fmt.Errorf("ext4: inode %d: extent tree too large", in.Ino)
		}
		if len(node) < 12 || get16(node, 0) != extentMagic {
			return fmt.Errorf("ext4: inode %d: bad extent header", in.Ino)
		}
		n := int(get16(node, 2))
		d := int(get16(node, 6))
		if d != depth || 12+12*n > len(node) {
			return fmt.Errorf("ext4: inode %d: extent node of depth %d, %d entries, inconsistent", in.Ino, d, n)
		}
		for i := 0; i < n; i++ {
			e := node[12+12*i:]
			if depth == 0 {
				x := extent{logical: get32(e, 0), length: uint32(get16(e, 4)),
					phys: uint64(get16(e, 6))<<32 | uint64(get32(e, 8))}
				if x.phys+uint64(x.length&0x7FFF) > r.blocks {
					return fmt.Errorf("ext4: inode %d: extent beyond the image", in.Ino)
				}
				out = append(out, x)
				if len(out) > 1<<20 {
					return fmt.Errorf("ext4: inode %d: too many extents", in.Ino)
				}
				continue
			}
			blk := uint64(get16(e, 8))<<32 | uint64(get32(e, 4))
			if blk >= r.blocks {
				return fmt.Errorf("ext4: inode %d: extent index beyond the image", in.Ino)
			}
			child := make([]byte, r.bsize)
			if _, err := r.r.ReadAt(child, int64(blk*r.bsize)); err != nil {
				return fmt.Errorf("ext4: inode %d: reading extent block: %w", in.Ino, err)
			}
			if err := walk(child, depth-1); err != nil {
				return err
			}
		}
		return nil
	}
	root := in.raw[0x28:0x64]
	depth := int(get16(root, 6))
	if depth > 5 {
		return nil, fmt.Errorf("ext4: inode %d: extent tree depth %d", in.Ino, depth)
	}
	if err := walk(root, depth); err != nil {
		return nil, err
	}
	return out, nil
}

// copyData writes the first n bytes of the inode's data to w; holes and
// unwritten extents read as zeros.
func (r *Reader) copyData(in *Inode, n uint64, w io.Writer) error {
	exts, err := r.extents(in)
	if err != nil {
		return err
	}
	buf := make([]byte, r.bsize)
	var pos uint64 // bytes written
	for _, e := range exts {
		l := uint64(e.length)
		unwritten := l > maxExtentLen
		if unwritten {
			l -= maxExtentLen
		}
		for i := uint64(0); i < l && pos < n; i++ {
			lb := (uint64(e.logical) + i) * r.bsize
			if lb < pos {
				return fmt.Errorf("ext4: inode %d: extents overlap or are out of order", in.Ino)
			}
			for pos < lb && pos < n { // hole
				k := min(n-pos, lb-pos, r.bsize)
				clear(buf)
				if _, err := w.Write(buf[:k]); err != nil {
					return err
				}
				pos += k
			}
			if pos >= n {
				break
			}
			if unwritten {
				clear(buf)
			} else if _, err := r.r.ReadAt(buf, int64((e.phys+i)*r.bsize)); err != nil {
				return fmt.Errorf("ext4: inode %d: reading data: %w", in.Ino, err)
			}
			k := min(n-pos, r.bsize)
			if _, err := w.Write(buf[:k]); err != nil {
				return err
			}
			pos += k
		}
	}
	clear(buf)
	for pos < n {
		k := min(n-pos, r.bsize)
		if _, err := w.Write(buf[:k]); err != nil {
			return err
		}
		pos += k
	}
	return nil
}

// ReadFile writes a regular file's contents to w.
func (r *Reader) ReadFile(in *Inode, w io.Writer) error {
	if !in.IsRegular() {
		return fmt.Errorf("ext4: inode %d is not a regular file", in.Ino)
	}
	return r.copyData(in, in.Size, w)
}

type limitedBuffer struct {
	b   []byte
	max int
}

func (l *limitedBuffer) Write(p []byte) (int, error) {
	if len(l.b)+len(p) > l.max {
		return 0, errors.New("too large")
	}
	l.b = append(l.b, p...)
	return len(p), nil
}

func (r *Reader) readSmall(in *Inode) ([]byte, error) {
	if in.Size > maxReadBytes {
		return nil, fmt.Errorf("ext4: inode %d: %d bytes is too large to read", in.Ino, in.Size)
	}
	lb := &limitedBuffer{max: int(in.Size)}
	if err := r.copyData(in, in.Size, lb); err != nil {
		return nil, err
	}
	return lb.b, nil
}

// Readlink returns a symlink's target.
func (r *Reader) Readlink(in *Inode) (string, error) {
	if !in.IsSymlink() {
		return "", fmt.Errorf("ext4: inode %d is not a symlink", in.Ino)
	}
	if in.Flags&inodeFlagExtents == 0 {
		if in.Size >= 60 {
			return "", fmt.Errorf("ext4: inode %d: fast symlink of %d bytes", in.Ino, in.Size)
		}
		return string(in.raw[0x28 : 0x28+in.Size]), nil
	}
	b, err := r.readSmall(in)
	return string(b), err
}

// DirEntry is one name in a directory.
type DirEntry struct {
	Name string
	Ino  uint32
	Type uint8 // 1 regular file, 2 directory, 7 symlink (EXT4_FT_*)
}

// ReadDir lists a directory, "." and ".." included, in on-disk order.
// Hashed directories are read linearly: their index blocks look like
// blocks of unused entries.
func (r *Reader) ReadDir(in *Inode) ([]DirEntry, error) {
	if !in.IsDir() {
		return nil, fmt.Errorf("ext4: inode %d is not a directory", in.Ino)
	}
	data, err := r.readSmall(in)
	if err != nil {
		return nil, err
	}
	var out []DirEntry
	bs := int(r.bsize)
	for blk := 0; blk+bs <= len(data); blk += bs {
		b := data[blk : blk+bs]
		for off := 0; off < bs; {
			if off+8 > bs {
				return nil, fmt.Errorf("ext4: directory %d: entry header crosses a block", in.Ino)
			}
			ino := get32(b, off)
			rl := int(get16(b, off+4))
			nl := int(b[off+6])
			if rl < 8 || rl%4 != 0 || off+rl > bs || 8+nl > rl {
				return nil, fmt.Errorf("ext4: directory %d: bad entry at block %d offset %d", in.Ino, blk/bs, off)
			}
			if ino != 0 && nl > 0 {
				out = append(out, DirEntry{Name: string(b[off+8 : off+8+nl]), Ino: ino, Type: b[off+7]})
			}
			off += rl
		}
	}
	return out, nil
}

// Lookup resolves a slash-separated path from the root, without following
// symlinks.
func (r *Reader) Lookup(path string) (*Inode, error) {
	in, err := r.Inode(rootIno)
	if err != nil {
		return nil, err
	}
	for _, c := range strings.Split(path, "/") {
		if c == "" || c == "." {
			continue
		}
		ents, err := r.ReadDir(in)
		if err != nil {
			return nil, fmt.Errorf("ext4: looking up %s: %w", path, err)
		}
		found := uint32(0)
		for _, e := range ents {
			if e.Name == c {
				found = e.Ino
				break
			}
		}
		if found == 0 {
			return nil, fmt.Errorf("ext4: %s: %q not found", path, c)
		}
		if in, err = r.Inode(found); err != nil {
			return nil, err
		}
	}
	return in, nil
}

// Xattrs returns the inode's extended attributes, from the inode and from
// its attribute block, with full names.
func (r *Reader) Xattrs(in *Inode) ([]Xattr, error) {
	var out []Xattr
	if r.inodeSize > 128 {
		extra := int(get16(in.raw, 0x80))
		start := 128 + extra
		if start+4 <= len(in.raw) && get32(in.raw, start) == xattrMagic {
			xs, err := parseXattrs(in.raw[start+4:], in.raw[start+4:])
			if err != nil {
				return nil, fmt.Errorf("ext4: inode %d: %w", in.Ino, err)
			}
			out = append(out, xs...)
		}
	}
	blk := uint64(get32(in.raw, 0x68)) | uint64(get16(in.raw, 0x76))<<32
	if blk != 0 {
		if blk >= r.blocks {
			return nil, fmt.Errorf("ext4: inode %d: attribute block %d beyond the image", in.Ino, blk)
		}
		b := make([]byte, r.bsize)
		if _, err := r.r.ReadAt(b, int64(blk*r.bsize)); err != nil {
			return nil, fmt.Errorf("ext4: inode %d: reading attribute block: %w", in.Ino, err)
		}
		if get32(b, 0) != xattrMagic {
			return nil, fmt.Errorf("ext4: inode %d: bad attribute block magic", in.Ino)
		}
		xs, err := parseXattrs(b[32:], b)
		if err != nil {
			return nil, fmt.Errorf("ext4: inode %d: attribute block: %w", in.Ino, err)
		}
		out = append(out, xs...)
	}
	return out, nil
}

// parseXattrs reads entries from region until the 4-byte end marker;
// value offsets index base.
func parseXattrs(region, base []byte) ([]Xattr, error) {
	var out []Xattr
	for off := 0; ; {
		if off+4 > len(region) {
			return nil, errors.New("attribute entries run past their region")
		}
		if get32(region, off) == 0 {
			return out, nil
		}
		if off+16 > len(region) {
			return nil, errors.New("attribute entry truncated")
		}
		nl := int(region[off])
		idx := region[off+1]
		voff := int(get16(region, off+2))
		vsize := int(get32(region, off+8))
		if off+16+nl > len(region) || voff+vsize > len(base) || vsize < 0 {
			return nil, errors.New("attribute entry out of bounds")
		}
		prefix := ""
		for _, p := range xattrPrefixes {
			if p.index == idx {
				prefix = p.prefix
			}
		}
		if prefix == "" {
			return nil, fmt.Errorf("attribute name index %d unknown", idx)
		}
		v := append([]byte(nil), base[voff:voff+vsize]...)
		if idx == 2 || idx == 3 {
			var err error
			if v, err = aclFromDisk(v); err != nil {
				return nil, fmt.Errorf("attribute %s: %w", prefix, err)
			}
		}
		out = append(out, Xattr{Name: prefix + string(region[off+16:off+16+nl]), Value: v})
		off += pad4(16 + nl)
	}
}
