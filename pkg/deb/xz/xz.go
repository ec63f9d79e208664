// Package xz decodes .xz streams (the format of xz-utils) whose blocks use
// the LZMA2 filter alone, which is how dpkg-deb compresses every member
// of a Debian package and how Debian's kernels compress their modules.
//
// A Reader can be reused: Reset starts a new stream and DecodeAll decodes
// one held in memory, both keeping the window, buffers and probability
// tables, so that a worker decoding many streams allocates once.
//
// It exists for speed: xz decoding is the hot loop of unpacking packages
// and of depmod. Per core it is as fast as xz-utils (bench/unpack/XZ.md
// has the figures), for these reasons:
//
//   - The range coder's state (range, code, input position) is passed by
//     value through small functions the compiler inlines, so it lives in
//     registers; only what every symbol needs is kept in locals, the
//     rest in the decoder, so that it does not crowd them out.
//   - Literals and bit trees, whose bits are close to random, are decoded
//     without a branch on the bit or on normalising: both outcomes are
//     computed and selected with a mask, which costs less than the
//     branch mispredictions it avoids. Bits that choose what to decode
//     next (match or literal, which repeat) keep their branch.
//   - Each LZMA2 chunk's compressed bytes (at most 64 KiB) are copied into
//     a fixed array indexed with a mask, and the probability tables are
//     sized to powers of two, so almost no access needs a bounds check.
//   - Chunks decode straight into a linear window that slides only when
//     full; short matches are copied as two 8-byte words. DecodeAll
//     decodes into the caller's slice, sized once from the stream index.
//
// Everything the format checks is verified: header and index CRC32s,
// each block's CRC32, CRC64 or SHA-256, block and index sizes, and the
// stream footer. Filter chains other than a lone LZMA2 (BCJ, delta) are
// reported as unsupported. Input is hostile: every failure is an error,
// never a panic, and the dictionary size is bounded by the caller.
package xz

import (
	"bytes"
	"crypto/sha256"
	"encoding/binary"
	"errors"
	"fmt"
	"hash"
	"hash/crc32"
	"hash/crc64"
	"io"
	"slices"
)

var (
	errTruncated = errors.New("truncated stream")
	errHeader    = errors.New("not an xz stream (bad magic)")
	errNoInput   = errors.New("no input: call Reset first")
)

var (
	magic       = []byte{0xfd, '7', 'z', 'X', 'Z', 0}
	footerMagic = []byte{'Y', 'Z'}
	zeros       = []byte{0, 0, 0, 0}
	crc64Table  = crc64.MakeTable(crc64.ECMA)
)

// inBufSize is the streaming input buffer: room for a whole LZMA2 chunk
// (at most 64 KiB of compressed data) without shifting on every chunk.
const inBufSize = 128 << 10

// input is the compressed stream. buf[off:] is read but not consumed;
// with r nil (DecodeAll) buf is the whole input.
type input struct {
	r   io.Reader
	buf []byte
	off int
	n   int64 // bytes consumed, for the size checks
	err error // r's error once it has returned one
}

// fill makes k unread bytes available, reading r as needed; it reports
// whether the input has them.
func (r *input) fill(k int) bool {
	for zeros := 0; len(r.buf)-r.off < k; {
		if r.r == nil || r.err != nil {
			return false
		}
		if cap(r.buf)-r.off < k {
			n := copy(r.buf[:cap(r.buf)], r.buf[r.off:])
			r.buf, r.off = r.buf[:n], 0
			if cap(r.buf) < k {
				r.buf = append(make([]byte, 0, max(k, inBufSize)), r.buf...)
			}
		}
		m, err := r.r.Read(r.buf[len(r.buf):cap(r.buf)])
		r.buf = r.buf[:len(r.buf)+m]
		if err != nil {
			r.err = err
		} else if m == 0 {
			if zeros++; zeros == 100 {
				r.err = io.ErrNoProgress
			}
		}
	}
	return true
}

// short is the error for input that ended before k bytes.
func (r *input) short() error {
	if r.err != nil && r.err != io.EOF && r.err != io.ErrUnexpectedEOF {
		return r.err
	}
	return errTruncated
}

// take consumes k bytes, returning them in a slice valid until the next
// call on r.
func (r *input) take(k int) ([]byte, error) {
	if !r.fill(k) {
		return nil, r.short()
	}
	b := r.buf[r.off : r.off+k]
	r.off += k
	r.n += int64(k)
	return b, nil
}

func (r *input) byte() (byte, error) {
	if r.off >= len(r.buf) && !r.fill(1) {
		return 0, r.short()
	}
	c := r.buf[r.off]
	r.off++
	r.n++
	return c, nil
}

func (r *input) be16() (int, error) {
	b, err := r.take(2)
	if err != nil {
		return 0, err
	}
	return int(b[0])<<8 | int(b[1]), nil
}

// blockCheck is a block's integrity check, kept across blocks and
// streams so that checking allocates nothing.
type blockCheck struct {
	typ byte
	c32 uint32
	c64 uint64
	sha hash.Hash
}

func (c *blockCheck) reset(typ byte) {
	c.typ, c.c32, c.c64 = typ, 0, 0
	if typ == 10 {
		if c.sha == nil {
			c.sha = sha256.New()
		}
		c.sha.Reset()
	}
}

func (c *blockCheck) write(p []byte) {
	switch c.typ {
	case 1:
		c.c32 = crc32.Update(c.c32, crc32.IEEETable, p)
	case 4:
		c.c64 = crc64.Update(c.c64, crc64Table, p)
	case 10:
		c.sha.Write(p)
	}
}

// sum appends the check as the format stores it (CRCs little-endian).
func (c *blockCheck) sum(b []byte) []byte {
	switch c.typ {
	case 1:
		return binary.LittleEndian.AppendUint32(b, c.c32)
	case 4:
		return binary.LittleEndian.AppendUint64(b, c.c64)
	case 10:
		return c.sha.Sum(b)
	}
	return b
}

// Reader decompresses an xz file: one or more streams, with stream padding
// between them. It is not safe for concurrent use; give each goroutine
// its own.
type Reader struct {
	in      input
	inBuf   []byte // the streaming input buffer, kept across Reset
	dictMax int
	lz      *lzma2 // allocated at the first block, kept across streams
	err     error

	checkType byte
	check     blockCheck
	inBlock   bool
	blockHdr  blockHeader
	blockIn   int64 // input offset where the block's data began
	blockOut  int64 // bytes the block decoded to
	records   []record
	// scratch holds small buffers that hash/crc32 would otherwise make
	// escape to the heap, costing allocations on every block.
	scratch [32]byte
}

type record struct{ unpadded, uncompressed int64 }

type blockHeader struct {
	size                     int64
	compressed, uncompressed int64 // -1 when absent
	dictSize                 int
}

// NewReader returns a Reader of the xz data in r that refuses LZMA2
// dictionaries over dictMax bytes. It reads the first stream header.
//
// With r nil it reads nothing and returns a Reader for Reset or
// DecodeAll, as zstd.NewReader(nil) does; Read fails until Reset.
func NewReader(r io.Reader, dictMax int) (*Reader, error) {
	z := &Reader{dictMax: dictMax, err: errNoInput}
	if r == nil {
		return z, nil
	}
	if err := z.Reset(r); err != nil {
		return nil, err
	}
	return z, nil
}

// Reset discards the Reader's state and starts reading the xz data in r,
// as NewReader does, but keeps the buffers, window and probability
// tables, so that decoding many streams with one Reader allocates
// nothing once the window has grown to the largest stream's needs. An
// earlier error, including a failed stream, does not carry over. On a
// bad stream header Reset returns the error, which Read then returns too.
func (z *Reader) Reset(r io.Reader) error {
	if r == nil {
		z.err = errNoInput
		return z.err
	}
	if z.inBuf == nil {
		z.inBuf = make([]byte, 0, inBufSize)
	}
	z.in = input{r: r, buf: z.inBuf[:0]}
	z.err = z.start()
	return z.err
}

// start clears the per-input state and reads the first stream header.
func (z *Reader) start() error {
	z.inBlock = false
	z.records = z.records[:0]
	if z.lz != nil {
		z.lz.restart()
	}
	return z.streamHeader()
}

// DecodeAll decodes the xz data in src, all of it (one or more streams,
// with stream padding between them), and appends the result to dst,
// returning the extended slice. It is the path for small streams held in
// memory, such as kernel modules: it reads src in place and decodes
// straight into dst, with every check Read makes and the same dictionary
// limit. On an error it returns dst as it was, though its spare capacity
// may have been written.
//
// DecodeAll reuses z's tables as Reset does; it ends any stream being
// read with Read, which fails afterwards until Reset. The output is
// bounded only by what the stream decodes to: for untrusted input whose
// size is not bounded elsewhere, Read through an io.LimitReader.
func (z *Reader) DecodeAll(src, dst []byte) ([]byte, error) {
	orig := dst
	z.in = input{buf: src}
	z.err = errNoInput
	err := z.start()
	if err != nil {
		return dst, err
	}
	if z.lz == nil {
		z.lz = new(lzma2)
	}
	if h := sizeHint(src); h > 0 {
		// Allocate the output once, as the index claims it; the claim is
		// checked as the blocks decode, and bounded here so that a
		// hostile one cannot make DecodeAll allocate more than a
		// generous ratio of the input.
		dst = slices.Grow(dst, int(min(h, 32*int64(len(src))+4096)))
	}
	d := z.lz
	win := d.buf
	d.buf, d.pos, d.emit, d.appending = dst[:cap(dst)], len(dst), len(dst), true
	for err == nil {
		err = z.step()
	}
	out := d.buf[:d.pos]
	d.buf, d.pos, d.emit, d.appending = win, 0, 0, false
	z.in = input{}
	if err != io.EOF {
		return orig, err
	}
	return out, nil
}

// sizeHint returns the uncompressed size the index of src's last stream
// claims, or 0 if src does not end in a readable index. Nothing is
// verified here: DecodeAll uses it only to size its output.
func sizeHint(src []byte) int64 {
	if len(src) < 24 {
		return 0
	}
	f := src[len(src)-12:]
	if !bytes.Equal(f[10:], footerMagic) {
		return 0
	}
	isz := (int64(binary.LittleEndian.Uint32(f[4:8])) + 1) * 4
	if isz > int64(len(src)-24) {
		return 0
	}
	idx := src[len(src)-12-int(isz) : len(src)-12]
	if idx[0] != 0 {
		return 0
	}
	n, b, err := vli(idx[1:])
	if err != nil {
		return 0
	}
	var total int64
	for ; n > 0; n-- {
		var u int64
		if _, b, err = vli(b); err != nil {
			return 0
		}
		if u, b, err = vli(b); err != nil || u > 1<<40 {
			return 0
		}
		if total += u; total > 1<<40 {
			return 0
		}
	}
	return total
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
	z.check.write(z.lz.buf[z.lz.pos-n : z.lz.pos])
	z.blockOut += int64(n)
	if u := z.blockHdr.uncompressed; u >= 0 && z.blockOut > u {
		return errors.New("block larger than its header says")
	}
	return nil
}

func (z *Reader) streamHeader() error {
	h, err := z.in.take(12)
	if err != nil {
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
	rest, err := z.in.take(size - 1)
	if err != nil {
		return err
	}
	z.scratch[0] = c
	crc := crc32.Update(0, crc32.IEEETable, z.scratch[:1])
	if crc32.Update(crc, crc32.IEEETable, rest[:size-5]) != binary.LittleEndian.Uint32(rest[size-5:]) {
		return errors.New("block header CRC32 mismatch")
	}
	h, err := z.parseBlockHeader(rest[:size-5])
	if err != nil {
		return err
	}
	h.size = int64(size)
	if z.lz == nil {
		z.lz = new(lzma2)
	}
	// Each block starts with a dictionary reset, so the window of the
	// previous block or stream is reused as it is.
	z.lz.startBlock(h.dictSize, h.uncompressed)
	z.blockHdr = h
	z.inBlock = true
	z.blockIn = z.in.n
	z.blockOut = 0
	z.check.reset(z.checkType)
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
	pad, err := z.in.take(int((4 - comp%4) % 4))
	if err != nil {
		return err
	}
	for _, c := range pad {
		if c != 0 {
			return errors.New("non-zero block padding")
		}
	}
	cs := checkSize(z.checkType)
	stored, err := z.in.take(cs)
	if err != nil {
		return err
	}
	if !bytes.Equal(z.check.sum(z.scratch[:0]), stored) {
		return errors.New("block check mismatch: the data is corrupt")
	}
	z.records = append(z.records, record{h.size + comp + int64(cs), z.blockOut})
	return nil
}

// index reads and verifies the index (its indicator byte already read),
// then the stream footer, then any stream padding and following stream.
func (z *Reader) index() error {
	crc := crc32.Update(0, crc32.IEEETable, zeros[:1])
	size := int64(1)
	readVLI := func() (int64, error) {
		b := z.scratch[:9]
		for i := range b {
			c, err := z.in.byte()
			if err != nil {
				return 0, err
			}
			b[i] = c
			if c&0x80 == 0 {
				crc = crc32.Update(crc, crc32.IEEETable, b[:i+1])
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
	pad, err := z.in.take(int((4 - size%4) % 4))
	if err != nil {
		return err
	}
	for _, c := range pad {
		if c != 0 {
			return errors.New("non-zero index padding")
		}
	}
	crc = crc32.Update(crc, crc32.IEEETable, pad)
	size += int64(len(pad))
	b, err := z.in.take(4)
	if err != nil {
		return err
	}
	if crc != binary.LittleEndian.Uint32(b) {
		return errors.New("index CRC32 mismatch")
	}
	size += 4
	f, err := z.in.take(12)
	if err != nil {
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
		if !z.in.fill(1) {
			if z.in.err != nil && z.in.err != io.EOF {
				return z.in.err
			}
			return io.EOF
		}
		if z.in.buf[z.in.off] != 0 {
			return z.streamHeader()
		}
		pad, err := z.in.take(4)
		if err != nil {
			return errors.New("stream padding not a multiple of four bytes")
		}
		if !bytes.Equal(pad, zeros) {
			return errors.New("bad stream padding")
		}
	}
}
