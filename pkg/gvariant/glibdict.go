package gvariant

// GLibDictOrder returns keys (distinct, in insertion order) in the order
// GLib's g_variant_dict_end emits them after g_variant_dict_insert was
// called with each key in turn. libostree builds commit metadata in a
// GVariantDict, so reproducing `ostree commit` checksums needs this order:
// it is the iteration order of a GHashTable keyed by g_str_hash, with
// GLib's open addressing, probing and in-place resizing.
func GLibDictOrder(keys []string) []string {
	var h ghashTable
	h.init()
	for _, k := range keys {
		h.insert(k)
	}
	out := make([]string, 0, len(keys))
	for i, hv := range h.hashes {
		if hv > 1 {
			out = append(out, h.keys[i])
		}
	}
	return out
}

// primeMod is GLib's modulus for each table size 1<<shift.
var primeMod = [...]uint32{1, 2, 3, 7, 13, 31, 61, 127, 251, 509, 1021, 2039, 4093, 8191,
	16381, 32749, 65521, 131071, 262139, 524287, 1048573, 2097143, 4194301, 8388593,
	16777213, 33554393, 67108859, 134217689, 268435399, 536870909, 1073741789, 2147483647}

const ghashMinShift = 3

// ghashTable models the bucket layout of GLib's GHashTable (keys only).
type ghashTable struct {
	size, mask, mod   uint32
	nnodes, noccupied int
	hashes            []uint32
	keys              []string
}

// gStrHash is g_str_hash: djb2 over the bytes as signed chars.
func gStrHash(s string) uint32 {
	h := uint32(5381)
	for i := 0; i < len(s); i++ {
		h = h<<5 + h + uint32(int32(int8(s[i])))
	}
	return h
}

func (h *ghashTable) setShift(shift int) {
	h.size = 1 << shift
	h.mod = primeMod[shift]
	h.mask = h.size - 1
}

func (h *ghashTable) init() {
	h.setShift(ghashMinShift)
	h.hashes = make([]uint32, h.size)
	h.keys = make([]string, h.size)
}

func (h *ghashTable) index(hash uint32) uint32 { return (hash * 11) % h.mod }

func (h *ghashTable) insert(k string) {
	hv := gStrHash(k)
	if hv <= 1 {
		hv = 2
	}
	i := h.index(hv)
	step := uint32(0)
	for h.hashes[i] != 0 {
		if h.hashes[i] == hv && h.keys[i] == k {
			return // replacing a value keeps the slot
		}
		step++
		i = (i + step) & h.mask
	}
	h.hashes[i] = hv
	h.keys[i] = k
	h.nnodes++
	h.noccupied++
	if (int(h.size) > h.nnodes*4 && h.size > 1<<ghashMinShift) || int(h.size) <= h.noccupied+h.noccupied/16 {
		h.resize()
	}
}

// resize is GLib's in-place rehash: entries are moved to their new home
// bucket, evicting and re-placing whatever was there, in bucket order.
func (h *ghashTable) resize() {
	old := h.size
	n := int(float64(h.nnodes) * 1.333)
	shift := 0
	for ; n != 0; shift++ {
		n >>= 1
	}
	h.setShift(max(shift, ghashMinShift))
	if h.size > old {
		h.hashes = append(h.hashes, make([]uint32, h.size-old)...)
		h.keys = append(h.keys, make([]string, h.size-old)...)
	}
	placed := make([]bool, max(h.size, old))
	for i := uint32(0); i < old; i++ {
		hv := h.hashes[i]
		if hv <= 1 {
			h.hashes[i] = 0
			continue
		}
		if placed[i] {
			continue
		}
		h.hashes[i] = 0
		k := h.keys[i]
		h.keys[i] = ""
		for {
			j := h.index(hv)
			step := uint32(0)
			for placed[j] {
				step++
				j = (j + step) & h.mask
			}
			placed[j] = true
			rh, rk := h.hashes[j], h.keys[j]
			h.hashes[j], h.keys[j] = hv, k
			if rh <= 1 {
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
