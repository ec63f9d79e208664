package gvariant

import (
	"bytes"
	"encoding/binary"
	"fmt"
	"math"
)

// Unmarshal decodes data as a value of type sig. It accepts only
// well-framed data: offsets out of range, wrong fixed sizes and missing
// string terminators are errors, never panics or silent defaults.
func Unmarshal(sig string, data []byte) (any, error) {
	t, err := ParseType(sig)
	if err != nil {
		return nil, err
	}
	return t.Decode(data)
}

// Decode decodes data, the complete serialization of one value of type t.
func (t *Type) Decode(data []byte) (any, error) {
	v, err := decode(t, data, 0)
	if err != nil {
		return nil, fmt.Errorf("gvariant %s: %w", t.sig, err)
	}
	return v, nil
}

// readOffsetSize is the framing offset width of a container of n bytes.
func readOffsetSize(n int) int {
	switch {
	case n == 0:
		return 0
	case n <= math.MaxUint8:
		return 1
	case n <= math.MaxUint16:
		return 2
	case uint64(n) <= math.MaxUint32:
		return 4
	}
	return 8
}

func readOffset(b []byte, w int) uint64 {
	var v uint64
	for i := 0; i < w; i++ {
		v |= uint64(b[i]) << (8 * i)
	}
	return v
}

func decode(t *Type, data []byte, depth int) (any, error) {
	if depth > maxDepth {
		return nil, fmt.Errorf("nested deeper than %d", maxDepth)
	}
	if t.fixed != 0 && len(data) != t.fixed {
		return nil, fmt.Errorf("%s: %d bytes, want %d", t.sig, len(data), t.fixed)
	}
	switch t.kind {
	case 'b':
		if data[0] > 1 {
			return nil, fmt.Errorf("boolean byte %d", data[0])
		}
		return data[0] == 1, nil
	case 'y':
		return data[0], nil
	case 'n':
		return int16(binary.LittleEndian.Uint16(data)), nil
	case 'q':
		return binary.LittleEndian.Uint16(data), nil
	case 'i', 'h':
		return int32(binary.LittleEndian.Uint32(data)), nil
	case 'u':
		return binary.LittleEndian.Uint32(data), nil
	case 'x':
		return int64(binary.LittleEndian.Uint64(data)), nil
	case 't':
		return binary.LittleEndian.Uint64(data), nil
	case 'd':
		return math.Float64frombits(binary.LittleEndian.Uint64(data)), nil
	case 's', 'o', 'g':
		if len(data) == 0 || data[len(data)-1] != 0 {
			return nil, fmt.Errorf("string not NUL-terminated")
		}
		s := data[:len(data)-1]
		if bytes.IndexByte(s, 0) >= 0 {
			return nil, fmt.Errorf("string contains NUL")
		}
		return string(s), nil
	case 'v':
		i := bytes.LastIndexByte(data, 0)
		if i < 0 {
			return nil, fmt.Errorf("variant without type")
		}
		sig := string(data[i+1:])
		ct, err := ParseType(sig)
		if err != nil {
			return nil, err
		}
		if depth+len(sig) > maxDepth*4 {
			return nil, fmt.Errorf("variant type %q too deep", sig)
		}
		v, err := decode(ct, data[:i], depth+1)
		if err != nil {
			return nil, err
		}
		return Variant{Type: sig, Value: v}, nil
	case 'm':
		if len(data) == 0 {
			return Maybe{}, nil
		}
		if t.elem.fixed == 0 {
			if data[len(data)-1] != 0 {
				return nil, fmt.Errorf("maybe without trailing zero")
			}
			data = data[:len(data)-1]
		}
		v, err := decode(t.elem, data, depth+1)
		if err != nil {
			return nil, err
		}
		return Maybe{Valid: true, Value: v}, nil
	case 'a':
		return decodeArray(t, data, depth)
	case '(', '{':
		return decodeTuple(t, data, depth)
	}
	return nil, fmt.Errorf("unsupported type %s", t.sig)
}

func decodeArray(t *Type, data []byte, depth int) (any, error) {
	e := t.elem
	if e.kind == 'y' {
		return bytes.Clone(data), nil
	}
	if e.fixed != 0 {
		if len(data)%e.fixed != 0 {
			return nil, fmt.Errorf("%s: %d bytes is not a multiple of %d", t.sig, len(data), e.fixed)
		}
		out := make([]any, 0, len(data)/e.fixed)
		for off := 0; off < len(data); off += e.fixed {
			v, err := decode(e, data[off:off+e.fixed], depth+1)
			if err != nil {
				return nil, err
			}
			out = append(out, v)
		}
		return out, nil
	}
	if len(data) == 0 {
		return []any{}, nil
	}
	w := readOffsetSize(len(data))
	if len(data) < w {
		return nil, fmt.Errorf("%s: truncated framing", t.sig)
	}
	last := readOffset(data[len(data)-w:], w)
	if last > uint64(len(data)) {
		return nil, fmt.Errorf("%s: offset %d beyond %d bytes", t.sig, last, len(data))
	}
	table := len(data) - int(last)
	if table%w != 0 {
		return nil, fmt.Errorf("%s: framing table of %d bytes is not a multiple of %d", t.sig, table, w)
	}
	n := table / w
	out := make([]any, 0, n)
	pos := 0
	for i := 0; i < n; i++ {
		end := readOffset(data[int(last)+i*w:], w)
		pos = alignUp(pos, e.align)
		if end > last || uint64(pos) > end {
			return nil, fmt.Errorf("%s: element %d spans %d..%d outside %d", t.sig, i, pos, end, last)
		}
		v, err := decode(e, data[pos:end], depth+1)
		if err != nil {
			return nil, err
		}
		out = append(out, v)
		pos = int(end)
	}
	return out, nil
}

func decodeTuple(t *Type, data []byte, depth int) (any, error) {
	out := make(Tuple, 0, len(t.fields))
	w := readOffsetSize(len(data))
	if t.fixed != 0 {
		w = 0
	}
	tableEnd := len(data) // framing offsets are read backwards from here
	pos := 0
	for i, f := range t.fields {
		pos = alignUp(pos, f.align)
		var end int
		switch {
		case f.fixed != 0:
			end = pos + f.fixed
		case i == len(t.fields)-1:
			end = tableEnd
		default:
			if tableEnd-w < 0 {
				return nil, fmt.Errorf("%s: truncated framing", t.sig)
			}
			tableEnd -= w
			o := readOffset(data[tableEnd:], w)
			if o > uint64(tableEnd) {
				return nil, fmt.Errorf("%s: member %d ends at %d beyond %d", t.sig, i, o, tableEnd)
			}
			end = int(o)
		}
		if pos > end || end > tableEnd {
			return nil, fmt.Errorf("%s: member %d spans %d..%d outside %d", t.sig, i, pos, end, tableEnd)
		}
		v, err := decode(f, data[pos:end], depth+1)
		if err != nil {
			return nil, err
		}
		out = append(out, v)
		pos = end
	}
	return out, nil
}
