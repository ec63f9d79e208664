package xz

import (
	"errors"
	"fmt"
)

// The LZMA model below follows the format as documented with the LZMA SDK
// and the xz file format specification; names are the usual ones.

const (
	numStates      = 12
	posStatesMax   = 16
	lenLowSymbols  = 8
	lenMidSymbols  = 8
	lenHighSymbols = 256
	distStates     = 4
	distSlots      = 64
	distModelEnd   = 14
	fullDistances  = 128
	alignSize      = 16
	probInit       = 1024
	matchLenMin    = 2
)

type lenCoder struct {
	choice, choice2 uint16
	low             [posStatesMax][lenLowSymbols]uint16
	mid             [posStatesMax][lenMidSymbols]uint16
	high            [lenHighSymbols]uint16
}

type probs struct {
	isMatch    [numStates * posStatesMax]uint16
	isRep      [numStates]uint16
	isRepG0    [numStates]uint16
	isRepG1    [numStates]uint16
	isRepG2    [numStates]uint16
	isRep0Long [numStates * posStatesMax]uint16
	distSlot   [distStates][distSlots]uint16
	distSpec   [fullDistances - distModelEnd]uint16
	align      [alignSize]uint16
	matchLen   lenCoder
	repLen     lenCoder
}

type decoder struct {
	out []byte
	max int

	dictStart  int // output position of the last dictionary reset
	lc, lp, pb uint
	literal    []uint16
	p          probs
	state      uint32
	rep        [4]uint32
	propsSet   bool
	needDict   bool

	// range decoder
	in        []byte
	ip        int
	rng, code uint32
}

func (d *decoder) resetState() {
	d.state = 0
	d.rep = [4]uint32{}
	for i := range d.literal {
		d.literal[i] = probInit
	}
	p := &d.p
	for _, s := range [][]uint16{p.isMatch[:], p.isRep[:], p.isRepG0[:], p.isRepG1[:], p.isRepG2[:], p.isRep0Long[:], p.distSpec[:], p.align[:]} {
		for i := range s {
			s[i] = probInit
		}
	}
	for i := range p.distSlot {
		for j := range p.distSlot[i] {
			p.distSlot[i][j] = probInit
		}
	}
	for _, l := range []*lenCoder{&p.matchLen, &p.repLen} {
		l.choice, l.choice2 = probInit, probInit
		for i := range l.low {
			for j := range l.low[i] {
				l.low[i][j] = probInit
				l.mid[i][j] = probInit
			}
		}
		for i := range l.high {
			l.high[i] = probInit
		}
	}
}

// lzma2 decodes LZMA2 chunks from in until the end marker and returns the
// number of input bytes used.
func (d *decoder) lzma2(in []byte) (int, error) {
	p := 0
	first := true
	for {
		if p >= len(in) {
			return 0, errCorrupt
		}
		c := in[p]
		p++
		if c == 0 {
			return p, nil
		}
		if p+2 > len(in) {
			return 0, errCorrupt
		}
		if c == 1 || c == 2 {
			// Uncompressed chunk (1 also resets the dictionary).
			size := int(in[p])<<8 | int(in[p+1]) + 1
			p += 2
			if c == 1 {
				d.dictStart = len(d.out)
			} else if first {
				return 0, errCorrupt
			}
			if p+size > len(in) || len(d.out)+size > d.max {
				return 0, errCorrupt
			}
			d.out = append(d.out, in[p:p+size]...)
			p += size
			first = false
			continue
		}
		if c < 0x80 {
			return 0, errCorrupt
		}
		if p+4 > len(in) {
			return 0, errCorrupt
		}
		usize := int(c&0x1F)<<16 | int(in[p])<<8 | int(in[p+1]) + 1
		psize := int(in[p+2])<<8 | int(in[p+3]) + 1
		p += 4
		reset := (c >> 5) & 3
		if first && reset != 3 {
			return 0, errCorrupt
		}
		if reset == 3 {
			d.dictStart = len(d.out)
		}
		if reset >= 2 {
			if p >= len(in) {
				return 0, errCorrupt
			}
			if err := d.setProps(in[p]); err != nil {
				return 0, err
			}
			p++
		} else if !d.propsSet {
			return 0, errCorrupt
		}
		if reset >= 1 {
			d.resetState()
		}
		if p+psize > len(in) || len(d.out)+usize > d.max {
			if len(d.out)+usize > d.max {
				return 0, fmt.Errorf("xz: output exceeds %d bytes", d.max)
			}
			return 0, errCorrupt
		}
		if err := d.chunk(in[p:p+psize], usize); err != nil {
			return 0, err
		}
		p += psize
		first = false
	}
}

func (d *decoder) setProps(b byte) error {
	if b >= 9*5*5 {
		return errCorrupt
	}
	lc, lp, pb := uint(b%9), uint(b/9%5), uint(b/45)
	if lc+lp > 4 {
		return errCorrupt
	}
	d.lc, d.lp, d.pb = lc, lp, pb
	if n := 0x300 << (lc + lp); len(d.literal) != n {
		d.literal = make([]uint16, n)
	}
	d.propsSet = true
	return nil
}

// normalize shifts one input byte into the range decoder; past the end of
// the chunk it shifts zeros (corrupt input then fails the check).
func (d *decoder) normalize() {
	var c uint32
	if d.ip < len(d.in) {
		c = uint32(d.in[d.ip])
	}
	d.ip++
	d.rng <<= 8
	d.code = d.code<<8 | c
}

// bit decodes one bit with probability *p, normalising first. It is small
// enough for the compiler to inline, which is most of this decoder's speed.
func (d *decoder) bit(p *uint16) uint32 {
	if d.rng < 1<<24 {
		d.normalize()
	}
	v := uint32(*p)
	bound := (d.rng >> 11) * v
	if d.code < bound {
		d.rng = bound
		*p = uint16(v + (2048-v)>>5)
		return 0
	}
	d.rng -= bound
	d.code -= bound
	*p = uint16(v - v>>5)
	return 1
}

func (d *decoder) bittree(probs []uint16, bits uint) uint32 {
	sym := uint32(1)
	for range bits {
		sym = sym<<1 | d.bit(&probs[sym])
	}
	return sym - 1<<bits
}

// reverseBittree decodes bits low bit first; probabilities are
// probs[off+1], probs[off+2], … (off may be -1).
func (d *decoder) reverseBittree(probs []uint16, off int, bits uint) uint32 {
	sym, res := uint32(1), uint32(0)
	for i := range bits {
		b := d.bit(&probs[off+int(sym)])
		sym = sym<<1 | b
		res |= b << i
	}
	return res
}

func (d *decoder) direct(bits uint) uint32 {
	var res uint32
	for range bits {
		if d.rng < 1<<24 {
			d.normalize()
		}
		d.rng >>= 1
		if d.code >= d.rng {
			d.code -= d.rng
			res = res<<1 | 1
		} else {
			res <<= 1
		}
	}
	return res
}

func (d *decoder) length(l *lenCoder, posState uint32) uint32 {
	if d.bit(&l.choice) == 0 {
		return matchLenMin + d.bittree(l.low[posState][:], 3)
	}
	if d.bit(&l.choice2) == 0 {
		return matchLenMin + lenLowSymbols + d.bittree(l.mid[posState][:], 3)
	}
	return matchLenMin + lenLowSymbols + lenMidSymbols + d.bittree(l.high[:], 8)
}

var errDistance = errors.New("xz: corrupt data (match distance beyond the dictionary)")

// chunk decodes one LZMA chunk of usize output bytes from in.
func (d *decoder) chunk(in []byte, usize int) error {
	if len(in) < 5 || in[0] != 0 {
		return errCorrupt
	}
	d.in, d.ip = in, 5
	d.rng = 0xFFFFFFFF
	d.code = uint32(in[1])<<24 | uint32(in[2])<<16 | uint32(in[3])<<8 | uint32(in[4])
	end := len(d.out) + usize
	out := d.out
	pbMask := uint32(1)<<d.pb - 1
	lpMask := uint32(1)<<d.lp - 1
	lc := d.lc
	p := &d.p
	for len(out) < end {
		pos := uint32(len(out) - d.dictStart)
		posState := pos & pbMask
		st := d.state
		if d.bit(&p.isMatch[st<<4+posState]) == 0 {
			// literal
			prev := uint32(0)
			if len(out) > d.dictStart {
				prev = uint32(out[len(out)-1])
			}
			probs := d.literal[0x300*((pos&lpMask)<<lc+prev>>(8-lc)):][:0x300]
			sym := uint32(1)
			if st >= 7 {
				back := int(d.rep[0]) + 1
				if back > len(out)-d.dictStart {
					return errDistance
				}
				match := uint32(out[len(out)-back])
				for sym < 0x100 {
					mbit := (match >> 7) & 1
					match <<= 1
					b := d.bit(&probs[(1+mbit)<<8+sym])
					sym = sym<<1 | b
					if b != mbit {
						break
					}
				}
			}
			for sym < 0x100 {
				sym = sym<<1 | d.bit(&probs[sym])
			}
			out = append(out, byte(sym))
			switch {
			case st < 4:
				d.state = 0
			case st < 10:
				d.state = st - 3
			default:
				d.state = st - 6
			}
			continue
		}
		var n uint32
		if d.bit(&p.isRep[st]) == 0 {
			// new match
			d.rep[3], d.rep[2], d.rep[1] = d.rep[2], d.rep[1], d.rep[0]
			n = d.length(&p.matchLen, posState)
			if st < 7 {
				d.state = 7
			} else {
				d.state = 10
			}
			ds := min(n-matchLenMin, distStates-1)
			slot := d.bittree(p.distSlot[ds][:], 6)
			if slot < 4 {
				d.rep[0] = slot
			} else {
				bits := uint(slot>>1) - 1
				dist := (2 | slot&1) << bits
				if slot < distModelEnd {
					dist += d.reverseBittree(p.distSpec[:], int(dist-slot)-1, bits)
				} else {
					dist += d.direct(bits-4) << 4
					dist += d.reverseBittree(p.align[:], 0, 4)
				}
				d.rep[0] = dist
			}
			if d.rep[0] == 0xFFFFFFFF {
				return errCorrupt // end marker: not allowed inside LZMA2 chunks
			}
		} else {
			if d.bit(&p.isRepG0[st]) == 0 {
				if d.bit(&p.isRep0Long[st<<4+posState]) == 0 {
					// short rep: one byte at rep0
					if st < 7 {
						d.state = 9
					} else {
						d.state = 11
					}
					back := int(d.rep[0]) + 1
					if back > len(out)-d.dictStart {
						return errDistance
					}
					out = append(out, out[len(out)-back])
					continue
				}
			} else {
				var dist uint32
				if d.bit(&p.isRepG1[st]) == 0 {
					dist = d.rep[1]
				} else {
					if d.bit(&p.isRepG2[st]) == 0 {
						dist = d.rep[2]
					} else {
						dist = d.rep[3]
						d.rep[3] = d.rep[2]
					}
					d.rep[2] = d.rep[1]
				}
				d.rep[1] = d.rep[0]
				d.rep[0] = dist
			}
			n = d.length(&p.repLen, posState)
			if st < 7 {
				d.state = 8
			} else {
				d.state = 11
			}
		}
		back := int(d.rep[0]) + 1
		if back > len(out)-d.dictStart {
			return errDistance
		}
		if len(out)+int(n) > end {
			return errCorrupt
		}
		start := len(out) - back
		if back >= int(n) {
			out = append(out, out[start:start+int(n)]...)
		} else {
			for i := range int(n) {
				out = append(out, out[start+i])
			}
		}
	}
	d.out = out
	if d.ip > len(in)+1 {
		return errCorrupt
	}
	return nil
}
