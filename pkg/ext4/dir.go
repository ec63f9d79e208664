package ext4

import (
	"fmt"
	"sort"
)

type dirent struct {
	name  string
	ino   uint32
	ftype uint8
	major uint32
	minor uint32
}

func recLen(name string) int { return 8 + pad4(len(name)) }

// leafCap is the room for entries in a leaf block: the last 12 bytes hold
// the checksum tail (a fake entry of inode 0 with file type 0xDE).
const leafCap = blockSize - 12

// dirBlocks returns the content of directory n (inode ino): one linear
// block when its entries fit, else an htree. extraBlocks empty blocks are
// appended to a linear directory (lost+found gets 3, as mkfs makes it).
func dirBlocks(n *node, ino, parentIno uint32, hashSeed [4]uint32, iseed uint32, extraBlocks int) ([]byte, bool, error) {
	ents := make([]dirent, 0, len(n.children))
	for name, c := range n.children {
		ft := uint8(ftReg)
		switch c.kind {
		case kindDir:
			ft = ftDir
		case kindSymlink:
			ft = ftSymlink
		}
		ents = append(ents, dirent{name: name, ino: c.ino, ftype: ft})
	}
	size := 24
	for _, e := range ents {
		size += recLen(e.name)
	}
	if size <= leafCap {
		sort.Slice(ents, func(i, j int) bool { return ents[i].name < ents[j].name })
		dot := []dirent{{name: ".", ino: ino, ftype: ftDir}, {name: "..", ino: parentIno, ftype: ftDir}}
		out := make([]byte, blockSize*(1+extraBlocks))
		fillLeaf(out[:blockSize], append(dot, ents...), iseed)
		for i := 1; i <= extraBlocks; i++ {
			fillLeaf(out[i*blockSize:(i+1)*blockSize], nil, iseed)
		}
		return out, false, nil
	}
	out, err := htree(ents, ino, parentIno, hashSeed, iseed)
	return out, true, err
}

// fillLeaf writes entries into one directory block and its checksum tail;
// the last entry's rec_len stretches to the tail. An empty block holds one
// unused entry covering it.
func fillLeaf(b []byte, ents []dirent, iseed uint32) {
	off := 0
	last := -1
	for _, e := range ents {
		put32(b, off, e.ino)
		put16(b, off+4, uint16(recLen(e.name)))
		b[off+6] = uint8(len(e.name))
		b[off+7] = e.ftype
		copy(b[off+8:], e.name)
		last = off
		off += recLen(e.name)
	}
	if last < 0 {
		put32(b, 0, 0)
		put16(b, 4, leafCap)
	} else {
		put16(b, last+4, uint16(leafCap-last))
	}
	t := b[leafCap:]
	put32(t, 0, 0)
	put16(t, 4, 12)
	t[6] = 0
	t[7] = dirTailFT
	put32(t, 8, crc32c(iseed, b[:leafCap]))
}

// Index blocks: the root holds fake "." and ".." entries and a
// dx_root_info before its count/limit header at 0x20; an interior node
// holds one empty entry spanning the block and its header at 8. The last 8
// bytes of the entry array are taken by the dx_tail checksum.
const (
	dxRootCount = 0x20
	dxNodeCount = 8
	dxRootLimit = (blockSize-dxRootCount)/8 - 1
	dxNodeLimit = (blockSize-dxNodeCount)/8 - 1
)

type dxEntry struct {
	hash  uint32
	block uint32
}

// htree lays out a hashed directory: block 0 is the root, then the
// interior nodes (if any), then the leaves, full and in hash order.
func htree(ents []dirent, ino, parentIno uint32, seed [4]uint32, iseed uint32) ([]byte, error) {
	for i := range ents {
		ents[i].major, ents[i].minor = dirHash([]byte(ents[i].name), seed)
	}
	sort.Slice(ents, func(i, j int) bool {
		a, b := ents[i], ents[j]
		if a.major != b.major {
			return a.major < b.major
		}
		if a.minor != b.minor {
			return a.minor < b.minor
		}
		return a.name < b.name
	})
	// Split into leaves.
	type leaf struct {
		ents []dirent
		hash uint32
	}
	var leaves []leaf
	start, used := 0, 0
	for i, e := range ents {
		if used+recLen(e.name) > leafCap {
			leaves = append(leaves, leaf{ents: ents[start:i]})
			start, used = i, 0
		}
		used += recLen(e.name)
	}
	leaves = append(leaves, leaf{ents: ents[start:]})
	for i := range leaves {
		h := leaves[i].ents[0].major
		// A hash that continues from the previous leaf is marked with
		// the low bit, so that lookups know to read both.
		if i > 0 && leaves[i-1].ents[len(leaves[i-1].ents)-1].major == h {
			h |= 1
		}
		leaves[i].hash = h
	}

	levels := 0
	nodes := 0
	if len(leaves) > dxRootLimit {
		levels = 1
		nodes = (len(leaves) + dxNodeLimit - 1) / dxNodeLimit
		if nodes > dxRootLimit {
			return nil, fmt.Errorf("directory of %d entries is too large for a two-level htree", len(ents))
		}
	}
	nblocks := 1 + nodes + len(leaves)
	out := make([]byte, nblocks*blockSize)
	firstLeaf := 1 + nodes
	leafEntries := make([]dxEntry, len(leaves))
	for i, l := range leaves {
		fillLeaf(out[(firstLeaf+i)*blockSize:(firstLeaf+i+1)*blockSize], l.ents, iseed)
		leafEntries[i] = dxEntry{hash: l.hash, block: uint32(firstLeaf + i)}
	}

	root := out[:blockSize]
	put32(root, 0, ino)
	put16(root, 4, 12)
	root[6], root[7] = 1, ftDir
	copy(root[8:], ".")
	put32(root, 12, parentIno)
	put16(root, 16, blockSize-12)
	root[18], root[19] = 2, ftDir
	copy(root[20:], "..")
	// dx_root_info
	put32(root, 24, 0)
	root[28] = dxHashHalfMD4
	root[29] = 8
	root[30] = uint8(levels)
	root[31] = 0
	if levels == 0 {
		fillDx(root, dxRootCount, dxRootLimit, leafEntries, iseed)
		return out, nil
	}
	rootEntries := make([]dxEntry, nodes)
	for k := 0; k < nodes; k++ {
		chunk := leafEntries[k*dxNodeLimit : min((k+1)*dxNodeLimit, len(leafEntries))]
		blk := out[(1+k)*blockSize : (2+k)*blockSize]
		put32(blk, 0, 0)
		put16(blk, 4, blockSize)
		fillDx(blk, dxNodeCount, dxNodeLimit, chunk, iseed)
		rootEntries[k] = dxEntry{hash: chunk[0].hash, block: uint32(1 + k)}
	}
	fillDx(root, dxRootCount, dxRootLimit, rootEntries, iseed)
	return out, nil
}

// fillDx writes count/limit at off, the entries (the first one's hash slot
// is the count/limit pair) and the dx_tail checksum after limit entries.
func fillDx(b []byte, off, limit int, es []dxEntry, iseed uint32) {
	put16(b, off, uint16(limit))
	put16(b, off+2, uint16(len(es)))
	put32(b, off+4, es[0].block)
	for i := 1; i < len(es); i++ {
		put32(b, off+8*i, es[i].hash)
		put32(b, off+8*i+4, es[i].block)
	}
	tail := off + 8*limit
	c := crc32c(iseed, b[:off+8*len(es)])
	c = crc32c(c, b[tail:tail+4]) // dt_reserved
	c = crc32c(c, []byte{0, 0, 0, 0})
	put32(b, tail+4, c)
}
