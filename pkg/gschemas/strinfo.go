package gschemas

import "encoding/binary"

// strinfo is GLib's "string info map" for <choices>, <aliases> and
// enumerated types: little-endian words, each entry an integer (the
// enum value, 0 for a choice, or for an alias the word index of its
// target's value) followed by the string: 0xff (0xfe for an alias), the
// bytes, a NUL, zero padding and a final 0xff byte, at least two words.
type strinfo []byte

// maxStringWords bounds an entry's string, as GLib does (65 bytes).
const maxStringWords = 17

func stringWords(s string, alias bool) []byte {
	n := max(2, (len(s)+6)>>2)
	if n > maxStringWords {
		return nil
	}
	w := make([]byte, 4*n)
	w[0] = 0xff
	if alias {
		w[0] = 0xfe
	}
	w[len(w)-1] = 0xff
	copy(w[1:], s) // the NUL and padding are already zero
	return w
}

func (si strinfo) word(i int) uint32 { return binary.LittleEndian.Uint32(si[4*i:]) }

// scan finds words in si[from:], skipping as GLib's strinfo_scan does:
// after a partial match of j words it moves on j words.
func (si strinfo) scan(from int, words []byte) int {
	length := len(si)/4 - from
	nw := len(words) / 4
	if length < nw {
		return -1
	}
	for i := 0; i <= length-nw; {
		j := 0
		for ; j < nw; j++ {
			if si.word(from+i+j) != binary.LittleEndian.Uint32(words[4*j:]) {
				break
			}
		}
		if j == nw {
			return i
		}
		if j == 0 {
			j = 1
		}
		i += j
	}
	return -1
}

// find returns the word index of the value before string s (or of the
// alias entry's target index), or -1.
func (si strinfo) find(s string, alias bool) int {
	if len(si) == 0 {
		return -1
	}
	w := stringWords(s, alias)
	if w == nil {
		return -1
	}
	return si.scan(1, w)
}

func (si strinfo) valid(s string) bool { return si.find(s, false) >= 0 }

func (si strinfo) contains(s string) bool { return si.find(s, false) >= 0 || si.find(s, true) >= 0 }

func (si strinfo) containsValue(v uint32) bool {
	for i := 0; i < len(si)/4; i++ {
		if si.word(i) == v && (i == 0 || si[4*i-1] == 0xff) && 4*i+4 < len(si) && si[4*i+4] == 0xff {
			return true
		}
	}
	return false
}

func (si strinfo) appendItem(s string, v uint32) (strinfo, bool) {
	w := stringWords(s, false)
	if w == nil {
		return si, false
	}
	si = binary.LittleEndian.AppendUint32(si, v)
	return append(si, w...), true
}

func (si strinfo) appendAlias(alias, target string) (strinfo, bool) {
	i := si.find(target, false)
	w := stringWords(alias, true)
	if i < 0 || w == nil {
		return si, false
	}
	si = binary.LittleEndian.AppendUint32(si, uint32(i))
	return append(si, w...), true
}

func (si strinfo) words() []any {
	out := make([]any, len(si)/4)
	for i := range out {
		out[i] = si.word(i)
	}
	return out
}
