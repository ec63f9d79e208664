// Package debversion parses Debian version strings and orders them exactly
// as dpkg does (deb-version(7), dpkg's lib/dpkg/version.c).
//
// A version is [epoch:]upstream[-revision]. Epochs compare numerically;
// upstream and revision compare by alternating non-digit and digit runs:
// in non-digit runs '~' sorts before everything (even the end of the
// string), then the end of the string, then letters, then all other
// characters by their byte value; digit runs compare numerically.
package debversion

import (
	"errors"
	"fmt"
	"strconv"
	"strings"
)

// Version is a parsed Debian version.
type Version struct {
	Epoch    uint32
	Upstream string
	Revision string // "" when the version has no hyphen
}

// String gives the canonical form: the epoch only when non-zero, the
// revision only when present.
func (v Version) String() string {
	s := v.Upstream
	if v.Epoch != 0 {
		s = strconv.FormatUint(uint64(v.Epoch), 10) + ":" + s
	}
	if v.Revision != "" {
		s += "-" + v.Revision
	}
	return s
}

// maxEpoch is dpkg's limit (INT_MAX): larger epochs are rejected.
const maxEpoch = 1<<31 - 1

// Parse parses s strictly, rejecting what dpkg's parseversion rejects or
// warns about (bad characters, an upstream part not starting with a digit).
// Leading and trailing blanks are ignored, as dpkg does.
func Parse(s string) (Version, error) {
	v, err := split(s)
	if err != nil {
		return Version{}, fmt.Errorf("version %q: %w", s, err)
	}
	if v.Upstream[0] < '0' || v.Upstream[0] > '9' {
		return Version{}, fmt.Errorf("version %q: upstream part must start with a digit", s)
	}
	for i := 0; i < len(v.Upstream); i++ {
		if c := v.Upstream[i]; !isAlnum(c) && !strings.ContainsRune(".-+~:", rune(c)) {
			return Version{}, fmt.Errorf("version %q: invalid character %q in upstream part", s, c)
		}
	}
	for i := 0; i < len(v.Revision); i++ {
		if c := v.Revision[i]; !isAlnum(c) && !strings.ContainsRune(".+~", rune(c)) {
			return Version{}, fmt.Errorf("version %q: invalid character %q in revision", s, c)
		}
	}
	return v, nil
}

// split does the structural part of parsing that dpkg treats as fatal:
// empty strings, embedded blanks, bad epochs and an empty upstream part.
func split(s string) (Version, error) {
	s = strings.Trim(s, " \t\n\r")
	if s == "" {
		return Version{}, errors.New("version string is empty")
	}
	if strings.ContainsAny(s, " \t\n\r") {
		return Version{}, errors.New("version string has embedded spaces")
	}
	var v Version
	if i := strings.IndexByte(s, ':'); i >= 0 {
		e := s[:i]
		if e == "" {
			return Version{}, errors.New("epoch is empty")
		}
		for j := 0; j < len(e); j++ {
			if e[j] < '0' || e[j] > '9' {
				return Version{}, errors.New("epoch is not a number")
			}
		}
		n, err := strconv.ParseUint(e, 10, 64)
		if err != nil || n > maxEpoch {
			return Version{}, errors.New("epoch is too big")
		}
		v.Epoch = uint32(n)
		s = s[i+1:]
		if s == "" {
			return Version{}, errors.New("nothing after the epoch colon")
		}
	}
	if i := strings.LastIndexByte(s, '-'); i >= 0 {
		v.Revision = s[i+1:]
		s = s[:i]
	}
	if s == "" {
		return Version{}, errors.New("upstream part is empty")
	}
	v.Upstream = s
	return v, nil
}

// Compare returns -1, 0 or +1 as a sorts before, equal to, or after b.
func (a Version) Compare(b Version) int {
	switch {
	case a.Epoch < b.Epoch:
		return -1
	case a.Epoch > b.Epoch:
		return 1
	}
	if c := compareString(a.Upstream, b.Upstream); c != 0 {
		return c
	}
	return compareString(a.Revision, b.Revision)
}

// Compare compares two version strings. Like `dpkg --compare-versions`, it
// accepts versions that only draw warnings from dpkg (stray characters, a
// non-digit start); a string that dpkg cannot parse at all sorts before
// every valid one, and invalid strings compare bytewise among themselves,
// so the order stays total.
func Compare(a, b string) int {
	va, erra := split(a)
	vb, errb := split(b)
	switch {
	case erra != nil && errb != nil:
		return strings.Compare(a, b)
	case erra != nil:
		return -1
	case errb != nil:
		return 1
	}
	return va.Compare(vb)
}

// order gives a byte's weight inside a non-digit run; 0 stands for the end
// of the string (and for digits, which end the run).
func order(c byte) int {
	switch {
	case c >= '0' && c <= '9':
		return 0
	case isAlpha(c):
		return int(c)
	case c == '~':
		return -1
	default:
		return int(c) + 256
	}
}

// compareString is dpkg's verrevcmp.
func compareString(a, b string) int {
	i, j := 0, 0
	for i < len(a) || j < len(b) {
		// Non-digit run.
		for (i < len(a) && !isDigit(a[i])) || (j < len(b) && !isDigit(b[j])) {
			var ac, bc int
			if i < len(a) {
				ac = order(a[i])
			}
			if j < len(b) {
				bc = order(b[j])
			}
			if ac != bc {
				return sign(ac - bc)
			}
			i++
			j++
		}
		// Digit run: skip leading zeros, then the longer run is larger and
		// equal lengths compare by their first differing digit.
		for i < len(a) && a[i] == '0' {
			i++
		}
		for j < len(b) && b[j] == '0' {
			j++
		}
		first := 0
		for i < len(a) && isDigit(a[i]) && j < len(b) && isDigit(b[j]) {
			if first == 0 {
				first = int(a[i]) - int(b[j])
			}
			i++
			j++
		}
		if i < len(a) && isDigit(a[i]) {
			return 1
		}
		if j < len(b) && isDigit(b[j]) {
			return -1
		}
		if first != 0 {
			return sign(first)
		}
	}
	return 0
}

func sign(n int) int {
	switch {
	case n < 0:
		return -1
	case n > 0:
		return 1
	}
	return 0
}

func isDigit(c byte) bool { return c >= '0' && c <= '9' }
func isAlpha(c byte) bool { return c >= 'a' && c <= 'z' || c >= 'A' && c <= 'Z' }
func isAlnum(c byte) bool { return isDigit(c) || isAlpha(c) }
