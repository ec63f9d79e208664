package depmod

import (
	"cmp"
	"slices"
)

// depmod writes modules.symbols (and inserts modules.symbols.bin values) in
// the iteration order of its own hash table: buckets in index order, keys
// sorted by strcmp within a bucket. Reproducing that order is the only way
// to give the same bytes, so the hash function (Paul Hsieh's SuperFastHash,
// kmod's shared/hash.c) and the bucket count are reproduced here.

func superFastHash(key string) uint32 {
	get16 := func(s string) uint32 { return uint32(s[0]) | uint32(s[1])<<8 } // little-endian host
	n := len(key)
	hash := uint32(n)
	rem := n & 3
	for n /= 4; n > 0; n-- {
		hash += get16(key)
		tmp := get16(key[2:])<<11 ^ hash
		hash = hash<<16 ^ tmp
		key = key[4:]
		hash += hash >> 11
	}
	// C's char is signed on x86: bytes >= 0x80 sign-extend.
	sc := func(c byte) uint32 { return uint32(int32(int8(c))) }
	switch rem {
	case 3:
		hash += get16(key)
		hash ^= hash << 16
		hash ^= sc(key[2]) << 18
		hash += hash >> 11
	case 2:
		hash += get16(key)
		hash ^= hash << 11
		hash += hash >> 17
	case 1:
		hash += sc(key[0])
		hash ^= hash << 10
		hash += hash >> 1
	}
	hash ^= hash << 3
	hash += hash >> 5
	hash ^= hash << 4
	hash += hash >> 17
	hash ^= hash << 25
	hash += hash >> 6
	return hash
}

// sortHashOrder sorts keys the way a kmod hash of nBuckets (a power of two)
// iterates them.
func sortHashOrder[T any](items []T, key func(T) string, nBuckets uint32) {
	type kb struct {
		b uint32
		i int
	}
	idx := make([]kb, len(items))
	for i := range items {
		idx[i] = kb{superFastHash(key(items[i])) & (nBuckets - 1), i}
	}
	slices.SortFunc(idx, func(x, y kb) int {
		if c := cmp.Compare(x.b, y.b); c != 0 {
			return c
		}
		return cmp.Compare(key(items[x.i]), key(items[y.i]))
	})
	out := make([]T, len(items))
	for j, e := range idx {
		out[j] = items[e.i]
	}
	copy(items, out)
}
