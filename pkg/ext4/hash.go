package ext4

import (
	"encoding/binary"
	"math/bits"
)

// dirHash is ext4's half-MD4 directory hash (fs/ext4/hash.c, DX_HASH_HALF_MD4
// with signed chars, as mkfs.ext4 selects on x86 and records with
// EXT2_FLAGS_SIGNED_HASH). It returns the major and minor hash; the major
// hash has its low bit clear because htree uses that bit to mark a hash
// collision that continues into the next leaf.
func dirHash(name []byte, seed [4]uint32) (major, minor uint32) {
	buf := [4]uint32{0x67452301, 0xefcdab89, 0x98badcfe, 0x10325476}
	if seed != [4]uint32{} {
		buf = seed
	}
	var in [8]uint32
	for p := name; ; p = p[32:] {
		str2hashbuf(p, len(p), in[:])
		halfMD4(&buf, &in)
		if len(p) <= 32 {
			break
		}
	}
	major = buf[1] &^ 1
	if major == 0x7fffffff<<1 { // EXT4_HTREE_EOF_32BIT is reserved
		major = (0x7fffffff - 1) << 1
	}
	return major, buf[2]
}

// str2hashbuf packs up to len(out)*4 bytes of msg into words, padding with a
// pattern derived from the remaining length, treating bytes as signed chars.
func str2hashbuf(msg []byte, n int, out []uint32) {
	pad := uint32(n) | uint32(n)<<8
	pad |= pad << 16
	val := pad
	num := len(out)
	if n > num*4 {
		n = num * 4
	}
	k := 0
	for i := 0; i < n; i++ {
		val = uint32(int32(int8(msg[i]))) + val<<8
		if i%4 == 3 {
			out[k] = val
			k++
			val = pad
			num--
		}
	}
	if num--; num >= 0 {
		out[k] = val
		k++
	}
	for ; num > 0; num-- {
		out[k] = pad
		k++
	}
}

func halfMD4(buf *[4]uint32, in *[8]uint32) {
	const k2, k3 = 0o13240474631, 0o15666365641
	f := func(x, y, z uint32) uint32 { return z ^ (x & (y ^ z)) }
	g := func(x, y, z uint32) uint32 { return (x & y) + ((x ^ y) & z) }
	h := func(x, y, z uint32) uint32 { return x ^ y ^ z }
	a, b, c, d := buf[0], buf[1], buf[2], buf[3]
	r := func(fn func(x, y, z uint32) uint32, a *uint32, b, c, d, x uint32, s int) {
		*a = bits.RotateLeft32(*a+fn(b, c, d)+x, s)
	}
	r(f, &a, b, c, d, in[0], 3)
	r(f, &d, a, b, c, in[1], 7)
	r(f, &c, d, a, b, in[2], 11)
	r(f, &b, c, d, a, in[3], 19)
	r(f, &a, b, c, d, in[4], 3)
	r(f, &d, a, b, c, in[5], 7)
	r(f, &c, d, a, b, in[6], 11)
	r(f, &b, c, d, a, in[7], 19)

	r(g, &a, b, c, d, in[1]+k2, 3)
	r(g, &d, a, b, c, in[3]+k2, 5)
	r(g, &c, d, a, b, in[5]+k2, 9)
	r(g, &b, c, d, a, in[7]+k2, 13)
	r(g, &a, b, c, d, in[0]+k2, 3)
	r(g, &d, a, b, c, in[2]+k2, 5)
	r(g, &c, d, a, b, in[4]+k2, 9)
	r(g, &b, c, d, a, in[6]+k2, 13)

	r(h, &a, b, c, d, in[3]+k3, 3)
	r(h, &d, a, b, c, in[7]+k3, 9)
	r(h, &c, d, a, b, in[2]+k3, 11)
	r(h, &b, c, d, a, in[6]+k3, 15)
	r(h, &a, b, c, d, in[1]+k3, 3)
	r(h, &d, a, b, c, in[5]+k3, 9)
	r(h, &c, d, a, b, in[0]+k3, 11)
	r(h, &b, c, d, a, in[4]+k3, 15)

	buf[0] += a
	buf[1] += b
	buf[2] += c
	buf[3] += d
}

// xattrEntryHash is ext4_xattr_hash_entry: the name hashed byte by byte,
// then the value word by word (little-endian, zero-padded to 4 bytes).
func xattrEntryHash(name, value []byte) uint32 {
	var h uint32
	for _, c := range name {
		h = h<<5 ^ h>>27 ^ uint32(c) // unsigned chars, as Linux ≥ 6.2 and e2fsprogs write
	}
	for i := 0; i < len(value); i += 4 {
		var w [4]byte
		copy(w[:], value[i:])
		h = h<<16 ^ h>>16 ^ binary.LittleEndian.Uint32(w[:])
	}
	return h
}

// xattrBlockHash is ext4_xattr_rehash's result over a block's entry hashes.
func xattrBlockHash(entryHashes []uint32) uint32 {
	var h uint32
	for _, e := range entryHashes {
		if e == 0 {
			return 0
		}
		h = h<<16 ^ h>>16 ^ e
	}
	return h
}
