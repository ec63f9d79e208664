// Package gvariant encodes and decodes GLib's GVariant serialization format
// in normal form, the byte layout OSTree hashes and stores. It covers the
// types OSTree objects and summaries use: the basic types, strings, arrays,
// tuples, dictionary entries, maybes and variants.
//
// Go values map to GVariant types as follows: b bool, y uint8, n int16,
// q uint16, i int32, u uint32, x int64, t uint64, h int32, d float64,
// s/o/g string, v Variant, ay []byte, m* Maybe, other arrays []any,
// tuples and dictionary entries Tuple.
package gvariant

import (
	"fmt"
	"strings"
)

// maxDepth bounds type and value nesting so hostile input cannot exhaust the
// stack; GLib itself caps nesting at 128.
const maxDepth = 64

// Type is a parsed GVariant type signature.
type Type struct {
	sig    string
	kind   byte    // one of "bynqiuxthdsogva(m{"
	elem   *Type   // array and maybe element
	fields []*Type // tuple and dict entry members
	align  int     // alignment in bytes: 1, 2, 4 or 8
	fixed  int     // serialized size if fixed, 0 if variable
}

// String returns the type's signature.
func (t *Type) String() string { return t.sig }

// Fixed reports the fixed serialized size, or 0 for variable-size types.
func (t *Type) Fixed() int { return t.fixed }

// ParseType parses a complete type signature such as "(uuua(ayay))".
func ParseType(sig string) (*Type, error) {
	t, rest, err := parseType(sig, 0)
	if err != nil {
		return nil, fmt.Errorf("gvariant type %q: %w", sig, err)
	}
	if rest != "" {
		return nil, fmt.Errorf("gvariant type %q: trailing %q", sig, rest)
	}
	return t, nil
}

// MustParseType is ParseType for signatures fixed at compile time.
func MustParseType(sig string) *Type {
	t, err := ParseType(sig)
	if err != nil {
		panic(err)
	}
	return t
}

func parseType(s string, depth int) (*Type, string, error) {
	if depth > maxDepth {
		return nil, "", fmt.Errorf("nested deeper than %d", maxDepth)
	}
	if s == "" {
		return nil, "", fmt.Errorf("missing type")
	}
	c := s[0]
	switch c {
	case 'b', 'y':
		return &Type{sig: s[:1], kind: c, align: 1, fixed: 1}, s[1:], nil
	case 'n', 'q':
		return &Type{sig: s[:1], kind: c, align: 2, fixed: 2}, s[1:], nil
	case 'i', 'u', 'h':
		return &Type{sig: s[:1], kind: c, align: 4, fixed: 4}, s[1:], nil
	case 'x', 't', 'd':
		return &Type{sig: s[:1], kind: c, align: 8, fixed: 8}, s[1:], nil
	case 's', 'o', 'g':
		return &Type{sig: s[:1], kind: c, align: 1}, s[1:], nil
	case 'v':
		return &Type{sig: "v", kind: c, align: 8}, s[1:], nil
	case 'a', 'm':
		e, rest, err := parseType(s[1:], depth+1)
		if err != nil {
			return nil, "", err
		}
		return &Type{sig: s[:len(s)-len(rest)], kind: c, elem: e, align: e.align}, rest, nil
	case '(', '{':
		end := byte(')')
		if c == '{' {
			end = '}'
		}
		t := &Type{kind: c, align: 1}
		rest := s[1:]
		for {
			if rest == "" {
				return nil, "", fmt.Errorf("unterminated %c", c)
			}
			if rest[0] == end {
				rest = rest[1:]
				break
			}
			f, r, err := parseType(rest, depth+1)
			if err != nil {
				return nil, "", err
			}
			t.fields = append(t.fields, f)
			t.align = max(t.align, f.align)
			rest = r
		}
		if c == '{' {
			if len(t.fields) != 2 || !strings.ContainsRune("bynqiuxthdsog", rune(t.fields[0].kind)) {
				return nil, "", fmt.Errorf("dict entry needs a basic key and one value")
			}
		}
		t.sig = s[:len(s)-len(rest)]
		// A tuple is fixed-size when all members are; its size is the
		// members laid out with padding, rounded up to its alignment. The
		// unit tuple "()" has size 1.
		size := 0
		for _, f := range t.fields {
			if f.fixed == 0 {
				size = -1
				break
			}
			size = alignUp(size, f.align) + f.fixed
		}
		switch {
		case size == 0:
			t.fixed = 1
		case size > 0:
			t.fixed = alignUp(size, t.align)
		}
		return t, rest, nil
	}
	return nil, "", fmt.Errorf("unknown type character %q", c)
}

func alignUp(n, a int) int { return (n + a - 1) &^ (a - 1) }

// Tuple is the Go value of a tuple or dictionary entry.
type Tuple []any

// Variant is the Go value of type "v": a value carrying its own type.
type Variant struct {
	Type  string
	Value any
}

// Maybe is the Go value of a maybe type; Valid false means Nothing.
type Maybe struct {
	Valid bool
	Value any
}
