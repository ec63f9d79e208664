// Package xz decodes the common case of .xz files quickly: one stream with
// one block whose only filter is LZMA2, which is how the kernel build
// compresses modules (xz --check=crc32 --lzma2=dict=1MiB). The whole
// output is kept in one buffer that doubles as the LZMA dictionary, so
// there are no layered readers or ring-buffer copies.
//
// Decode returns ErrUnsupported for anything else (BCJ filters, several
// blocks or streams) so that callers can fall back to a general decoder.
// Corrupt input gives an error, never a panic, and output is accepted only
// when the block's check (CRC32, CRC64 or SHA-256) matches.
package xz

import (
	"bytes"
	"crypto/sha256"
	"encoding/binary"
	"errors"
	"fmt"
	"hash/crc32"
	"hash/crc64"
)

// ErrUnsupported marks valid-looking input this decoder does not handle.
var ErrUnsupported = errors.New("xz: layout not supported by the fast decoder")

var errCorrupt = errors.New("xz: corrupt data")

var crc64Table = crc64.MakeTable(crc64.ECMA)

// Decode decodes a complete .xz file whose uncompressed size is at most
// maxSize.
func Decode(in []byte, maxSize int) ([]byte, error) {
	if len(in) < 12+12 || !bytes.Equal(in[:6], []byte{0xFD, '7', 'z', 'X', 'Z', 0}) {
		return nil, errors.New("xz: not an xz file")
	}
	if crc32.ChecksumIEEE(in[6:8]) != binary.LittleEndian.Uint32(in[8:12]) || in[6] != 0 {
		return nil, errors.New("xz: corrupt stream header")
	}
	check := in[7] & 0x0F
	var checkSize int
	switch check {
	case 0:
	case 1:
		checkSize = 4
	case 4:
		checkSize = 8
	case 10:
		checkSize = 32
	default:
		return nil, ErrUnsupported
	}
	p := 12
	if in[p] == 0 {
		return nil, ErrUnsupported // no blocks
	}
	d := &decoder{max: maxSize}
	var sizes []int // uncompressed size of each block
	for p < len(in) && in[p] != 0 {
		n, err := d.block(in, p, check, checkSize)
		if err != nil {
			return nil, err
		}
		p = n
		sizes = append(sizes, len(d.out)-sum(sizes))
	}
	// The index must list the blocks just decoded; then come the footer
	// and the end of the file (a second stream would be dropped otherwise).
	if p >= len(in) {
		return nil, errCorrupt
	}
	idx := p
	count, q := varint(in, p+1)
	if q < 0 || count != uint64(len(sizes)) {
		return nil, errCorrupt
	}
	for _, size := range sizes {
		if _, q = varint(in, q); q < 0 {
			return nil, errCorrupt
		}
		var usize uint64
		if usize, q = varint(in, q); q < 0 || usize != uint64(size) {
			return nil, errCorrupt
		}
	}
	for (q-idx)%4 != 0 {
		if q >= len(in) || in[q] != 0 {
			return nil, errCorrupt
		}
		q++
	}
	if q+4+12 != len(in) {
		return nil, ErrUnsupported // stream padding or more streams
	}
	if crc32.ChecksumIEEE(in[idx:q]) != binary.LittleEndian.Uint32(in[q:]) {
		return nil, errors.New("xz: corrupt index")
	}
	if !bytes.Equal(in[len(in)-2:], []byte{'Y', 'Z'}) {
		return nil, errors.New("xz: corrupt stream footer")
	}
	return d.out, nil
}

func sum(s []int) int {
	t := 0
	for _, v := range s {
		t += v
	}
	return t
}

// block decodes the block whose header starts at in[p] and returns the
// position after its check field.
func (d *decoder) block(in []byte, p int, check byte, checkSize int) (int, error) {
	blockStart, outStart := p, len(d.out)
	hsize := (int(in[p]) + 1) * 4
	if p+hsize > len(in) {
		return 0, errCorrupt
	}
	hdr := in[p : p+hsize]
	if crc32.ChecksumIEEE(hdr[:hsize-4]) != binary.LittleEndian.Uint32(hdr[hsize-4:]) {
		return 0, errors.New("xz: corrupt block header")
	}
	flags := hdr[1]
	if flags&0x3C != 0 || flags&3 != 0 {
		return 0, ErrUnsupported // reserved bits, or more than one filter
	}
	q := 2
	uncompressed := -1
	if flags&0x40 != 0 {
		if _, q = varint(hdr, q); q < 0 {
			return 0, errCorrupt
		}
	}
	if flags&0x80 != 0 {
		var v uint64
		if v, q = varint(hdr, q); q < 0 {
			return 0, errCorrupt
		}
		if v > uint64(d.max-len(d.out)) {
			return 0, fmt.Errorf("xz: uncompressed size exceeds %d bytes", d.max)
		}
		uncompressed = int(v)
	}
	id, q := varint(hdr, q)
	if q < 0 || id != 0x21 {
		return 0, ErrUnsupported
	}
	psize, q := varint(hdr, q)
	if q < 0 || psize != 1 || q >= hsize-4 || hdr[q] > 40 {
		return 0, errCorrupt
	}
	p += hsize
	if d.out == nil {
		hint := len(in) * 8
		if uncompressed >= 0 {
			hint = uncompressed
		}
		d.out = make([]byte, 0, min(hint, d.max))
	}
	n, err := d.lzma2(in[p:])
	if err != nil {
		return 0, err
	}
	p += n
	out := d.out[outStart:]
	if uncompressed >= 0 && uncompressed != len(out) {
		return 0, errCorrupt
	}
	for (p-blockStart)%4 != 0 {
		if p >= len(in) || in[p] != 0 {
			return 0, errCorrupt
		}
		p++
	}
	if p+checkSize > len(in) {
		return 0, errCorrupt
	}
	sum := in[p : p+checkSize]
	switch check {
	case 1:
		if crc32.ChecksumIEEE(out) != binary.LittleEndian.Uint32(sum) {
			return 0, errors.New("xz: CRC32 mismatch")
		}
	case 4:
		if crc64.Checksum(out, crc64Table) != binary.LittleEndian.Uint64(sum) {
			return 0, errors.New("xz: CRC64 mismatch")
		}
	case 10:
		if h := sha256.Sum256(out); !bytes.Equal(h[:], sum) {
			return 0, errors.New("xz: SHA-256 mismatch")
		}
	}
	return p + checkSize, nil
}

// varint reads xz's multibyte integer at b[p:]; the new position is -1 on
// error.
func varint(b []byte, p int) (uint64, int) {
	var v uint64
	for i := 0; i < 9; i++ {
		if p >= len(b) {
			return 0, -1
		}
		c := b[p]
		p++
		v |= uint64(c&0x7F) << (7 * i)
		if c&0x80 == 0 {
			if c == 0 && i > 0 {
				return 0, -1
			}
			return v, p
		}
	}
	return 0, -1
}
