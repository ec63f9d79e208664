package xz

import (
	"encoding/binary"
	"errors"
	"io"
)

var (
	errCorrupt = errors.New("corrupt LZMA2 data")
	errDist    = errors.New("corrupt LZMA2 data: match distance beyond the data decoded")
)

const (
	// inSize is the length of the array a chunk's compressed bytes (at
	// most 64 KiB) are decoded from. Indexing it with i&inMask needs no
	// bounds check, and since the decoder stops as soon as a symbol has
	// read past the chunk's end (one symbol reads at most 48 bytes), the
	// mask never wraps: it only tells the compiler what is already true.
	inSize = 1 << 17
	inMask = inSize - 1
)

// lenDec holds the probabilities of a match-length decoder.
type lenDec struct {
	choice, choice2 uint16
	low, mid        [16][8]uint16
	high            [256]uint16
}

// lzma2 decodes an LZMA2 stream into a linear window. Decoded bytes are
// buf[emit:pos]; the window keeps the last dictSize bytes before pos for
// matches, sliding them to the front when it fills. Its zero value is
// ready for startBlock.
type lzma2 struct {
	dictSize int
	maxLen   int // window length limit: dictSize plus room for chunks
	buf      []byte
	pos      int
	emit     int
	start    int   // where the dictionary began in buf (0 once it slid)
	base     int64 // stream position of buf[0] since the dictionary reset
	// appending is DecodeAll's mode: buf is the caller's dst, which
	// grows and never slides, so it holds every byte since start.
	appending bool

	needDictReset, needProps bool

	lc, lp, pb     uint
	lpMask, pbMask uint32
	state          uint32
	rep            [4]uint32

	// The tables are sized to powers of two, a little beyond what the
	// format uses, so that masked indexes need no bounds checks.
	isMatch    [16 << 4]uint16 // by state<<4 | posState
	isRep      [16]uint16
	isRep0     [16]uint16
	isRep1     [16]uint16
	isRep2     [16]uint16
	isRep0Long [16 << 4]uint16
	distSlot   [4][64]uint16
	distSpec   [128]uint16 // 114 used
	distAlign  [16]uint16
	matchLen   lenDec
	repLen     lenDec
	literal    [16][0x400]uint16 // 1<<(lc+lp) coders of 0x300 used

	in [inSize]byte // the compressed bytes of the chunk being decoded
}

// startBlock prepares for a block with the given dictionary; the block's
// first chunk must reset the dictionary.
func (d *lzma2) startBlock(dictSize int, uncompressed int64) {
	d.dictSize = dictSize
	d.maxLen = dictSize + min(max(dictSize, 4<<20), 16<<20)
	d.needDictReset, d.needProps = true, true
}

// restart drops what a stream being read left behind, for a new one.
func (d *lzma2) restart() {
	d.pos, d.emit, d.start, d.base = 0, 0, 0, 0
}

// room makes space for n more bytes at pos, keeping dictSize bytes of
// history; every decoded byte has been emitted by then.
func (d *lzma2) room(n int) {
	if d.pos+n <= len(d.buf) {
		return
	}
	if d.appending {
		nb := make([]byte, max(2*len(d.buf), d.pos+n, 64<<10))
		copy(nb, d.buf[:d.pos])
		d.buf = nb
		return
	}
	keep := min(d.pos-d.start, d.dictSize)
	if len(d.buf) < d.maxLen {
		// Grow rather than allocate the whole window up front: most
		// members are far smaller than their declared dictionary.
		nl := min(d.maxLen, max(2*len(d.buf), keep+n, 64<<10))
		nb := make([]byte, nl)
		copy(nb, d.buf[d.pos-keep:d.pos])
		d.buf = nb
	} else {
		copy(d.buf, d.buf[d.pos-keep:d.pos])
	}
	d.base += int64(d.pos - keep)
	d.pos, d.emit, d.start = keep, keep, 0
}

func (d *lzma2) resetDict() {
	if d.appending {
		d.start, d.base = d.pos, -int64(d.pos)
		return
	}
	d.base, d.pos, d.emit, d.start = 0, 0, 0, 0
}

func (d *lzma2) resetState() {
	d.state = 0
	d.rep = [4]uint32{}
	for _, p := range [][]uint16{d.isMatch[:], d.isRep[:], d.isRep0[:], d.isRep1[:], d.isRep2[:], d.isRep0Long[:], d.distSpec[:], d.distAlign[:]} {
		for i := range p {
			p[i] = 1024
		}
	}
	for i := range d.distSlot {
		for j := range d.distSlot[i] {
			d.distSlot[i][j] = 1024
		}
	}
	// Only the literal coders lc and lp select are used (one, for what
	// xz writes by default).
	for i := range d.literal[:1<<(d.lc+d.lp)] {
		for j := range d.literal[i][:0x300] {
			d.literal[i][j] = 1024
		}
	}
	for _, l := range []*lenDec{&d.matchLen, &d.repLen} {
		l.choice, l.choice2 = 1024, 1024
		for i := range l.low {
			for j := range l.low[i] {
				l.low[i][j], l.mid[i][j] = 1024, 1024
			}
		}
		for i := range l.high {
			l.high[i] = 1024
		}
	}
}

// chunk reads and decodes the next LZMA2 chunk from r. It returns the
// number of bytes decoded to buf[pos-n:pos], or io.EOF at the end marker.
func (d *lzma2) chunk(r *input) (int, error) {
	c, err := r.byte()
	if err != nil {
		return 0, err
	}
	if c == 0 {
		return 0, io.EOF
	}
	if c >= 0xe0 || c == 1 {
		d.needProps = true
		d.needDictReset = false
		d.resetDict()
	} else if d.needDictReset {
		return 0, errCorrupt
	}
	if c < 0x80 {
		if c > 2 {
			return 0, errCorrupt
		}
		n, err := r.be16()
		if err != nil {
			return 0, err
		}
		n++
		b, err := r.take(n)
		if err != nil {
			return 0, err
		}
		d.room(n)
		d.pos += copy(d.buf[d.pos:], b)
		return n, nil
	}

	u, err := r.be16()
	if err != nil {
		return 0, err
	}
	unc := int(c&0x1f)<<16 + u + 1
	comp, err := r.be16()
	if err != nil {
		return 0, err
	}
	comp++
	switch {
	case c >= 0xc0:
		p, err := r.byte()
		if err != nil {
			return 0, err
		}
		if p >= 9*5*5 {
			return 0, errCorrupt
		}
		d.lc, d.lp, d.pb = uint(p%9), uint(p/9%5), uint(p/45)
		d.lpMask, d.pbMask = 1<<d.lp-1, 1<<d.pb-1
		if d.lc+d.lp > 4 {
			return 0, errCorrupt
		}
		d.needProps = false
		d.resetState()
	case d.needProps:
		return 0, errCorrupt
	case c >= 0xa0:
		d.resetState()
	}
	if comp < 5 {
		return 0, errCorrupt
	}
	b, err := r.take(comp)
	if err != nil {
		return 0, err
	}
	// A range coder's first byte is always zero; nothing else checks it.
	if b[0] != 0 {
		return 0, errCorrupt
	}
	// Copying (at memory speed) costs far less than the bounds checks
	// decoding from b in place would.
	copy(d.in[:], b)
	d.room(unc)
	if err := d.decode(unc, comp); err != nil {
		return 0, err
	}
	return unc, nil
}

// bit decodes one bit with probability *p. It takes and returns the range
// coder's state as values so that, inlined, the state stays in registers.
func bit(in *[inSize]byte, i int, rng, code uint32, p *uint16) (int, uint32, uint32, uint32) {
	if rng < 1<<24 {
		rng <<= 8
		code = code<<8 | uint32(in[i&inMask])
		i++
	}
	v := uint32(*p)
	bound := (rng >> 11) * v
	if code < bound {
		*p = uint16(v + (2048-v)>>5)
		return i, bound, code, 0
	}
	*p = uint16(v - v>>5)
	return i, rng - bound, code - bound, 1
}

// norm and bitc decode a bit as bit does, but without a branch on the
// decoded bit or on normalising, for bits that are hard to predict
// (literals, bit trees): there a mispredicted branch costs more than
// computing both outcomes and selecting with a mask. They are two
// functions so that each stays within the compiler's inlining budget.

// norm shifts another input byte into the range coder when its range has
// fallen under 1<<24.
func norm(in *[inSize]byte, i int, rng, code uint32) (int, uint32, uint32) {
	n := uint32((uint64(rng) - 1<<24) >> 63) // 1 if rng < 1<<24
	sh := n << 3
	return i + int(n), rng << sh, code<<sh | uint32(in[i&inMask])&(0-n)
}

// bitc decodes one bit with probability *p from a normalised coder.
func bitc(rng, code uint32, p *uint16) (uint32, uint32, uint32) {
	v := int32(*p)
	bound := (rng >> 11) * uint32(v)
	// m is all ones for a 0 bit (code < bound), zero for a 1 bit.
	m := int32((uint64(code) - uint64(bound)) >> 32)
	// For a 0 bit v += (2048-v)>>5, which is v -= (v-2017)>>5 with an
	// arithmetic shift; for a 1 bit v -= v>>5.
	*p = uint16(v - (v+m&-2017)>>5)
	return bound + (rng-2*bound)&^uint32(m), code - bound&^uint32(m), uint32(m + 1)
}

// tree3 decodes a three-bit symbol, most significant bit first, unrolled.
func tree3(in *[inSize]byte, i int, rng, code uint32, p *[8]uint16) (int, uint32, uint32, uint32) {
	var b uint32
	i, rng, code = norm(in, i, rng, code)
	rng, code, b = bitc(rng, code, &p[1])
	sym := 2 | b
	i, rng, code = norm(in, i, rng, code)
	rng, code, b = bitc(rng, code, &p[sym&7])
	sym = sym<<1 | b
	i, rng, code = norm(in, i, rng, code)
	rng, code, b = bitc(rng, code, &p[sym&7])
	return i, rng, code, (sym<<1 | b) - 8
}

// tree6 decodes a six-bit symbol (a distance slot).
func tree6(in *[inSize]byte, i int, rng, code uint32, p *[64]uint16) (int, uint32, uint32, uint32) {
	sym := uint32(1)
	var b uint32
	for sym < 64 {
		i, rng, code = norm(in, i, rng, code)
		rng, code, b = bitc(rng, code, &p[sym])
		sym = sym<<1 | b
	}
	return i, rng, code, sym - 64
}

// tree8 decodes an eight-bit symbol (a long match length).
func tree8(in *[inSize]byte, i int, rng, code uint32, p *[256]uint16) (int, uint32, uint32, uint32) {
	sym := uint32(1)
	var b uint32
	for sym < 256 {
		i, rng, code = norm(in, i, rng, code)
		rng, code, b = bitc(rng, code, &p[sym])
		sym = sym<<1 | b
	}
	return i, rng, code, sym - 256
}

// length decodes a match length (2..273).
func length(in *[inSize]byte, i int, rng, code uint32, l *lenDec, posState uint32) (int, uint32, uint32, int) {
	var b, s uint32
	i, rng, code, b = bit(in, i, rng, code, &l.choice)
	if b == 0 {
		i, rng, code, s = tree3(in, i, rng, code, &l.low[posState&15])
		return i, rng, code, int(s) + 2
	}
	i, rng, code, b = bit(in, i, rng, code, &l.choice2)
	if b == 0 {
		i, rng, code, s = tree3(in, i, rng, code, &l.mid[posState&15])
		return i, rng, code, int(s) + 10
	}
	i, rng, code, s = tree8(in, i, rng, code, &l.high)
	return i, rng, code, int(s) + 18
}

// litNext is the state after a literal.
var litNext = [16]uint32{0, 0, 0, 0, 1, 2, 3, 4, 5, 6, 4, 5}

// decode decodes one LZMA chunk of unc bytes from d.in[:comp] to
// d.buf[d.pos:], which room has made space for.
//
// It is the hot loop of unpacking. Everything it touches per symbol is a
// local, so that the range coder's state and the window position stay
// in registers; table indexes are masked to the tables' power-of-two
// sizes and the window is resliced to the chunk's end, so the compiler
// proves most accesses in bounds without a check.
func (d *lzma2) decode(unc, comp int) error {
	in := &d.in
	buf := d.buf[:d.pos+unc]
	pos := d.pos
	rng := uint32(0xffffffff)
	code := uint32(in[1])<<24 | uint32(in[2])<<16 | uint32(in[3])<<8 | uint32(in[4])
	i := 5
	state := d.state
	// Only what every symbol needs is kept in locals, so that the
	// compiler has registers for them; the rest is read from d.
	rep0 := d.rep[0]
	var b uint32
	for pos < len(buf) {
		if i > comp {
			return errCorrupt
		}
		posState := (uint32(pos) + uint32(d.base)) & d.pbMask
		st := state & 15
		i, rng, code, b = bit(in, i, rng, code, &d.isMatch[(st<<4|posState)&0xff])
		if b == 0 {
			var prev uint32
			if pos > d.start {
				prev = uint32(buf[pos-1])
			}
			lc := d.lc & 15
			lit := &d.literal[(((uint32(pos)+uint32(d.base))&d.lpMask)<<lc+prev>>(8-lc))&15]
			sym := uint32(1)
			if st < 7 {
				// Unrolled: the eight bits of a plain literal.
				i, rng, code = norm(in, i, rng, code)
				rng, code, b = bitc(rng, code, &lit[1])
				sym = 2 | b
				i, rng, code = norm(in, i, rng, code)
				rng, code, b = bitc(rng, code, &lit[sym&3])
				sym = sym<<1 | b
				i, rng, code = norm(in, i, rng, code)
				rng, code, b = bitc(rng, code, &lit[sym&7])
				sym = sym<<1 | b
				i, rng, code = norm(in, i, rng, code)
				rng, code, b = bitc(rng, code, &lit[sym&15])
				sym = sym<<1 | b
				i, rng, code = norm(in, i, rng, code)
				rng, code, b = bitc(rng, code, &lit[sym&31])
				sym = sym<<1 | b
				i, rng, code = norm(in, i, rng, code)
				rng, code, b = bitc(rng, code, &lit[sym&63])
				sym = sym<<1 | b
				i, rng, code = norm(in, i, rng, code)
				rng, code, b = bitc(rng, code, &lit[sym&127])
				sym = sym<<1 | b
				i, rng, code = norm(in, i, rng, code)
				rng, code, b = bitc(rng, code, &lit[sym&255])
				sym = sym<<1 | b
			} else {
				// A literal after a match is coded against the byte at
				// rep0 while its bits agree (o stays 0x100), then as a
				// plain literal (o becomes 0). o is updated without a
				// branch: a mispredicted one costs more than the masks.
				if int64(rep0) >= int64(pos-d.start) {
					return errDist
				}
				mb := uint32(buf[pos-int(rep0)-1])
				// Unrolled like the plain literal.
				o, mbit := uint32(0x100), uint32(0)
				mb <<= 1
				mbit = mb & o
				i, rng, code = norm(in, i, rng, code)
				rng, code, b = bitc(rng, code, &lit[(o+mbit+sym)&0x3ff])
				sym = sym<<1 | b
				o &= mbit ^ (b - 1)
				mb <<= 1
				mbit = mb & o
				i, rng, code = norm(in, i, rng, code)
				rng, code, b = bitc(rng, code, &lit[(o+mbit+sym)&0x3ff])
				sym = sym<<1 | b
				o &= mbit ^ (b - 1)
				mb <<= 1
				mbit = mb & o
				i, rng, code = norm(in, i, rng, code)
				rng, code, b = bitc(rng, code, &lit[(o+mbit+sym)&0x3ff])
				sym = sym<<1 | b
				o &= mbit ^ (b - 1)
				mb <<= 1
				mbit = mb & o
				i, rng, code = norm(in, i, rng, code)
				rng, code, b = bitc(rng, code, &lit[(o+mbit+sym)&0x3ff])
				sym = sym<<1 | b
				o &= mbit ^ (b - 1)
				mb <<= 1
				mbit = mb & o
				i, rng, code = norm(in, i, rng, code)
				rng, code, b = bitc(rng, code, &lit[(o+mbit+sym)&0x3ff])
				sym = sym<<1 | b
				o &= mbit ^ (b - 1)
				mb <<= 1
				mbit = mb & o
				i, rng, code = norm(in, i, rng, code)
				rng, code, b = bitc(rng, code, &lit[(o+mbit+sym)&0x3ff])
				sym = sym<<1 | b
				o &= mbit ^ (b - 1)
				mb <<= 1
				mbit = mb & o
				i, rng, code = norm(in, i, rng, code)
				rng, code, b = bitc(rng, code, &lit[(o+mbit+sym)&0x3ff])
				sym = sym<<1 | b
				o &= mbit ^ (b - 1)
				mb <<= 1
				mbit = mb & o
				i, rng, code = norm(in, i, rng, code)
				rng, code, b = bitc(rng, code, &lit[(o+mbit+sym)&0x3ff])
				sym = sym<<1 | b
				o &= mbit ^ (b - 1)
			}
			buf[pos] = byte(sym)
			pos++
			state = litNext[st]
			continue
		}
		var n int
		i, rng, code, b = bit(in, i, rng, code, &d.isRep[st])
		if b == 0 {
			d.rep[3], d.rep[2], d.rep[1] = d.rep[2], d.rep[1], rep0
			i, rng, code, n = length(in, i, rng, code, &d.matchLen, posState)
			if st < 7 {
				state = 7
			} else {
				state = 10
			}
			var slot uint32
			i, rng, code, slot = tree6(in, i, rng, code, &d.distSlot[min(n-2, 3)&3])
			if slot < 4 {
				rep0 = slot
			} else {
				nd := slot>>1 - 1
				dist := (2 | slot&1) << nd
				if slot < 14 {
					// A reverse bit tree whose probabilities start at
					// distSpec[dist-slot] (for s = 1).
					probs := dist - slot - 1
					s := uint32(1)
					for k := uint32(0); k < nd; k++ {
						i, rng, code, b = bit(in, i, rng, code, &d.distSpec[(probs+s)&127])
						s = s<<1 | b
						dist |= b << k
					}
				} else {
					var direct uint32
					for k := nd - 4; k > 0; k-- {
						if rng < 1<<24 {
							rng <<= 8
							code = code<<8 | uint32(in[i&inMask])
							i++
						}
						rng >>= 1
						code -= rng
						t := 0 - (code >> 31)
						code += rng & t
						direct = direct<<1 + (t + 1)
					}
					dist += direct << 4
					s := uint32(1)
					for k := uint32(0); k < 4; k++ {
						i, rng, code, b = bit(in, i, rng, code, &d.distAlign[s&15])
						s = s<<1 | b
						dist |= b << k
					}
				}
				rep0 = dist
			}
		} else {
			i, rng, code, b = bit(in, i, rng, code, &d.isRep0[st])
			if b == 0 {
				i, rng, code, b = bit(in, i, rng, code, &d.isRep0Long[(st<<4|posState)&0xff])
				if b == 0 {
					// A one-byte match at rep0.
					if int64(rep0) >= int64(pos-d.start) {
						return errDist
					}
					if st < 7 {
						state = 9
					} else {
						state = 11
					}
					buf[pos] = buf[pos-int(rep0)-1]
					pos++
					continue
				}
			} else {
				i, rng, code, b = bit(in, i, rng, code, &d.isRep1[st])
				if b == 0 {
					rep0, d.rep[1] = d.rep[1], rep0
				} else {
					i, rng, code, b = bit(in, i, rng, code, &d.isRep2[st])
					if b == 0 {
						rep0, d.rep[1], d.rep[2] = d.rep[2], rep0, d.rep[1]
					} else {
						rep0, d.rep[1], d.rep[2], d.rep[3] = d.rep[3], rep0, d.rep[1], d.rep[2]
					}
				}
			}
			i, rng, code, n = length(in, i, rng, code, &d.repLen, posState)
			if st < 7 {
				state = 8
			} else {
				state = 11
			}
		}
		// rep0 of 0xffffffff is the end marker, which LZMA2 forbids; like
		// any distance beyond the data so far, it is corrupt here.
		if int64(rep0) >= int64(pos-d.start) || int64(rep0) >= int64(d.dictSize) {
			return errDist
		}
		if n > len(buf)-pos {
			return errCorrupt // a match may not cross a chunk boundary
		}
		dist := int(rep0) + 1
		if win := d.buf; n <= 16 && dist >= 16 && pos+16 <= len(win) {
			// Most matches are short: copy 16 bytes as two words,
			// though that writes past the match into the space the
			// following symbols will overwrite (or, at the end of
			// DecodeAll's output, into dst's spare capacity).
			src := pos - dist
			binary.LittleEndian.PutUint64(win[pos:], binary.LittleEndian.Uint64(win[src:]))
			binary.LittleEndian.PutUint64(win[pos+8:], binary.LittleEndian.Uint64(win[src+8:]))
			pos += n
			continue
		}
		out := buf[pos:][:n]
		from := buf[pos-dist:][:n]
		switch {
		case n <= 16:
			// Short matches, most of them: a call to memmove costs
			// more than the loop, which also repeats overlapping runs
			// byte by byte as LZ77 means them.
			for k := range out {
				out[k] = from[k]
			}
		case dist >= n:
			copy(out, from)
		default:
			// An overlapping run repeats the dist bytes before pos:
			// copy them, then the twice as long pattern so far, and so
			// on, each copy ending a whole number of periods on.
			for k := 0; k < n; {
				k += copy(out[k:], buf[pos-dist:pos+k])
			}
		}
		pos += n
	}
	if rng < 1<<24 {
		code = code<<8 | uint32(in[i&inMask])
		i++
	}
	if i != comp || code != 0 {
		return errCorrupt
	}
	d.pos = pos
	d.state = state
	d.rep[0] = rep0
	return nil
}
