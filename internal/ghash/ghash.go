// Package ghash models the slot layout of GLib's GHashTable keyed by
// strings (g_str_hash): open addressing with quadratic probing, tombstones
// left by removals, and GLib's in-place resize. Its iteration order is
// what tools built on GLib write out: libostree's commit metadata (a
// GVariantDict) and glib-compile-schemas' table of schemas, where a schema
// file with an error has its schemas removed again.
package ghash

// Table is a set of strings laid out as a GHashTable would hold them.
type Table struct {
	size, mask, mod   uint32
	nnodes, noccupied int
	hashes            []uint32 // 0 unused, 1 tombstone, else the hash
	keys              []string
}

const (
	slotUnused    = 0
	slotTombstone = 1
	minShift      = 3
)

// primes is GLib's modulus for each table size 1<<shift.
var primes = [...]uint32{1, 2, 3, 7, 13, 31, 61, 127, 251, 509, 1021, 2039, 4093, 8191,
	16381, 32749, 65521, 131071, 262139, 524287, 1048573, 2097143, 4194301, 8388593,
	16777213, 33554393, 67108859, 134217689, 268435399, 536870909, 1073741789, 2147483647}

// New returns an empty table.
func New() *Table {
	h := &Table{}
	h.setShift(minShift)
	h.hashes = make([]uint32, h.size)
	h.keys = make([]string, h.size)
	return h
}

func (h *Table) setShift(shift int) {
	h.size = 1 << shift
	h.mod = primes[shift]
	h.mask = h.size - 1
}

// strHash is g_str_hash (djb2 over the bytes as signed chars), with the
// values GLib reserves for empty and removed slots moved out of the way.
func strHash(s string) uint32 {
	v := uint32(5381)
	for i := 0; i < len(s); i++ {
		v = v<<5 + v + uint32(int32(int8(s[i])))
	}
	if v <= slotTombstone {
		v = 2
	}
	return v
}

func (h *Table) home(hash uint32) uint32 { return (hash * 11) % h.mod }

// lookup returns k's slot, or where it would go: the first tombstone on
// its probe sequence, else the unused slot ending it.
func (h *Table) lookup(k string, hv uint32) (uint32, bool) {
	i := h.home(hv)
	step := uint32(0)
	tomb, haveTomb := uint32(0), false
	for h.hashes[i] != slotUnused {
		if h.hashes[i] == hv && h.keys[i] == k {
			return i, true
		}
		if h.hashes[i] == slotTombstone && !haveTomb {
			tomb, haveTomb = i, true
		}
		step++
		i = (i + step) & h.mask
	}
	if haveTomb {
		return tomb, false
	}
	return i, false
}

// Insert adds k; adding a key already there keeps its slot.
func (h *Table) Insert(k string) {
	hv := strHash(k)
	i, found := h.lookup(k, hv)
	if found {
		return
	}
	old := h.hashes[i]
	h.hashes[i], h.keys[i] = hv, k
	h.nnodes++
	if old == slotUnused {
		h.noccupied++
		h.maybeResize()
	}
}

// Remove deletes k, leaving a tombstone in its slot.
func (h *Table) Remove(k string) {
	i, found := h.lookup(k, strHash(k))
	if !found {
		return
	}
	h.hashes[i], h.keys[i] = slotTombstone, ""
	h.nnodes--
	h.maybeResize()
}

func (h *Table) maybeResize() {
	if (int(h.size) > h.nnodes*4 && h.size > 1<<minShift) || int(h.size) <= h.noccupied+h.noccupied/16 {
		h.resize()
	}
}

// resize is GLib's in-place rehash: entries move to their new home slot,
// evicting and re-placing whatever was there, in slot order; tombstones
// are dropped.
func (h *Table) resize() {
	old := h.size
	n := int(float64(h.nnodes) * 1.333)
	shift := 0
	for ; n != 0; shift++ {
		n >>= 1
	}
	h.setShift(max(shift, minShift))
	if h.size > old {
		h.hashes = append(h.hashes, make([]uint32, h.size-old)...)
		h.keys = append(h.keys, make([]string, h.size-old)...)
	}
	placed := make([]bool, max(h.size, old))
	for i := uint32(0); i < old; i++ {
		hv := h.hashes[i]
		if hv <= slotTombstone {
			h.hashes[i] = slotUnused
			continue
		}
		if placed[i] {
			continue
		}
		h.hashes[i] = slotUnused
		k := h.keys[i]
		h.keys[i] = ""
		for {
			j := h.home(hv)
			step := uint32(0)
			for placed[j] {
				step++
				j = (j + step) & h.mask
			}
			placed[j] = true
			rh, rk := h.hashes[j], h.keys[j]
			h.hashes[j], h.keys[j] = hv, k
			if rh <= slotTombstone {
				break
			}
			hv, k = rh, rk
		}
	}
	if h.size < old {
		h.hashes = h.hashes[:h.size]
		h.keys = h.keys[:h.size]
	}
	h.noccupied = h.nnodes
}

// Order returns the keys in g_hash_table_foreach order.
func (h *Table) Order() []string {
	out := make([]string, 0, h.nnodes)
	for i, hv := range h.hashes {
		if hv > slotTombstone {
			out = append(out, h.keys[i])
		}
	}
	return out
}
