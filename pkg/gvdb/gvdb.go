// Package gvdb writes and reads GLib's GVDB files: the on-disk hash
// tables behind gschemas.compiled (GSettings' schema cache). The writer
// lays the file out as GLib's gvdb builder does, item for item and byte
// for byte, so a compiled schema cache made here can be compared with
// the output of glib-compile-schemas.
//
// A file is a 24-byte header (signature "GVariant", version 0, options
// 0, pointer to the root table) followed by chunks. A hash table chunk
// holds a bloom header, a bucket count, the bloom words (always none
// here), the first item index of each bucket and 24-byte items: hash,
// parent index, key pointer and length, type ('v' value, 'H' nested
// table, 'L' list of child item indices) and a value pointer.
package gvdb

import (
	"encoding/binary"
	"slices"
	"strings"

	"github.com/debatom/debatom/pkg/gvariant"
)

const (
	headerSize = 24
	itemSize   = 24
	// bloomShift is what GLib's builder writes into the top five bits
	// of the bloom header although it emits no bloom words.
	bloomShift = 5
)

// Table is a hash table being built. Its items are laid out in the order
// GLib's builder would: that depends on the order keys were inserted,
// because GLib walks its own GHashTable to fill the buckets.
type Table struct {
	items map[string]*Item
	order []string // insertion order of distinct keys
}

// Item is one key of a Table; it holds at most one of a value, a nested
// table or a list of children (the items naming it as their parent).
type Item struct {
	key      string
	hash     uint32
	parent   *Item
	children []*Item // sorted by key, as gvdb_item_set_parent keeps them
	value    []byte
	table    *Table
	index    uint32
}

// NewTable returns an empty table.
func NewTable() *Table { return &Table{items: map[string]*Item{}} }

// Insert adds key to t and returns its new item. Inserting a key again
// replaces its item but keeps its place, as GHashTable does.
func (t *Table) Insert(key string) *Item {
	it := &Item{key: key, hash: Hash(key)}
	if _, ok := t.items[key]; !ok {
		t.order = append(t.order, key)
	}
	t.items[key] = it
	return it
}

// InsertString adds key with a string value, as
// gvdb_hash_table_insert_string does.
func (t *Table) InsertString(key, value string) {
	b, _ := gvariant.Marshal("v", gvariant.Variant{Type: "s", Value: value})
	t.Insert(key).value = b
}

// SetValue makes v the item's value: v is the serialized GVariant of
// type "v" (a variant holding the value), in normal form, as GLib's
// builder stores it.
func (it *Item) SetValue(v []byte) { it.value = v }

// SetTable makes the item a nested hash table.
func (it *Item) SetTable(t *Table) { it.table = t }

// SetParent links it under parent: its key is stored without parent's
// key as prefix and parent lists it. parent's key must be a prefix of
// its key; otherwise nothing is linked (GLib refuses it the same way).
func (it *Item) SetParent(parent *Item) {
	if !strings.HasPrefix(it.key, parent.key) {
		return
	}
	i, _ := slices.BinarySearchFunc(parent.children, it.key, func(c *Item, k string) int {
		// Equal keys go after the ones already there (strcmp > 0 stops).
		if c.key <= k {
			return -1
		}
		return 1
	})
	parent.children = slices.Insert(parent.children, i, it)
	it.parent = parent
}

// Hash is GVDB's key hash: djb2 over the bytes as signed chars.
func Hash(key string) uint32 {
	h := uint32(5381)
	for i := 0; i < len(key); i++ {
		h = h*33 + uint32(int32(int8(key[i])))
	}
	return h
}

// Bytes serializes t as a little-endian GVDB file with t as root.
func (t *Table) Bytes() []byte {
	buf := make([]byte, headerSize, 4096)
	copy(buf, "GVariant")
	var root [2]uint32
	buf = t.write(buf, &root, -1)
	binary.LittleEndian.PutUint32(buf[16:], root[0])
	binary.LittleEndian.PutUint32(buf[20:], root[1])
	return buf
}

func alloc(buf []byte, align, size int) ([]byte, int) {
	for len(buf)%align != 0 {
		buf = append(buf, 0)
	}
	off := len(buf)
	return append(buf, make([]byte, size)...), off
}

// write appends t's hash table and, after it, the chunks its items
// point to, in GLib's order; the table's pointer goes to ptr, or, when
// at >= 0, into buf at that offset.
func (t *Table) write(buf []byte, ptr *[2]uint32, at int) []byte {
	n := len(t.order)
	// GLib fills the buckets walking its GHashTable and prepending to
	// each bucket's chain, so a chain runs against that walk.
	var buckets [][]*Item
	if n > 0 {
		buckets = make([][]*Item, n)
		for _, k := range gvariant.GLibDictOrder(t.order) {
			it := t.items[k]
			b := it.hash % uint32(n)
			buckets[b] = append([]*Item{it}, buckets[b]...)
		}
	}
	var idx uint32
	for _, b := range buckets {
		for _, it := range b {
			it.index = idx
			idx++
		}
	}
	size := 8 + 4*n + itemSize*n
	buf, start := alloc(buf, 4, size)
	setPtr := func(buf []byte, p *[2]uint32, at int, s, e int) {
		if at >= 0 {
			binary.LittleEndian.PutUint32(buf[at:], uint32(s))
			binary.LittleEndian.PutUint32(buf[at+4:], uint32(e))
			return
		}
		p[0], p[1] = uint32(s), uint32(e)
	}
	setPtr(buf, ptr, at, start, start+size)
	le := binary.LittleEndian
	le.PutUint32(buf[start:], bloomShift<<27)
	le.PutUint32(buf[start+4:], uint32(n))
	items := start + 8 + 4*n
	idx = 0
	for bi, b := range buckets {
		le.PutUint32(buf[start+8+4*bi:], idx)
		for _, it := range b {
			e := items + itemSize*int(idx)
			le.PutUint32(buf[e:], it.hash)
			parent := ^uint32(0)
			base := it.key
			if it.parent != nil {
				parent = it.parent.index
				base = it.key[len(it.parent.key):]
			}
			le.PutUint32(buf[e+4:], parent)
			le.PutUint32(buf[e+8:], uint32(len(buf)))
			le.PutUint16(buf[e+12:], uint16(len(base)))
			buf = append(buf, base...)
			switch {
			case it.value != nil:
				var off int
				buf, off = alloc(buf, 8, len(it.value))
				copy(buf[off:], it.value)
				buf[e+14] = 'v'
				setPtr(buf, nil, e+16, off, off+len(it.value))
			case len(it.children) > 0:
				var off int
				buf, off = alloc(buf, 4, 4*len(it.children))
				for i, c := range it.children {
					le.PutUint32(buf[off+4*i:], c.index)
				}
				buf[e+14] = 'L'
				setPtr(buf, nil, e+16, off, len(buf))
			case it.table != nil:
				buf[e+14] = 'H'
				buf = it.table.write(buf, nil, e+16)
			}
			idx++
		}
	}
	return buf
}
