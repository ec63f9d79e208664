package apt

import (
	"bytes"
	"encoding/binary"
	"errors"
	"fmt"
	"hash/crc32"
	"io"

	"golang.org/x/sync/errgroup"

	"github.com/debatom/debatom/pkg/deb/xz"
)

// Debian's indexes are compressed by multi-threaded xz: one stream of
// independent blocks (three of 24 MiB for trixie's amd64 index). Each block
// can be decoded on its own, so the blocks are decoded in parallel, each
// rewrapped as a one-block stream for pkg/deb/xz. Anything else (several
// streams, stream padding, one block) is decoded whole instead. The caller
// checks the result against the SHA256 of the signed Release, so this
// splitting can cost time when it fails but cannot change what is accepted.

var (
	xzMagic       = []byte{0xfd, '7', 'z', 'X', 'Z', 0}
	errNotBlocked = errors.New("not a multi-block xz stream")
)

// xzBlock is one block's place in the compressed and decompressed data.
type xzBlock struct {
	off, unpadded  int64 // compressed offset and size without padding
	uoff, unpacked int64
}

// xzBlocks reads the index at the end of a single-stream xz file.
func xzBlocks(data []byte) ([]xzBlock, int64, error) {
	if len(data) < 24 || !bytes.Equal(data[:6], xzMagic) || !bytes.Equal(data[len(data)-2:], []byte("YZ")) {
		return nil, 0, errNotBlocked
	}
	foot := data[len(data)-12:]
	if !bytes.Equal(foot[8:10], data[6:8]) || crc32.ChecksumIEEE(foot[4:10]) != binary.LittleEndian.Uint32(foot) {
		return nil, 0, errNotBlocked
	}
	isize := (int64(binary.LittleEndian.Uint32(foot[4:8])) + 1) * 4
	istart := int64(len(data)) - 12 - isize
	if istart < 12 {
		return nil, 0, errNotBlocked
	}
	idx := data[istart : istart+isize]
	if idx[0] != 0 || crc32.ChecksumIEEE(idx[:isize-4]) != binary.LittleEndian.Uint32(idx[isize-4:]) {
		return nil, 0, errNotBlocked
	}
	d := decoder{b: idx[1 : isize-4]}
	n := d.uvarint()
	if d.err || n < 2 || n > uint64(len(d.b)) {
		return nil, 0, errNotBlocked
	}
	blocks := make([]xzBlock, n)
	off, uoff := int64(12), int64(0)
	for i := range blocks {
		unpadded, unpacked := d.uvarint(), d.uvarint()
		if d.err || unpadded == 0 || unpadded > uint64(istart) || unpacked > maxIndexText {
			return nil, 0, errNotBlocked
		}
		blocks[i] = xzBlock{off: off, unpadded: int64(unpadded), uoff: uoff, unpacked: int64(unpacked)}
		off += (int64(unpadded) + 3) &^ 3
		uoff += int64(unpacked)
	}
	if off != istart || uoff > maxIndexText {
		return nil, 0, errNotBlocked
	}
	return blocks, uoff, nil
}

// maxIndexText bounds the decompressed size of one index.
const maxIndexText = 4 << 30

// xzOneBlock wraps one block of a stream as a stream of its own: the
// original header, the block, and a one-record index and footer.
func xzOneBlock(data []byte, b xzBlock) []byte {
	padded := (b.unpadded + 3) &^ 3
	out := make([]byte, 0, 12+padded+32)
	out = append(out, data[:12]...)
	out = append(out, data[b.off:b.off+padded]...)
	idx := []byte{0}
	idx = binary.AppendUvarint(idx, 1)
	idx = binary.AppendUvarint(idx, uint64(b.unpadded))
	idx = binary.AppendUvarint(idx, uint64(b.unpacked))
	for len(idx)%4 != 0 {
		idx = append(idx, 0)
	}
	idx = binary.LittleEndian.AppendUint32(idx, crc32.ChecksumIEEE(idx))
	out = append(out, idx...)
	var foot [12]byte
	binary.LittleEndian.PutUint32(foot[4:], uint32(len(idx)/4-1))
	copy(foot[8:], data[6:8])
	binary.LittleEndian.PutUint32(foot[:4], crc32.ChecksumIEEE(foot[4:10]))
	copy(foot[10:], "YZ")
	return append(out, foot[:]...)
}

// xzDecodeBlocks decodes a multi-block stream with its blocks in parallel,
// or returns errNotBlocked. size is what the signed Release says the text
// is; nothing is allocated for an index that disagrees.
func xzDecodeBlocks(data []byte, size int64, name string) ([]byte, error) {
	blocks, total, err := xzBlocks(data)
	if err != nil {
		return nil, err
	}
	if total != size {
		return nil, fmt.Errorf("%s: the xz index gives %d bytes of text, signed Release says %d", name, total, size)
	}
	out := make([]byte, total)
	var g errgroup.Group
	g.SetLimit(4)
	for _, b := range blocks {
		g.Go(func() error {
			r, err := xz.NewReader(bytes.NewReader(xzOneBlock(data, b)), 64<<20)
			if err != nil {
				return err
			}
			if _, err := io.ReadFull(r, out[b.uoff:b.uoff+b.unpacked]); err != nil {
				return err
			}
			if n, err := r.Read(make([]byte, 1)); n != 0 || err != io.EOF {
				return fmt.Errorf("block at %d decodes to more than its %d bytes", b.off, b.unpacked)
			}
			return nil
		})
	}
	if err := g.Wait(); err != nil {
		return nil, fmt.Errorf("%s: decompress: %w", name, err)
	}
	return out, nil
}
