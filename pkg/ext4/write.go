package ext4

import (
	"bytes"
	"context"
	"encoding/binary"
	"errors"
	"fmt"
	"io"
	"os"
	"path/filepath"
	"runtime"
	"sync"

	"golang.org/x/sync/errgroup"
)

// zeroBlock is compared against, never written to.
var zeroBlock [blockSize]byte

// sparseWriter writes only the blocks that are not all zeros, so that the
// target (a sparse file, a qcow2 writer) stores only what the filesystem
// uses. Writes are serialised: the target need not be safe for concurrent
// use.
type sparseWriter struct {
	mu sync.Mutex
	w  io.WriterAt
}

// write stores data (a whole number of blocks) at block phys.
func (s *sparseWriter) write(phys uint64, data []byte) error {
	for i := 0; i < len(data); {
		if bytes.Equal(data[i:i+blockSize], zeroBlock[:]) {
			i += blockSize
			continue
		}
		j := i + blockSize
		for j < len(data) && !bytes.Equal(data[j:j+blockSize], zeroBlock[:]) {
			j += blockSize
		}
		s.mu.Lock()
		_, err := s.w.WriteAt(data[i:j], int64(phys)*blockSize+int64(i))
		s.mu.Unlock()
		if err != nil {
			return err
		}
		i = j
	}
	return nil
}

// Size plans the image and returns its size in bytes without writing it.
func (b *Builder) Size() (int64, error) {
	im, err := b.plan()
	if err != nil {
		return 0, err
	}
	return int64(im.geo.blocks) * blockSize, nil
}

// Write lays out the tree and writes the image to w, returning its size.
// Only blocks holding data are written, so regions never written must read
// as zeros (a new or truncated file does; so does a fresh qcow2 image). An
// *os.File is extended to the full size; other targets must be that large
// already. File contents are read through their open callbacks, several at
// a time; w need not be safe for concurrent use.
func (b *Builder) Write(ctx context.Context, w io.WriterAt) (int64, error) {
	im, err := b.plan()
	if err != nil {
		return 0, err
	}
	if err := im.write(ctx, w); err != nil {
		return 0, err
	}
	return int64(im.geo.blocks) * blockSize, nil
}

// write writes the planned image to w; see Builder.Write.
func (im *image) write(ctx context.Context, w io.WriterAt) error {
	sw := &sparseWriter{w: w}
	if err := im.writeContents(ctx, sw); err != nil {
		return err
	}
	if err := im.writeMetadata(sw); err != nil {
		return fmt.Errorf("ext4: writing metadata: %w", err)
	}
	size := int64(im.geo.blocks) * blockSize
	// A file is extended to the full size (sparse, nothing written);
	// other targets, such as a partition inside a disk image, are
	// expected to be that large already.
	if f, ok := w.(*os.File); ok {
		st, err := f.Stat()
		if err == nil && st.Mode().IsRegular() && st.Size() < size {
			err = f.Truncate(size)
		}
		if err != nil {
			return fmt.Errorf("ext4: extending %s to %d bytes: %w", f.Name(), size, err)
		}
	}
	return nil
}

// WriteFile writes the image to path through a temporary file in the same
// directory, renamed into place only when complete, so that a failed build
// leaves nothing at path.
func (b *Builder) WriteFile(ctx context.Context, path string) (err error) {
	f, err := os.CreateTemp(filepath.Dir(path), "."+filepath.Base(path)+".tmp*")
	if err != nil {
		return fmt.Errorf("ext4: %w", err)
	}
	defer func() {
		if err != nil {
			f.Close()
			os.Remove(f.Name())
		}
	}()
	if _, err = b.Write(ctx, f); err != nil {
		return fmt.Errorf("%w (writing %s)", err, path)
	}
	if err = f.Sync(); err != nil {
		return fmt.Errorf("ext4: %s: %w", path, err)
	}
	if err = f.Close(); err != nil {
		return fmt.Errorf("ext4: %s: %w", path, err)
	}
	if err = os.Rename(f.Name(), path); err != nil {
		return fmt.Errorf("ext4: %w", err)
	}
	return nil
}

// chunkBlocks is how much of a file is read before it is written.
const chunkBlocks = 256

// writeContents streams every regular file into its blocks, several files
// at a time. The workers live for the whole write rather than one
// goroutine per file: inflating a file needs a deep stack, and growing a
// fresh goroutine's stack for each of ten thousand files cost more CPU
// than the files' own metadata.
func (im *image) writeContents(ctx context.Context, sw *sparseWriter) error {
	parent := ctx
	g, ctx := errgroup.WithContext(ctx)
	files := make(chan *node)
	for range 4 * runtime.GOMAXPROCS(0) { // content callbacks often wait on I/O
		g.Go(func() error {
			buf := make([]byte, chunkBlocks*blockSize)
			for n := range files {
				if err := im.writeFile(ctx, sw, n, buf); err != nil {
					return err
				}
			}
			return nil
		})
	}
feed:
	for _, n := range im.nodes {
		if n.kind != kindFile || n.size == 0 {
			continue
		}
		select {
		case files <- n:
		case <-ctx.Done():
			break feed
		}
	}
	close(files)
	if err := g.Wait(); err != nil {
		return err
	}
	return parent.Err()
}

func (im *image) writeFile(ctx context.Context, sw *sparseWriter, n *node, buf []byte) error {
	rc, err := n.open()
	if err != nil {
		return fmt.Errorf("ext4: opening content of %s: %w", n.path, err)
	}
	defer rc.Close()
	var done int64
	for _, e := range n.lay.extents {
		for off := uint64(0); off < uint64(e.length); off += chunkBlocks {
			if err := ctx.Err(); err != nil {
				return err
			}
			nb := min(uint64(e.length)-off, chunkBlocks)
			want := min(int64(nb)*blockSize, n.size-done)
			chunk := buf[:nb*blockSize]
			got, err := io.ReadFull(rc, chunk[:want])
			if err != nil {
				if errors.Is(err, io.ErrUnexpectedEOF) || errors.Is(err, io.EOF) {
					return fmt.Errorf("ext4: content of %s ended after %d bytes, %d declared", n.path, done+int64(got), n.size)
				}
				return fmt.Errorf("ext4: reading content of %s: %w", n.path, err)
			}
			clear(chunk[want:])
			if err := sw.write(e.phys+off, chunk); err != nil {
				return fmt.Errorf("ext4: writing %s: %w", n.path, err)
			}
			done += want
		}
	}
	var one [1]byte
	if k, _ := io.ReadFull(rc, one[:]); k > 0 {
		return fmt.Errorf("ext4: content of %s is longer than the %d bytes declared", n.path, n.size)
	}
	if err := rc.Close(); err != nil {
		return fmt.Errorf("ext4: closing content of %s: %w", n.path, err)
	}
	return nil
}

// writeMetadata writes directories, symlinks, extent leaves, attribute
// blocks, inode tables, bitmaps, descriptors, superblocks and the journal
// superblock.
func (im *image) writeMetadata(sw *sparseWriter) error {
	g := im.geo
	for _, n := range im.nodes {
		lay := n.lay
		if lay.data != nil {
			off := uint64(0)
			for _, e := range lay.extents {
				end := off + uint64(e.length)*blockSize
				if err := sw.write(e.phys, lay.data[off:end]); err != nil {
					return err
				}
				off = end
			}
		}
		if err := im.writeLeaves(sw, n.ino, lay.extents, lay.leaves); err != nil {
			return err
		}
	}
	if err := im.writeLeaves(sw, journalIno, im.journal, im.jleaves); err != nil {
		return err
	}
	for _, xb := range im.xblocks {
		if err := sw.write(xb.blk, encodeXattrBlock(xb.es, xb.users, xb.blk, im.seed)); err != nil {
			return err
		}
	}

	// Inode tables: inode numbers are dense, so group k holds
	// k*ipg+1 .. min((k+1)*ipg, maxIno).
	byIno := make(map[uint32]*node, len(im.nodes))
	for _, n := range im.nodes {
		byIno[n.ino] = n
	}
	for grp := uint32(0); grp < g.groups; grp++ {
		first := grp*g.ipg + 1
		if first > im.maxIno {
			break
		}
		last := min(first+g.ipg-1, im.maxIno)
		tbl := make([]byte, (uint64(last-first+1)*inodeSize+blockSize-1)/blockSize*blockSize)
		for ino := first; ino <= last; ino++ {
			buf := tbl[(ino-first)*inodeSize : (ino-first+1)*inodeSize]
			if n := byIno[ino]; n != nil {
				im.encodeNode(buf, n)
			} else if ino == journalIno {
				im.encodeJournalInode(buf)
			}
		}
		if err := sw.write(im.itable[grp], tbl); err != nil {
			return err
		}
	}

	// Bitmaps and descriptors.
	gdt := make([]byte, uint64(g.gdtBlocks)*blockSize)
	var freeBlocks, freeInodes uint64
	for grp := uint32(0); grp < g.groups; grp++ {
		bb := make([]byte, blockSize)
		start, end := uint64(grp)*blocksPerGrp, g.groupEnd(grp)
		used := uint32(0)
		for blk := start; blk < start+blocksPerGrp; blk++ {
			i := blk - start
			if blk >= end || im.alloc.used[blk/8]&(1<<(blk%8)) != 0 {
				bb[i/8] |= 1 << (i % 8)
				if blk < end {
					used++
				}
			}
		}
		ib := make([]byte, blockSize)
		first := uint64(grp)*uint64(g.ipg) + 1
		inUse := uint32(0)
		if uint64(im.maxIno) >= first {
			inUse = uint32(min(uint64(im.maxIno)-first+1, uint64(g.ipg)))
		}
		for i := uint32(0); i < blockSize*8; i++ {
			if i < inUse || i >= g.ipg {
				ib[i/8] |= 1 << (i % 8)
			}
		}
		if err := sw.write(im.blockBmp[grp], bb); err != nil {
			return err
		}
		if err := sw.write(im.inodeBmp[grp], ib); err != nil {
			return err
		}
		fb := uint32(end-start) - used
		fi := g.ipg - inUse
		freeBlocks += uint64(fb)
		freeInodes += uint64(fi)
		bbc := crc32c(im.seed, bb[:blocksPerGrp/8])
		ibc := crc32c(im.seed, ib[:g.ipg/8])
		d := gdt[grp*descSize : (grp+1)*descSize]
		put32(d, 0x00, uint32(im.blockBmp[grp]))
		put32(d, 0x04, uint32(im.inodeBmp[grp]))
		put32(d, 0x08, uint32(im.itable[grp]))
		put16(d, 0x0C, uint16(fb))
		put16(d, 0x0E, uint16(fi))
		put16(d, 0x10, uint16(im.dirsPer[grp]))
		put16(d, 0x12, bgItableZeroed)
		put16(d, 0x18, uint16(bbc))
		put16(d, 0x1A, uint16(ibc))
		put16(d, 0x1C, uint16(fi))
		put32(d, 0x20, uint32(im.blockBmp[grp]>>32))
		put32(d, 0x24, uint32(im.inodeBmp[grp]>>32))
		put32(d, 0x28, uint32(im.itable[grp]>>32))
		put16(d, 0x2C, uint16(fb>>16))
		put16(d, 0x2E, uint16(fi>>16))
		put16(d, 0x30, uint16(im.dirsPer[grp]>>16))
		put16(d, 0x32, uint16(fi>>16))
		put16(d, 0x38, uint16(bbc>>16))
		put16(d, 0x3A, uint16(ibc>>16))
		c := crc32c(im.seed, le32(grp))
		c = crc32c(c, d[:0x1E])
		c = crc32c(c, []byte{0, 0})
		c = crc32c(c, d[0x20:])
		put16(d, 0x1E, uint16(c))
	}

	for grp := uint32(0); grp < g.groups; grp++ {
		if !hasSuper(grp) {
			continue
		}
		blk := make([]byte, blockSize)
		sb := im.superblock(grp, freeBlocks, freeInodes)
		if grp == 0 {
			copy(blk[1024:], sb)
		} else {
			copy(blk, sb)
		}
		start := uint64(grp) * blocksPerGrp
		if err := sw.write(start, blk); err != nil {
			return err
		}
		if err := sw.write(start+1, gdt); err != nil {
			return err
		}
	}
	return sw.write(im.journal[0].phys, im.journalSuper())
}

// writeLeaves writes the leaf blocks of a one-level extent tree.
func (im *image) writeLeaves(sw *sparseWriter, ino uint32, exts []extent, leaves []uint64) error {
	for i, blk := range leaves {
		chunk := exts[i*extentsPerLeaf : min((i+1)*extentsPerLeaf, len(exts))]
		b := make([]byte, blockSize)
		putExtentHeader(b, len(chunk), extentsPerLeaf, 0)
		for j, e := range chunk {
			putExtent(b[12+12*j:], e)
		}
		tail := 12 + 12*extentsPerLeaf
		put32(b, tail, crc32c(im.inodeSeed(ino), b[:tail]))
		if err := sw.write(blk, b); err != nil {
			return err
		}
	}
	return nil
}

func putExtentHeader(b []byte, entries, max, depth int) {
	put16(b, 0, extentMagic)
	put16(b, 2, uint16(entries))
	put16(b, 4, uint16(max))
	put16(b, 6, uint16(depth))
	put32(b, 8, 0)
}

func putExtent(b []byte, e extent) {
	put32(b, 0, e.logical)
	put16(b, 4, uint16(e.length))
	put16(b, 6, uint16(e.phys>>32))
	put32(b, 8, uint32(e.phys))
}

// extentRoot returns i_block for a file's extents.
func extentRoot(exts []extent, leaves []uint64) []byte {
	b := make([]byte, 60)
	if len(leaves) == 0 {
		putExtentHeader(b, len(exts), 4, 0)
		for i, e := range exts {
			putExtent(b[12+12*i:], e)
		}
		return b
	}
	putExtentHeader(b, len(leaves), 4, 1)
	for i, blk := range leaves {
		o := 12 + 12*i
		put32(b, o, exts[i*extentsPerLeaf].logical)
		put32(b, o+4, uint32(blk))
		put16(b, o+8, uint16(blk>>32))
	}
	return b
}

type inodeFields struct {
	mode      uint16
	uid, gid  uint32
	size      uint64
	links     uint16
	flags     uint32
	iblock    []byte
	blocks512 uint64
	xblk      uint64
	inX       []xentry
}

func (im *image) encodeInode(b []byte, ino uint32, f inodeFields) {
	t, extra := encodeTime(im.opts.Timestamp)
	put16(b, 0x00, f.mode)
	put16(b, 0x02, uint16(f.uid))
	put32(b, 0x04, uint32(f.size))
	put32(b, 0x08, t)
	put32(b, 0x0C, t)
	put32(b, 0x10, t)
	put16(b, 0x18, uint16(f.gid))
	put16(b, 0x1A, f.links)
	put32(b, 0x1C, uint32(f.blocks512))
	put32(b, 0x20, f.flags)
	copy(b[0x28:0x64], f.iblock)
	put32(b, 0x68, uint32(f.xblk))
	put32(b, 0x6C, uint32(f.size>>32))
	put16(b, 0x74, uint16(f.blocks512>>32))
	put16(b, 0x76, uint16(f.xblk>>32))
	put16(b, 0x78, uint16(f.uid>>16))
	put16(b, 0x7A, uint16(f.gid>>16))
	put16(b, 0x80, extraIsize)
	put32(b, 0x84, extra)
	put32(b, 0x88, extra)
	put32(b, 0x8C, extra)
	put32(b, 0x90, t)
	put32(b, 0x94, extra)
	if len(f.inX) > 0 {
		put32(b, 128+extraIsize, xattrMagic)
		encodeXattrRegion(b[128+extraIsize+4:], 0, f.inX)
	}
	c := crc32c(im.inodeSeed(ino), b[:0x7C])
	c = crc32c(c, []byte{0, 0})
	c = crc32c(c, b[0x7E:0x82])
	c = crc32c(c, []byte{0, 0})
	c = crc32c(c, b[0x84:])
	put16(b, 0x7C, uint16(c))
	put16(b, 0x82, uint16(c>>16))
}

func (im *image) encodeNode(b []byte, n *node) {
	lay := n.lay
	f := inodeFields{uid: n.uid, gid: n.gid, links: uint16(n.nlink), inX: lay.inX}
	blocks := lay.nblocks + uint64(len(lay.leaves))
	if lay.xblock != nil {
		f.xblk = lay.xblock.blk
		blocks++
	}
	f.blocks512 = blocks * (blockSize / 512)
	switch n.kind {
	case kindDir:
		f.mode = sIFDIR | uint16(n.mode)
		f.size = lay.nblocks * blockSize
		if n.nlink > maxLinks {
			f.links = 1 // dir_nlink: too many to count
		}
		f.flags = inodeFlagExtents
		if lay.indexed {
			f.flags |= inodeFlagIndex
		}
		f.iblock = extentRoot(lay.extents, lay.leaves)
	case kindFile:
		f.mode = sIFREG | uint16(n.mode)
		f.size = uint64(n.size)
		f.flags = inodeFlagExtents
		f.iblock = extentRoot(lay.extents, lay.leaves)
	case kindSymlink:
		f.mode = sIFLNK | uint16(n.mode)
		f.size = uint64(len(n.target))
		if lay.nblocks == 0 {
			// A fast symlink keeps its target in i_block.
			f.iblock = []byte(n.target)
		} else {
			f.flags = inodeFlagExtents
			f.iblock = extentRoot(lay.extents, lay.leaves)
		}
	}
	im.encodeInode(b, n.ino, f)
}

func (im *image) encodeJournalInode(b []byte) {
	im.encodeInode(b, journalIno, im.journalFields())
}

func (im *image) journalFields() inodeFields {
	n := uint64(im.geo.journal)
	return inodeFields{
		mode: sIFREG | 0o600, size: n * blockSize, links: 1, flags: inodeFlagExtents,
		iblock:    extentRoot(im.journal, im.jleaves),
		blocks512: (n + uint64(len(im.jleaves))) * (blockSize / 512),
	}
}

// journalSuper is a clean, empty jbd2 (v2) superblock. Its fields are
// big-endian, unlike the rest of ext4.
func (im *image) journalSuper() []byte {
	b := make([]byte, blockSize)
	be := binary.BigEndian
	be.PutUint32(b[0x0:], jbd2Magic)
	be.PutUint32(b[0x4:], jbd2SBv2)
	be.PutUint32(b[0xC:], blockSize)
	be.PutUint32(b[0x10:], im.geo.journal)
	be.PutUint32(b[0x14:], 1) // s_first
	be.PutUint32(b[0x18:], 1) // s_sequence
	be.PutUint32(b[0x28:], jbd2CsumV3)
	copy(b[0x30:0x40], im.opts.UUID[:])
	be.PutUint32(b[0x40:], 1) // s_nr_users
	b[0x50] = jbd2CRC32C
	be.PutUint32(b[0xFC:], crc32c(^uint32(0), b[:1024]))
	return b
}

// superblock encodes the primary (grp 0) or a backup superblock.
func (im *image) superblock(grp uint32, freeBlocks, freeInodes uint64) []byte {
	g := im.geo
	b := make([]byte, 1024)
	inodes := uint64(g.ipg) * uint64(g.groups)
	reserved := g.blocks * 5 / 100
	t, _ := encodeTime(im.opts.Timestamp)
	thi := uint8((im.opts.Timestamp.Unix() - int64(int32(im.opts.Timestamp.Unix()))) >> 32)
	put32(b, 0x00, uint32(inodes))
	put32(b, 0x04, uint32(g.blocks))
	put32(b, 0x08, uint32(reserved))
	put32(b, 0x0C, uint32(freeBlocks))
	put32(b, 0x10, uint32(freeInodes))
	put32(b, 0x14, 0) // first data block
	put32(b, 0x18, logBlockSize)
	put32(b, 0x1C, logBlockSize)
	put32(b, 0x20, blocksPerGrp)
	put32(b, 0x24, blocksPerGrp)
	put32(b, 0x28, g.ipg)
	put32(b, 0x30, t) // s_wtime
	put16(b, 0x36, 0xFFFF)
	put16(b, 0x38, sbMagic)
	put16(b, 0x3A, 1) // clean
	put16(b, 0x3C, 1) // errors=continue
	put32(b, 0x40, t) // s_lastcheck
	put32(b, 0x4C, 1) // dynamic revision
	put32(b, 0x54, firstIno)
	put16(b, 0x58, inodeSize)
	put16(b, 0x5A, uint16(grp))
	put32(b, 0x5C, compatHasJournal|compatExtAttr|compatDirIndex)
	put32(b, 0x60, incompatFiletype|incompatExtents|incompat64bit|incompatFlexBG)
	put32(b, 0x64, roCompatSparseSuper|roCompatLargeFile|roCompatHugeFile|roCompatDirNlink|roCompatExtraIsize|roCompatMetadataCsum)
	copy(b[0x68:0x78], im.opts.UUID[:])
	copy(b[0x78:0x88], im.opts.Label)
	put32(b, 0xE0, journalIno)
	for i, w := range im.hashSeed {
		put32(b, 0xEC+4*i, w)
	}
	b[0xFC] = dxHashHalfMD4
	b[0xFD] = 1 // s_jnl_backup_type: i_block copy
	put16(b, 0xFE, descSize)
	put32(b, 0x100, mntoptXattrUser|mntoptACL)
	put32(b, 0x108, t) // s_mkfs_time
	jf := im.journalFields()
	copy(b[0x10C:0x148], jf.iblock)
	put32(b, 0x148, uint32(jf.size>>32))
	put32(b, 0x14C, uint32(jf.size))
	put32(b, 0x150, uint32(g.blocks>>32))
	put32(b, 0x154, uint32(reserved>>32))
	put32(b, 0x158, uint32(freeBlocks>>32))
	put16(b, 0x15C, extraIsize)
	put16(b, 0x15E, extraIsize)
	put32(b, 0x160, flagsSignedHash)
	b[0x174] = logGrpPerFlex
	b[0x175] = 1   // crc32c
	b[0x274] = thi // s_wtime_hi
	b[0x276] = thi // s_mkfs_time_hi
	b[0x277] = thi // s_lastcheck_hi
	put32(b, 0x3FC, crc32c(^uint32(0), b[:0x3FC]))
	return b
}
