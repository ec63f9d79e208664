package gvariant

import (
	"encoding/binary"
	"fmt"
	"math"
	"strings"
)

// Marshal serializes v as type sig in normal form.
func Marshal(sig string, v any) ([]byte, error) {
	t, err := ParseType(sig)
	if err != nil {
		return nil, err
	}
	return t.Append(nil, v)
}

// Append appends the serialization of v as t to buf. buf's length must be
// a multiple of 8 (or zero) so alignment inside the value is preserved.
func (t *Type) Append(buf []byte, v any) ([]byte, error) {
	if len(buf)%8 != 0 {
		return nil, fmt.Errorf("gvariant: append %s at unaligned offset %d", t.sig, len(buf))
	}
	return appendValue(buf, len(buf), t, v, 0)
}

func pad(buf []byte, start, align int) []byte {
	for (len(buf)-start)&(align-1) != 0 {
		buf = append(buf, 0)
	}
	return buf
}

// offsetSize is the framing offset width for a container whose body is
// body bytes long and which stores n offsets: the smallest width that can
// address the whole container.
func offsetSize(body, n int) int {
	switch {
	case body+n == 0:
		return 0
	case body+n <= math.MaxUint8:
		return 1
	case body+2*n <= math.MaxUint16:
		return 2
	case uint64(body)+4*uint64(n) <= math.MaxUint32:
		return 4
	}
	return 8
}

func appendOffset(buf []byte, off uint64, w int) []byte {
	for i := 0; i < w; i++ {
		buf = append(buf, byte(off>>(8*i)))
	}
	return buf
}

func typeErr(t *Type, v any) error {
	return fmt.Errorf("gvariant: cannot encode %T as %s", v, t.sig)
}

func appendValue(buf []byte, start int, t *Type, v any, depth int) ([]byte, error) {
	if depth > maxDepth {
		return nil, fmt.Errorf("gvariant: value nested deeper than %d", maxDepth)
	}
	buf = pad(buf, start, t.align)
	switch t.kind {
	case 'b':
		b, ok := v.(bool)
		if !ok {
			return nil, typeErr(t, v)
		}
		if b {
			return append(buf, 1), nil
		}
		return append(buf, 0), nil
	case 'y':
		b, ok := v.(uint8)
		if !ok {
			return nil, typeErr(t, v)
		}
		return append(buf, b), nil
	case 'n':
		n, ok := v.(int16)
		if !ok {
			return nil, typeErr(t, v)
		}
		return binary.LittleEndian.AppendUint16(buf, uint16(n)), nil
	case 'q':
		n, ok := v.(uint16)
		if !ok {
			return nil, typeErr(t, v)
		}
		return binary.LittleEndian.AppendUint16(buf, n), nil
	case 'i', 'h':
		n, ok := v.(int32)
		if !ok {
			return nil, typeErr(t, v)
		}
		return binary.LittleEndian.AppendUint32(buf, uint32(n)), nil
	case 'u':
		n, ok := v.(uint32)
		if !ok {
			return nil, typeErr(t, v)
		}
		return binary.LittleEndian.AppendUint32(buf, n), nil
	case 'x':
		n, ok := v.(int64)
		if !ok {
			return nil, typeErr(t, v)
		}
		return binary.LittleEndian.AppendUint64(buf, uint64(n)), nil
	case 't':
		n, ok := v.(uint64)
		if !ok {
			return nil, typeErr(t, v)
		}
		return binary.LittleEndian.AppendUint64(buf, n), nil
	case 'd':
		f, ok := v.(float64)
		if !ok {
			return nil, typeErr(t, v)
		}
		return binary.LittleEndian.AppendUint64(buf, math.Float64bits(f)), nil
	case 's', 'o', 'g':
		s, ok := v.(string)
		if !ok {
			return nil, typeErr(t, v)
		}
		if strings.IndexByte(s, 0) >= 0 {
			return nil, fmt.Errorf("gvariant: string %q contains NUL", s)
		}
		buf = append(buf, s...)
		return append(buf, 0), nil
	case 'v':
		vv, ok := v.(Variant)
		if !ok {
			return nil, typeErr(t, v)
		}
		ct, err := ParseType(vv.Type)
		if err != nil {
			return nil, err
		}
		buf, err = appendValue(buf, start, ct, vv.Value, depth+1)
		if err != nil {
			return nil, err
		}
		buf = append(buf, 0)
		return append(buf, vv.Type...), nil
	case 'm':
		m, ok := v.(Maybe)
		if !ok {
			return nil, typeErr(t, v)
		}
		if !m.Valid {
			return buf, nil
		}
		buf, err := appendValue(buf, start, t.elem, m.Value, depth+1)
		if err != nil {
			return nil, err
		}
		if t.elem.fixed == 0 {
			buf = append(buf, 0)
		}
		return buf, nil
	case 'a':
		if t.elem.kind == 'y' {
			b, ok := v.([]byte)
			if !ok {
				return nil, typeErr(t, v)
			}
			return append(buf, b...), nil
		}
		items, ok := v.([]any)
		if !ok {
			return nil, typeErr(t, v)
		}
		cstart := len(buf)
		var ends []int
		if t.elem.fixed == 0 {
			ends = make([]int, 0, len(items))
		}
		var err error
		for _, it := range items {
			buf, err = appendValue(buf, start, t.elem, it, depth+1)
			if err != nil {
				return nil, err
			}
			if ends != nil {
				ends = append(ends, len(buf)-cstart)
			}
		}
		if len(ends) > 0 {
			w := offsetSize(len(buf)-cstart, len(ends))
			for _, e := range ends {
				buf = appendOffset(buf, uint64(e), w)
			}
		}
		return buf, nil
	case '(', '{':
		tup, ok := v.(Tuple)
		if !ok || len(tup) != len(t.fields) {
			return nil, typeErr(t, v)
		}
		cstart := len(buf)
		var ends []int
		var err error
		for i, f := range t.fields {
			buf, err = appendValue(buf, start, f, tup[i], depth+1)
			if err != nil {
				return nil, err
			}
			if f.fixed == 0 && i != len(t.fields)-1 {
				ends = append(ends, len(buf)-cstart)
			}
		}
		if t.fixed != 0 {
			// Fixed-size tuples are padded to their alignment; the unit
			// tuple is one zero byte.
			if len(t.fields) == 0 {
				return append(buf, 0), nil
			}
			return pad(buf, cstart, t.align), nil
		}
		if len(ends) > 0 {
			w := offsetSize(len(buf)-cstart, len(ends))
			for i := len(ends) - 1; i >= 0; i-- {
				buf = appendOffset(buf, uint64(ends[i]), w)
			}
		}
		return buf, nil
	}
	return nil, fmt.Errorf("gvariant: unsupported type %s", t.sig)
}
