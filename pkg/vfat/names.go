package vfat

import (
	"fmt"
	"strconv"
	"strings"
	"unicode/utf16"
)

// maxLongName is the longest long file name FAT can hold, in UTF-16 units.
const maxLongName = 255

// checkLongName rejects names that no FAT implementation accepts.
func checkLongName(name string) error {
	if name == "" || name == "." || name == ".." {
		return fmt.Errorf("%q is not a file name", name)
	}
	if n := len(utf16.Encode([]rune(name))); n > maxLongName {
		return fmt.Errorf("name %q is %d UTF-16 units long, FAT allows %d", name, n, maxLongName)
	}
	for _, r := range name {
		if r < 0x20 || r == 0x7f || strings.ContainsRune(`"*/:<>?\|`, r) {
			return fmt.Errorf("name %q contains %q, which FAT does not allow", name, r)
		}
	}
	if strings.HasSuffix(name, ".") || strings.HasSuffix(name, " ") {
		// Windows strips these, so the name would not survive a round trip.
		return fmt.Errorf("name %q ends in a dot or space, which FAT drops", name)
	}
	return nil
}

// shortChar maps one character of a long name to the 8.3 character set:
// upper-case ASCII letters, digits and the punctuation FAT allows. ok is
// false when the mapping lost information (the character became '_').
func shortChar(r rune) (c byte, ok bool) {
	switch {
	case r >= 'a' && r <= 'z':
		return byte(r - 'a' + 'A'), true
	case r >= 'A' && r <= 'Z', r >= '0' && r <= '9':
		return byte(r), true
	case r < 0x80 && strings.ContainsRune("$%'-_@~`!(){}^#&", r):
		return byte(r), true
	}
	return '_', false
}

// basisName computes the 8.3 basis of a long name the way Windows and
// Linux's vfat do: spaces and leading dots dropped, the extension taken
// from the last dot, characters mapped to the short set. exact reports
// that nothing but letter case was lost, so the basis can be used as is
// with no numeric tail.
func basisName(long string) (base, ext string, exact bool) {
	exact = true
	trimmed := strings.TrimLeft(long, ".")
	if trimmed != long {
		exact = false
	}
	b, e := trimmed, ""
	if i := strings.LastIndexByte(trimmed, '.'); i >= 0 {
		b, e = trimmed[:i], trimmed[i+1:]
	}
	conv := func(s string, limit int) string {
		var out []byte
		for _, r := range s {
			if r == ' ' || r == '.' {
				exact = false
				continue
			}
			c, ok := shortChar(r)
			if !ok {
				exact = false
			}
			out = append(out, c)
		}
		if len(out) > limit {
			exact = false
			out = out[:limit]
		}
		return string(out)
	}
	base, ext = conv(b, 8), conv(e, 3)
	if base == "" {
		exact = false
		base = "_"
	}
	return base, ext, exact
}

// shortEntryName packs base and extension into the 11-byte directory
// entry form, space padded.
func shortEntryName(base, ext string) [11]byte {
	var n [11]byte
	for i := range n {
		n[i] = ' '
	}
	copy(n[:8], base)
	copy(n[8:], ext)
	return n
}

// shortNamer hands out unique 8.3 names within one directory.
type shortNamer struct {
	taken map[[11]byte]bool
}

// assign returns the 8.3 name for long and whether long needs LFN entries.
// A directory is named in two rounds: with tails false only names that
// are exact 8.3 (up to case) are assigned, the others get a zero name;
// with tails true the rest get numeric tails. So a generated "FOO~1"
// never takes the name of a file literally called "foo~1".
func (s *shortNamer) assign(long string, tails bool) (name [11]byte, needLFN bool, err error) {
	base, ext, exact := basisName(long)
	if exact {
		if tails {
			return name, false, nil // assigned in the first round
		}
		n := shortEntryName(base, ext)
		if s.taken[n] {
			return n, false, fmt.Errorf("names differing only in case cannot coexist on FAT: %q", long)
		}
		s.taken[n] = true
		upper := base
		if ext != "" {
			upper += "." + ext
		}
		return n, upper != long, nil
	}
	if !tails {
		return name, true, nil
	}
	for i := 1; i < 1000000; i++ {
		tail := "~" + strconv.Itoa(i)
		b := base
		if len(b) > 8-len(tail) {
			b = b[:8-len(tail)]
		}
		n := shortEntryName(b+tail, ext)
		if !s.taken[n] {
			s.taken[n] = true
			return n, true, nil
		}
	}
	return name, true, fmt.Errorf("no free 8.3 name for %q", long)
}

// lfnChecksum is the checksum of the 8.3 name that each LFN entry
// carries, tying the long name to its short entry.
func lfnChecksum(n [11]byte) byte {
	var sum byte
	for _, c := range n {
		sum = (sum&1)<<7 + sum>>1 + c
	}
	return sum
}

// lfnEntries returns the LFN directory entries for long, in the order they
// are stored: the last part (flagged 0x40) first.
func lfnEntries(long string, short [11]byte) [][dirEntrySize]byte {
	u := utf16.Encode([]rune(long))
	n := (len(u) + 12) / 13
	if len(u)%13 != 0 {
		u = append(u, 0)
	}
	for len(u)%13 != 0 {
		u = append(u, 0xFFFF)
	}
	sum := lfnChecksum(short)
	out := make([][dirEntrySize]byte, n)
	for i := range n {
		var e [dirEntrySize]byte
		ord := byte(i + 1)
		if i == n-1 {
			ord |= 0x40
		}
		e[0] = ord
		e[11] = attrLFN
		e[13] = sum
		part := u[i*13 : i*13+13]
		for j, c := range part {
			var off int
			switch {
			case j < 5:
				off = 1 + 2*j
			case j < 11:
				off = 14 + 2*(j-5)
			default:
				off = 28 + 2*(j-11)
			}
			e[off], e[off+1] = byte(c), byte(c>>8)
		}
		out[n-1-i] = e
	}
	return out
}
