package ext4

import (
	"context"
	"io"
	"sort"
)

// ByteRange is a range of bytes of an image.
type ByteRange struct {
	Offset, Length int64
}

// Layout is a planned image: every inode numbered and every block placed,
// with only the writing left. Planning a large tree takes a noticeable
// fraction of writing it, so callers that need the size or the data
// ranges before writing plan once and keep the Layout. A Layout belongs
// to the Builder that made it and is valid until the Builder is changed or
// planned again.
type Layout struct {
	im *image
}

// Plan lays out the image without writing anything. Errors that need the
// whole tree (a hard link to a path never added, an image too small) come
// from here.
func (b *Builder) Plan() (*Layout, error) {
	im, err := b.plan()
	if err != nil {
		return nil, err
	}
	return &Layout{im: im}, nil
}

// SetSize changes Options.Size for the next plan, so that a tree added
// once can be planned at its automatic size and then at the size chosen
// from it, without being added to a second Builder.
func (b *Builder) SetSize(size int64) { b.opts.Size = size }

// Size returns the image size in bytes.
func (l *Layout) Size() int64 { return int64(l.im.geo.blocks) * blockSize }

// Write writes the planned image to w, as Builder.Write does.
func (l *Layout) Write(ctx context.Context, w io.WriterAt) error {
	return l.im.write(ctx, w)
}

// DataRanges returns, sorted and merged, the byte ranges Write may write:
// file contents, directories, extent leaves, attribute blocks, the used
// part of the inode tables, bitmaps, superblocks with their descriptor
// tables and the journal's superblock. Everything else of the image reads
// as zeros, which lets a writer of a sparse format (qcow2) place the data
// before it is written. Zero blocks inside files are included: which
// they are is known only once the contents are read.
func (l *Layout) DataRanges() []ByteRange {
	im := l.im
	g := im.geo
	var spans []span
	add := func(start, n uint64) {
		if n > 0 {
			spans = append(spans, span{start, start + n})
		}
	}
	for _, n := range im.nodes {
		for _, e := range n.lay.extents {
			add(e.phys, uint64(e.length))
		}
		for _, blk := range n.lay.leaves {
			add(blk, 1)
		}
	}
	for _, blk := range im.jleaves {
		add(blk, 1)
	}
	add(im.journal[0].phys, 1)
	for _, xb := range im.xblocks {
		add(xb.blk, 1)
	}
	for grp := uint32(0); grp < g.groups; grp++ {
		if first := grp*g.ipg + 1; first <= im.maxIno {
			last := min(first+g.ipg-1, im.maxIno)
			add(im.itable[grp], (uint64(last-first+1)*inodeSize+blockSize-1)/blockSize)
		}
		add(im.blockBmp[grp], 1)
		add(im.inodeBmp[grp], 1)
		if hasSuper(grp) {
			add(uint64(grp)*blocksPerGrp, 1+uint64(g.gdtBlocks))
		}
	}
	sort.Slice(spans, func(i, j int) bool { return spans[i].start < spans[j].start })
	var out []ByteRange
	for _, s := range spans {
		off, n := int64(s.start)*blockSize, int64(s.end-s.start)*blockSize
		if k := len(out) - 1; k >= 0 && out[k].Offset+out[k].Length >= off {
			out[k].Length = max(out[k].Length, off+n-out[k].Offset)
			continue
		}
		out = append(out, ByteRange{off, n})
	}
	return out
}
