package gvdb

import (
	"bytes"
	"encoding/binary"
	"errors"
	"fmt"
)

// File is a parsed GVDB file, for tests and tools that check what a
// writer produced. Every offset is checked against the file: bad input
// gives an error, never a panic.
type File struct {
	data []byte
}

// Reader is one hash table of a File.
type Reader struct {
	f     *File
	items []rawItem
}

type rawItem struct {
	hash       uint32
	parent     uint32
	key        string
	kind       byte
	start, end uint32
}

// ErrFormat reports a file that is not a well-formed GVDB file.
var ErrFormat = errors.New("gvdb: malformed file")

// Open checks data's header and returns the file.
func Open(data []byte) (*File, error) {
	if len(data) < headerSize || !bytes.Equal(data[:8], []byte("GVariant")) {
		return nil, fmt.Errorf("%w: no little-endian GVDB signature", ErrFormat)
	}
	if v := binary.LittleEndian.Uint32(data[8:]); v != 0 {
		return nil, fmt.Errorf("%w: version %d", ErrFormat, v)
	}
	return &File{data: data}, nil
}

// Root returns the file's root table.
func (f *File) Root() (*Reader, error) {
	return f.table(binary.LittleEndian.Uint32(f.data[16:]), binary.LittleEndian.Uint32(f.data[20:]))
}

func (f *File) slice(start, end uint32) ([]byte, error) {
	if start > end || uint64(end) > uint64(len(f.data)) {
		return nil, fmt.Errorf("%w: pointer [%d,%d) outside %d bytes", ErrFormat, start, end, len(f.data))
	}
	return f.data[start:end], nil
}

func (f *File) table(start, end uint32) (*Reader, error) {
	if start%4 != 0 {
		return nil, fmt.Errorf("%w: unaligned table at %d", ErrFormat, start)
	}
	b, err := f.slice(start, end)
	if err != nil {
		return nil, err
	}
	if len(b) < 8 {
		return nil, fmt.Errorf("%w: table of %d bytes", ErrFormat, len(b))
	}
	le := binary.LittleEndian
	nbloom := uint64(le.Uint32(b) & (1<<27 - 1))
	nbuckets := uint64(le.Uint32(b[4:]))
	rest := uint64(len(b)) - 8
	if 4*(nbloom+nbuckets) > rest || (rest-4*(nbloom+nbuckets))%itemSize != 0 {
		return nil, fmt.Errorf("%w: table sizes do not add up", ErrFormat)
	}
	ib := b[8+4*(nbloom+nbuckets):]
	r := &Reader{f: f, items: make([]rawItem, len(ib)/itemSize)}
	for i := range r.items {
		e := ib[i*itemSize:]
		ks := le.Uint32(e[8:])
		kb, err := f.slice(ks, ks+uint32(le.Uint16(e[12:])))
		if err != nil || uint64(ks)+uint64(le.Uint16(e[12:])) > 1<<32-1 {
			return nil, fmt.Errorf("%w: key of item %d", ErrFormat, i)
		}
		r.items[i] = rawItem{
			hash: le.Uint32(e), parent: le.Uint32(e[4:]), key: string(kb),
			kind: e[14], start: le.Uint32(e[16:]), end: le.Uint32(e[20:]),
		}
	}
	return r, nil
}

// Len is the number of items.
func (r *Reader) Len() int { return len(r.items) }

// Key returns item i's full key: its parents' keys joined with its own.
func (r *Reader) Key(i int) (string, error) {
	key := ""
	for n := 0; ; n++ {
		if i < 0 || i >= len(r.items) || n > len(r.items) {
			return "", fmt.Errorf("%w: bad parent chain", ErrFormat)
		}
		key = r.items[i].key + key
		p := r.items[i].parent
		if p == ^uint32(0) {
			return key, nil
		}
		i = int(p)
	}
}

// Kind returns item i's type: 'v', 'H' or 'L' (0 if unset).
func (r *Reader) Kind(i int) byte { return r.items[i].kind }

// Hash returns item i's stored hash.
func (r *Reader) Hash(i int) uint32 { return r.items[i].hash }

// Value returns item i's serialized value of type "v".
func (r *Reader) Value(i int) ([]byte, error) {
	it := r.items[i]
	if it.kind != 'v' {
		return nil, fmt.Errorf("gvdb: item %q is %q, not a value", it.key, it.kind)
	}
	return r.f.slice(it.start, it.end)
}

// Table returns item i's nested table.
func (r *Reader) Table(i int) (*Reader, error) {
	it := r.items[i]
	if it.kind != 'H' {
		return nil, fmt.Errorf("gvdb: item %q is %q, not a table", it.key, it.kind)
	}
	return r.f.table(it.start, it.end)
}

// List returns the item indices item i lists.
func (r *Reader) List(i int) ([]int, error) {
	it := r.items[i]
	if it.kind != 'L' {
		return nil, fmt.Errorf("gvdb: item %q is %q, not a list", it.key, it.kind)
	}
	b, err := r.f.slice(it.start, it.end)
	if err != nil {
		return nil, err
	}
	if len(b)%4 != 0 {
		return nil, fmt.Errorf("%w: list of %d bytes", ErrFormat, len(b))
	}
	out := make([]int, len(b)/4)
	for j := range out {
		v := binary.LittleEndian.Uint32(b[4*j:])
		if uint64(v) >= uint64(len(r.items)) {
			return nil, fmt.Errorf("%w: list index %d of %d", ErrFormat, v, len(r.items))
		}
		out[j] = int(v)
	}
	return out, nil
}

// Lookup finds key's item index, or -1.
func (r *Reader) Lookup(key string) int {
	for i := range r.items {
		if k, err := r.Key(i); err == nil && k == key {
			return i
		}
	}
	return -1
}
