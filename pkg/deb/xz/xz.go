// Package xz decodes .xz streams (the format of xz-utils) whose blocks use
// the LZMA2 filter alone, which is how dpkg-deb compresses every member
// of a Debian package.
//
// It exists for speed: xz decoding is the hot loop of unpacking packages,
// and this decoder keeps the range coder's state in registers and decodes
// whole LZMA2 chunks into a linear window, which makes it faster than the
// general-purpose pure-Go decoders (bench/unpack/XZ.md has the figures).
// Everything the format checks is verified: header and index CRC32s,
// each block's CRC32, CRC64 or SHA-256, block and index sizes, and the
// stream footer. Filter chains other than a lone LZMA2 (BCJ, delta) are
// reported as unsupported. Input is hostile: every failure is an error,
// never a panic, and the dictionary size is bounded by the caller.
package xz

import (
	"bufio"
	"bytes"
	"crypto/sha256"
	"encoding/binary"
	"errors"
	"fmt"
	"hash"
	"hash/crc32"
	"hash/crc64"
	"io"
)

var (
	errTruncated = errors.New("truncated stream")
	errHeader    = errors.New("not an xz stream (bad magic)")
)

var (
	magic       = []byte{0xfd, '7', 'z', 'X', 'Z', 0}
	footerMagic = []byte{'Y', 'Z'}
	crc64Table  = crc64.MakeTable(crc64.ECMA)
)

// input reads the compressed stream, counting bytes for the size checks.
type input struct {
	r *bufio.Reader
	n int64
}

func (r *input) byte() (byte, error) {
	c, err := r.r.ReadByte()
	if err != nil {
		return 0, noEOF(err)
	}
	r.n++
	return c, nil
}

func (r *input) full(b []byte) error {
	n, err := io.ReadFull(r.r, b)
	r.n += int64(n)
	return noEOF(err)
}

func (r *input) be16() (int, error) {
	var b [2]byte
	if err := r.full(b[:]); err != nil {
		return 0, err
	}
	return int(b[0])<<8 | int(b[1]), nil
}

func noEOF(err error) error {
	if err == io.EOF || err == io.ErrUnexpectedEOF {
		return errTruncated
	}
	return err
}

// Reader decompresses an xz file: one or more streams, with stream padding
// between them.
type Reader struct {
	in      input
	dictMax int
	lz      *lzma2
	err     error

	checkType byte
	check     hash.Hash // of the current block's output, nil for none
	inBlock   bool
	blockHdr  blockHeader
	blockIn   int64 // input offset where the block's data began
	blockOut  int64 // bytes the block decoded to
	records   []record
	indexSize int64
}

type record struct{ unpadded, uncompressed int64 }

type blockHeader struct {
	size                     int64
	compressed, uncompressed int64 // -1 when absent
	dictSize                 int
}

// NewReader returns a Reader of the xz data in r that refuses LZMA2
// dictionaries over dictMax bytes. It reads the first stream header.
func NewReader(r io.Reader, dictMax int) (*Reader, error) {
	z := &Reader{in: input{r: bufio.NewReaderSize(r, 64<<10)}, dictMax: dictMax}
	if err := z.streamHeader(); err != nil {
		return nil, err
	}
	return z, nil
}

// Read reads decompressed bytes.
func (z *Reader) Read(p []byte) (int, error) {
	for {
		if z.lz != nil && z.lz.emit < z.lz.pos {
			n := copy(p, z.lz.buf[z.lz.emit:z.lz.pos])
			z.lz.emit += n
			return n, nil
		}
		if z.err != nil {
			return 0, z.err
		}
		z.err = z.step()
	}
}

// step decodes the next chunk, or moves to the next block, index or
// stream. It returns io.EOF at the clean end of the input.
func (z *Reader) step() error {
	if !z.inBlock {
		return z.nextBlock()
	}
	n, err := z.lz.chunk(&z.in)
	if err == io.EOF {
		return z.endBlock()
	}
	if err != nil {
		return err
	}
	if z.check != nil {
		z.check.Write(z.lz.buf[z.lz.pos-n : z.lz.pos])
	}
	z.blockOut += int64(n)
	if u := z.blockHdr.uncompressed; u >= 0 && z.blockOut > u {
		return errors.New("block larger than its header says")
	}
	return nil
}

func (z *Reader) streamHeader() error {
	var h [12]byte
	if err := z.in.full(h[:]); err != nil {
		return err
	}
	if !bytes.Equal(h[:6], magic) {
		return errHeader
	}
	if crc32.ChecksumIEEE(h[6:8]) != binary.LittleEndian.Uint32(h[8:]) {
		return errors.New("stream header CRC32 mismatch")
	}
	if h[6] != 0 || h[7] > 15 {
		return errors.New("unsupported stream flags")
	}
	z.checkType = h[7]
	switch z.checkType {
	case 0, 1, 4, 10:
	default:
		return fmt.Errorf("unsupported check type %d", z.checkType)
	}
	z.records = z.records[:0]
	return nil
}

func (z *Reader) newCheck() hash.Hash {
	switch z.checkType {
	case 1:
		return crc32.NewIEEE()
	case 4:
		return crc64.New(crc64Table)
	case 10:
		return sha256.New()
	}
	return nil
}

func checkSize(t byte) int {
	switch t {
	case 1:
		return 4
	case 4:
		return 8
	case 10:
		return 32
	}
	return 0
}

func (z *Reader) nextBlock() error {
	c, err := z.in.byte()
	if err != nil {
		return err
	}
	if c == 0 {
		return z.index()
	}
	size := (int(c) + 1) * 4
	hb := make([]byte, size)
	hb[0] = c
	if err := z.in.full(hb[1:]); err != nil {
		return err
	}
	if crc32.ChecksumIEEE(hb[:size-4]) != binary.LittleEndian.Uint32(hb[size-4:]) {
		return errors.New("block header CRC32 mismatch")
	}
	h, err := z.parseBlockHeader(hb[1 : size-4])
	if err != nil {
		return err
	}
	h.size = int64(size)
	if z.lz == nil || z.lz.dictSize < h.dictSize {
		z.lz = newLZMA2(h.dictSize)
	} else {
		// Reuse the window of the previous block; each block starts
		// with a dictionary reset.
		z.lz.dictSize = h.dictSize
		z.lz.needDictReset, z.lz.needProps = true, true
	}
	z.blockHdr = h
	z.inBlock = true
	z.blockIn = z.in.n
	z.blockOut = 0
	z.check = z.newCheck()
	return nil
}

func (z *Reader) parseBlockHeader(b []byte) (blockHeader, error) {
	h := blockHeader{compressed: -1, uncompressed: -1}
	flags := b[0]
	b = b[1:]
	if flags&0x3c != 0 {
		return h, errors.New("unsupported block flags")
	}
	var err error
	if flags&0x40 != 0 {
		if h.compressed, b, err = vli(b); err != nil || h.compressed == 0 {
			return h, errors.New("bad block compressed size")
		}
	}
	if flags&0x80 != 0 {
		if h.uncompressed, b, err = vli(b); err != nil {
			return h, errors.New("bad block uncompressed size")
		}
	}
	if flags&3 != 0 {
		return h, errors.New("unsupported filter chain (only LZMA2 alone is supported)")
	}
	id, b, err := vli(b)
	if err != nil {
		return h, errors.New("bad filter flags")
	}
	if id != 0x21 {
		return h, fmt.Errorf("unsupported filter %#x (only LZMA2 is supported)", id)
	}
	psize, b, err := vli(b)
	if err != nil || psize != 1 || len(b) < 1 {
		return h, errors.New("bad LZMA2 filter properties")
	}
	p := b[0]
	b = b[1:]
	if p > 40 {
		return h, errors.New("bad LZMA2 dictionary size")
	}
	var dict uint64 = 0xffffffff
	if p < 40 {
		dict = uint64(2|p&1) << (p/2 + 11)
	}
	if dict > uint64(z.dictMax) {
		return h, fmt.Errorf("LZMA2 dictionary of %d bytes is over the %d-byte limit", dict, z.dictMax)
	}
	h.dictSize = int(dict)
	for _, c := range b {
		if c != 0 {
			return h, errors.New("non-zero block header padding")
		}
	}
	return h, nil
}

// vli decodes a variable-length integer of at most 9 bytes.
func vli(b []byte) (int64, []byte, error) {
	var v uint64
	for i := 0; i < 9 && i < len(b); i++ {
		c := b[i]
		v |= uint64(c&0x7f) << (7 * i)
		if c&0x80 == 0 {
			if c == 0 && i > 0 {
				return 0, nil, errCorruptVLI
			}
			if v > 1<<63-1 {
				return 0, nil, errCorruptVLI
			}
			return int64(v), b[i+1:], nil
		}
	}
	return 0, nil, errCorruptVLI
}

var errCorruptVLI = errors.New("bad variable-length integer")

func (z *Reader) endBlock() error {
	z.inBlock = false
	comp := z.in.n - z.blockIn
	h := z.blockHdr
	if h.compressed >= 0 && comp != h.compressed {
		return errors.New("block compressed size differs from its header")
	}
	if h.uncompressed >= 0 && z.blockOut != h.uncompressed {
		return errors.New("block uncompressed size differs from its header")
	}
	for pad := (4 - comp%4) % 4; pad > 0; pad-- {
		c, err := z.in.byte()
		if err != nil {
			return err
		}
		if c != 0 {
			return errors.New("non-zero block padding")
		}
	}
	cs := checkSize(z.checkType)
	var sum [32]byte
	if err := z.in.full(sum[:cs]); err != nil {
		return err
	}
	if z.check != nil {
		got := z.check.Sum(nil)
		if z.checkType == 1 || z.checkType == 4 {
			// CRCs are stored little-endian; hash/crc* sum big-endian.
			for i, j := 0, len(got)-1; i < j; i, j = i+1, j-1 {
				got[i], got[j] = got[j], got[i]
			}
		}
		if !bytes.Equal(got, sum[:cs]) {
			return errors.New("block check mismatch: the data is corrupt")
		}
	}
	z.records = append(z.records, record{h.size + comp + int64(cs), z.blockOut})
	return nil
}

// index reads and verifies the index (its indicator byte already read),
// then the stream footer, then any stream padding and following stream.
func (z *Reader) index() error {
	crc := crc32.NewIEEE()
	crc.Write([]byte{0})
	size := int64(1)
	readVLI := func() (int64, error) {
		var b [9]byte
		for i := range b {
			c, err := z.in.byte()
			if err != nil {
				return 0, err
			}
			b[i] = c
			if c&0x80 == 0 {
				crc.Write(b[:i+1])
				size += int64(i + 1)
				v, _, err := vli(b[:i+1])
				return v, err
			}
		}
		return 0, errCorruptVLI
	}
	n, err := readVLI()
	if err != nil {
		return err
	}
	if n != int64(len(z.records)) {
		return errors.New("index lists a different number of blocks")
	}
	for _, rec := range z.records {
		u, err := readVLI()
		if err != nil {
			return err
		}
		c, err := readVLI()
		if err != nil {
			return err
		}
		if u != rec.unpadded || c != rec.uncompressed {
			return errors.New("index disagrees with the blocks")
		}
	}
	for ; size%4 != 0; size++ {
		c, err := z.in.byte()
		if err != nil {
			return err
		}
		if c != 0 {
			return errors.New("non-zero index padding")
		}
		crc.Write([]byte{0})
	}
	var b [4]byte
	if err := z.in.full(b[:]); err != nil {
		return err
	}
	if crc.Sum32() != binary.LittleEndian.Uint32(b[:]) {
		return errors.New("index CRC32 mismatch")
	}
	size += 4
	var f [12]byte
	if err := z.in.full(f[:]); err != nil {
		return err
	}
	if !bytes.Equal(f[10:], footerMagic) {
		return errors.New("bad stream footer magic")
	}
	if crc32.ChecksumIEEE(f[4:10]) != binary.LittleEndian.Uint32(f[:4]) {
		return errors.New("stream footer CRC32 mismatch")
	}
	if (int64(binary.LittleEndian.Uint32(f[4:8]))+1)*4 != size {
		return errors.New("stream footer disagrees with the index size")
	}
	if f[8] != 0 || f[9] != z.checkType {
		return errors.New("stream footer flags differ from the header")
	}
	return z.nextStream()
}

// nextStream skips stream padding (zero bytes in groups of four) and
// reads the next stream header, or returns io.EOF at the end of input.
func (z *Reader) nextStream() error {
	for {
		b, err := z.in.r.Peek(1)
		if err == io.EOF {
			return io.EOF
		}
		if err != nil {
			return err
		}
		if b[0] != 0 {
			return z.streamHeader()
		}
		var pad [4]byte
		if err := z.in.full(pad[:]); err != nil {
			return errors.New("stream padding not a multiple of four bytes")
		}
		if pad != [4]byte{} {
			return errors.New("bad stream padding")
		}
	}
}
