package ext4

import (
	"encoding/binary"
	"errors"
	"fmt"
	"math"
	"sort"
	"time"
)

// errTooSmall is wrapped by layout when the tree does not fit.
var errTooSmall = errors.New("image too small")

type span struct{ start, end uint64 } // [start, end) in blocks

type extent struct {
	logical uint32
	phys    uint64
	length  uint32
}

// inodeLayout is where one inode's blocks went and what its metadata
// blocks hold.
type inodeLayout struct {
	extents []extent
	leaves  []uint64 // extent tree leaf blocks when more than 4 extents
	data    []byte   // directory or slow-symlink content, written as is
	nblocks uint64   // data blocks (file content or data)
	inX     []xentry // attributes stored in the inode
	xblock  *xattrBlock
	indexed bool
}

type xattrBlock struct {
	es    []xentry
	users uint32
	blk   uint64
}

// geometry is the shape of the filesystem.
type geometry struct {
	blocks    uint64
	groups    uint32
	ipg       uint32 // inodes per group
	itb       uint32 // inode table blocks per group
	gdtBlocks uint32
	journal   uint32
}

func hasSuper(g uint32) bool {
	if g <= 1 {
		return true
	}
	for _, p := range []uint32{3, 5, 7} {
		n := p
		for n < g {
			n *= p
		}
		if n == g {
			return true
		}
	}
	return false
}

// defaultJournal is e2fsprogs' ext2fs_default_journal_size for 4K blocks.
func defaultJournal(blocks uint64) uint32 {
	switch {
	case blocks < 32768:
		return 1024
	case blocks < 256*1024:
		return 4096
	case blocks < 512*1024:
		return 8192
	case blocks < 4096*1024:
		return 16384
	case blocks < 8192*1024:
		return 32768
	case blocks < 16384*1024:
		return 65536
	case blocks < 32768*1024:
		return 131072
	}
	return 262144
}

// defaultInodeRatio is mke2fs.conf's inode_ratio for the usage type
// mkfs.ext4 picks from the size: floppy, small, default, big, huge.
func defaultInodeRatio(size uint64) int {
	switch {
	case size < 3<<20:
		return 8192
	case size < 512<<20:
		return 4096
	case size < 4<<40:
		return 16384
	case size < 16<<40:
		return 32768
	}
	return 65536
}

func newGeometry(blocks uint64, inodesNeeded uint64, ratio int, journal int) (geometry, error) {
	var g geometry
	g.blocks = blocks
	g.groups = uint32((blocks + blocksPerGrp - 1) / blocksPerGrp)
	// A last group too small to be worth having is dropped, as mkfs does.
	if rem := blocks % blocksPerGrp; g.groups > 1 && rem != 0 && rem < 256 {
		g.groups--
		g.blocks = uint64(g.groups) * blocksPerGrp
	}
	if g.blocks < 1024 {
		return g, fmt.Errorf("%w: %d blocks, need at least 1024", errTooSmall, g.blocks)
	}
	ipg := uint64(g.blocks) * blockSize / uint64(ratio) / uint64(g.groups)
	if need := (inodesNeeded + uint64(g.groups) - 1) / uint64(g.groups); ipg < need {
		ipg = need
	}
	ipg = (ipg + inodesPerBlk - 1) / inodesPerBlk * inodesPerBlk
	if ipg < inodesPerBlk {
		ipg = inodesPerBlk
	}
	if ipg > blocksPerGrp {
		return g, fmt.Errorf("%w: more than %d inodes per group needed", errTooSmall, blocksPerGrp)
	}
	g.ipg = uint32(ipg)
	g.itb = g.ipg / inodesPerBlk
	g.gdtBlocks = uint32((uint64(g.groups)*descSize + blockSize - 1) / blockSize)
	if journal > 0 {
		g.journal = uint32(journal)
	} else {
		g.journal = defaultJournal(g.blocks)
	}
	return g, nil
}

func (g geometry) groupEnd(grp uint32) uint64 {
	return min(uint64(grp+1)*blocksPerGrp, g.blocks)
}

// allocator hands out blocks in order, stepping over the backup
// superblocks and descriptor tables.
type allocator struct {
	total    uint64
	next     uint64
	reserved []span
	ri       int
	used     []byte // bitmap of every block
}

func newAllocator(g geometry) *allocator {
	a := &allocator{total: g.blocks, used: make([]byte, (g.blocks+7)/8)}
	for grp := uint32(0); grp < g.groups; grp++ {
		if hasSuper(grp) {
			s := uint64(grp) * blocksPerGrp
			sp := span{s, s + 1 + uint64(g.gdtBlocks)}
			a.reserved = append(a.reserved, sp)
			a.mark(sp.start, sp.end-sp.start)
		}
	}
	a.next = a.reserved[0].end
	a.ri = 1
	return a
}

func (a *allocator) mark(start, n uint64) {
	for b := start; b < start+n; b++ {
		a.used[b/8] |= 1 << (b % 8)
	}
}

// alloc returns n blocks as runs; with contiguous set, as one run.
func (a *allocator) alloc(n uint64, contiguous bool) ([]span, error) {
	var runs []span
	for n > 0 {
		limit := a.total
		if a.ri < len(a.reserved) {
			limit = a.reserved[a.ri].start
		}
		if a.next >= limit {
			if a.ri >= len(a.reserved) {
				return nil, fmt.Errorf("%w: out of blocks", errTooSmall)
			}
			a.next = a.reserved[a.ri].end
			a.ri++
			continue
		}
		take := min(n, limit-a.next)
		if contiguous && take < n {
			if a.ri >= len(a.reserved) {
				return nil, fmt.Errorf("%w: out of blocks", errTooSmall)
			}
			a.next = limit
			continue
		}
		runs = append(runs, span{a.next, a.next + take})
		a.mark(a.next, take)
		a.next += take
		n -= take
	}
	return runs, nil
}

func (a *allocator) one() (uint64, error) {
	r, err := a.alloc(1, true)
	if err != nil {
		return 0, err
	}
	return r[0].start, nil
}

// image is a fully planned filesystem: every inode numbered and every
// block placed. Only file contents remain to be streamed.
type image struct {
	opts     Options
	geo      geometry
	alloc    *allocator
	nodes    []*node // by inode number order; nodes[i].ino is increasing
	maxIno   uint32
	blockBmp []uint64 // per group
	inodeBmp []uint64
	itable   []uint64
	journal  []extent
	jleaves  []uint64
	seed     uint32 // metadata checksum seed: crc32c(~0, uuid)
	hashSeed [4]uint32
	xblocks  []*xattrBlock
	dirsPer  []uint32
}

// number assigns inode numbers depth-first in name order and counts links.
func (b *Builder) number() []*node {
	var order []*node
	next := uint32(firstIno + 1)
	var walk func(n *node)
	walk = func(dir *node) {
		names := make([]string, 0, len(dir.children))
		for name := range dir.children {
			names = append(names, name)
		}
		sort.Strings(names)
		for _, name := range names {
			c := dir.children[name]
			if c.ino == 0 {
				if dir == b.root && name == "lost+found" {
					c.ino = lostFoundIno
				} else {
					c.ino = next
					next++
				}
				c.parent = dir
				order = append(order, c)
			}
			c.nlink++
			if c.kind == kindDir {
				dir.nlink++ // the child's ".."
				walk(c)
			}
		}
	}
	b.root.ino = rootIno
	b.root.nlink = 2 // its "." and its own ".."
	b.root.parent = b.root
	order = append(order, b.root)
	walk(b.root)
	for _, n := range order {
		if n.kind == kindDir && n != b.root {
			n.nlink++ // its "."
		}
	}
	sort.Slice(order, func(i, j int) bool { return order[i].ino < order[j].ino })
	return order
}

func (b *Builder) resetNumbers() {
	var walk func(n *node)
	walk = func(n *node) {
		n.ino, n.nlink, n.lay = 0, 0, nil
		for _, c := range n.children {
			walk(c)
		}
	}
	walk(b.root)
}

// plan lays out the whole image.
func (b *Builder) plan() (*image, error) {
	if b.opts.BlockSize != 0 && b.opts.BlockSize != blockSize {
		return nil, fmt.Errorf("ext4: block size %d not supported (only %d)", b.opts.BlockSize, blockSize)
	}
	if len(b.opts.Label) > 16 {
		return nil, fmt.Errorf("ext4: label %q longer than 16 bytes", b.opts.Label)
	}
	if b.opts.Size < 0 || b.opts.InodeRatio < 0 || b.opts.JournalBlocks < 0 {
		return nil, fmt.Errorf("ext4: negative size, inode ratio or journal size in options")
	}
	if b.opts.Timestamp.IsZero() {
		b.opts.Timestamp = time.Unix(0, 0)
	}
	if sec := b.opts.Timestamp.Unix(); sec < math.MinInt32 || sec > 3<<32+math.MaxInt32 {
		return nil, fmt.Errorf("ext4: timestamp %s outside ext4's range (1901 to 2446)", b.opts.Timestamp.UTC().Format(time.RFC3339))
	}
	if err := b.resolveLinks(); err != nil {
		return nil, err
	}
	b.resetNumbers()
	nodes := b.number()
	for _, n := range nodes {
		if n.kind != kindDir && n.nlink > maxLinks {
			return nil, fmt.Errorf("ext4: %s has %d links, more than ext4's %d", n.path, n.nlink, maxLinks)
		}
	}
	im := &image{opts: b.opts, nodes: nodes, maxIno: nodes[len(nodes)-1].ino}
	im.seed = crc32c(^uint32(0), b.opts.UUID[:])
	for i := range im.hashSeed {
		im.hashSeed[i] = binary.LittleEndian.Uint32(b.opts.HashSeed[i*4:])
	}

	// Content that does not depend on where it lands: directory blocks,
	// attribute placement.
	var content uint64
	xshare := map[string]*xattrBlock{}
	for _, n := range nodes {
		lay := &inodeLayout{}
		n.lay = lay
		switch n.kind {
		case kindDir:
			extra := 0
			if n.ino == lostFoundIno {
				extra = 3
			}
			data, indexed, err := dirBlocks(n, n.ino, n.parent.ino, im.hashSeed, im.inodeSeed(n.ino), extra)
			if err != nil {
				return nil, fmt.Errorf("ext4: directory %s: %w", n.path, err)
			}
			lay.data, lay.indexed = data, indexed
			lay.nblocks = uint64(len(data) / blockSize)
		case kindFile:
			lay.nblocks = uint64((n.size + blockSize - 1) / blockSize)
		case kindSymlink:
			if len(n.target) >= 60 {
				lay.data = make([]byte, blockSize)
				copy(lay.data, n.target)
				lay.nblocks = 1
			}
		}
		content += lay.nblocks + lay.nblocks/(maxExtentLen*300) + 1
		if len(n.xattrs) > 0 {
			es := prepareXattrs(n.xattrs)
			if xattrSpace(es) <= inodeXattrRoom {
				lay.inX = es
			} else {
				if 32+xattrSpace(es) > blockSize {
					return nil, fmt.Errorf("ext4: %s: extended attributes need %d bytes, more than a block", n.path, 32+xattrSpace(es))
				}
				key := xattrKey(es)
				xb := xshare[key]
				if xb == nil || xb.users >= 1024 {
					xb = &xattrBlock{es: es}
					xshare[key] = xb
					im.xblocks = append(im.xblocks, xb)
					content++
				}
				xb.users++
				lay.xblock = xb
			}
		}
	}

	inodes := uint64(im.maxIno)
	blocks := uint64(b.opts.Size) / blockSize
	auto := b.opts.Size == 0
	ratio := b.opts.InodeRatio
	if auto {
		// Room for the content, half as much again, then metadata and
		// the journal; whole groups; at least 1 GiB.
		blocks = content * 3 / 2
		estRatio := uint64(ratio)
		if estRatio == 0 {
			estRatio = 16384 // the default at the 1 GiB minimum and above
		}
		blocks += blocks*blockSize/estRatio*inodeSize/blockSize + 2*blocks/blocksPerGrp + 64
		blocks += uint64(defaultJournal(blocks))
		blocks = max(blocks, (1<<30)/blockSize)
		blocks = (blocks + blocksPerGrp - 1) / blocksPerGrp * blocksPerGrp
	}
	if ratio == 0 {
		ratio = defaultInodeRatio(blocks * blockSize)
	}
	for {
		geo, err := newGeometry(blocks, inodes, ratio, b.opts.JournalBlocks)
		if err == nil {
			im.geo = geo
			err = im.place()
		}
		if err == nil {
			return im, nil
		}
		if !errors.Is(err, errTooSmall) {
			return nil, fmt.Errorf("ext4: %w", err)
		}
		if !auto || blocks > 1<<32 {
			return nil, fmt.Errorf("ext4: %w (Size %d MiB; the tree has %d inodes and about %d MiB of data and directories)",
				err, blocks*blockSize>>20, inodes, content*blockSize>>20)
		}
		blocks += max(blocks/4, blocksPerGrp)
		blocks = (blocks + blocksPerGrp - 1) / blocksPerGrp * blocksPerGrp
		for _, xb := range im.xblocks {
			xb.blk = 0
		}
	}
}

func xattrKey(es []xentry) string {
	var k []byte
	for _, e := range es {
		k = append(k, e.index)
		k = binary.AppendUvarint(k, uint64(len(e.name)))
		k = append(k, e.name...)
		k = binary.AppendUvarint(k, uint64(len(e.value)))
		k = append(k, e.value...)
	}
	return string(k)
}

// inodeSeed is the per-inode checksum seed (generation is always 0).
func (im *image) inodeSeed(ino uint32) uint32 {
	return crc32c(crc32c(im.seed, le32(ino)), le32(0))
}

// place assigns every block: group metadata first (flex_bg lets it live
// anywhere), then the journal, then each inode's data in inode order.
func (im *image) place() error {
	g := im.geo
	if uint64(im.maxIno) > uint64(g.ipg)*uint64(g.groups) {
		return fmt.Errorf("%w: %d inodes needed, %d available", errTooSmall, im.maxIno, uint64(g.ipg)*uint64(g.groups))
	}
	a := newAllocator(g)
	im.alloc = a
	im.blockBmp = make([]uint64, g.groups)
	im.inodeBmp = make([]uint64, g.groups)
	im.itable = make([]uint64, g.groups)
	im.dirsPer = make([]uint32, g.groups)
	var err error
	for i := range im.blockBmp {
		if im.blockBmp[i], err = a.one(); err != nil {
			return err
		}
	}
	for i := range im.inodeBmp {
		if im.inodeBmp[i], err = a.one(); err != nil {
			return err
		}
	}
	for i := range im.itable {
		r, err := a.alloc(uint64(g.itb), true)
		if err != nil {
			return err
		}
		im.itable[i] = r[0].start
	}
	// On large images the journal crosses backup superblocks and so
	// may need an extent tree, which jbd2 and e2fsck accept.
	if im.journal, im.jleaves, err = im.placeData(uint64(g.journal)); err != nil {
		return err
	}
	for _, n := range im.nodes {
		lay := n.lay
		if lay.nblocks > 0 {
			if lay.extents, lay.leaves, err = im.placeData(lay.nblocks); err != nil {
				return fmt.Errorf("%s: %w", n.path, err)
			}
		}
		if n.kind == kindDir {
			im.dirsPer[(n.ino-1)/g.ipg]++
		}
		if xb := lay.xblock; xb != nil && xb.blk == 0 {
			if xb.blk, err = a.one(); err != nil {
				return err
			}
		}
	}
	return nil
}

// placeData allocates n blocks as extents of at most 32768 blocks, and the
// leaf blocks of a one-level extent tree when they do not fit the inode.
func (im *image) placeData(n uint64) ([]extent, []uint64, error) {
	runs, err := im.alloc.alloc(n, false)
	if err != nil {
		return nil, nil, err
	}
	var exts []extent
	var logical uint64
	for _, r := range runs {
		for s := r.start; s < r.end; {
			l := min(r.end-s, maxExtentLen)
			if logical+l > 1<<32 {
				return nil, nil, fmt.Errorf("file of %d blocks is too large for ext4", n)
			}
			exts = append(exts, extent{logical: uint32(logical), phys: s, length: uint32(l)})
			s += l
			logical += l
		}
	}
	if len(exts) <= 4 {
		return exts, nil, nil
	}
	nleaves := (len(exts) + extentsPerLeaf - 1) / extentsPerLeaf
	if nleaves > 4 {
		return nil, nil, fmt.Errorf("file of %d blocks needs %d extents, more than a one-level tree holds", n, len(exts))
	}
	leaves := make([]uint64, nleaves)
	for i := range leaves {
		if leaves[i], err = im.alloc.one(); err != nil {
			return nil, nil, err
		}
	}
	return exts, leaves, nil
}

const extentsPerLeaf = (blockSize - 12 - 4) / 12
