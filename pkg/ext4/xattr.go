package ext4

import (
	"fmt"
	"sort"
	"strings"
)

// xattrPrefixes maps name prefixes to ext4's name indexes (fs/ext4/xattr.h).
// Longer prefixes come first so that "system.posix_acl_access" is not taken
// for a plain "system." name.
var xattrPrefixes = []struct {
	prefix string
	index  uint8
}{
	{"system.posix_acl_access", 2},
	{"system.posix_acl_default", 3},
	{"system.richacl", 8},
	{"security.", 6},
	{"trusted.", 4},
	{"system.", 7},
	{"user.", 1},
}

// xattrIndex splits a full attribute name into ext4's name index and the
// stored suffix.
func xattrIndex(name string) (uint8, string, error) {
	for _, p := range xattrPrefixes {
		if !strings.HasPrefix(name, p.prefix) {
			continue
		}
		suffix := name[len(p.prefix):]
		switch p.index {
		case 2, 3, 8:
			if suffix != "" {
				continue
			}
		default:
			if suffix == "" {
				return 0, "", fmt.Errorf("xattr %q has an empty name", name)
			}
		}
		if len(suffix) > 255 {
			return 0, "", fmt.Errorf("xattr %s: name longer than 255 bytes", name)
		}
		return p.index, suffix, nil
	}
	return 0, "", fmt.Errorf("xattr %q: unknown namespace (want user., trusted., security. or system.)", name)
}

type xentry struct {
	index uint8
	name  string
	value []byte
	hash  uint32
}

func pad4(n int) int { return (n + 3) &^ 3 }

// entrySize is the size of an ext4_xattr_entry with its name.
func (e xentry) entrySize() int { return pad4(16 + len(e.name)) }

// prepareXattrs converts and sorts attributes in the order the kernel
// keeps block entries (index, name length, name): its lookup in a block
// stops at the first entry that sorts after the wanted one.
func prepareXattrs(xs []Xattr) []xentry {
	out := make([]xentry, 0, len(xs))
	for _, x := range xs {
		idx, suffix, _ := xattrIndex(x.Name) // validated when added
		v := x.Value
		if idx == 2 || idx == 3 {
			v, _ = aclToDisk(v) // validated when added
		}
		out = append(out, xentry{index: idx, name: suffix, value: v,
			hash: xattrEntryHash([]byte(suffix), v)})
	}
	sort.Slice(out, func(i, j int) bool {
		a, b := out[i], out[j]
		if a.index != b.index {
			return a.index < b.index
		}
		if len(a.name) != len(b.name) {
			return len(a.name) < len(b.name)
		}
		return a.name < b.name
	})
	return out
}

// xattrSpace is the room the entries need in a region: entries, the
// 4-byte end marker and the padded values.
func xattrSpace(es []xentry) int {
	n := 4
	for _, e := range es {
		n += e.entrySize() + pad4(len(e.value))
	}
	return n
}

// inodeXattrRoom is the space after i_extra_isize: 4 bytes of magic, then
// the entries region.
const inodeXattrRoom = inodeSize - 128 - extraIsize - 4

// encodeXattrRegion writes entries at the start of buf and values packed
// at its end. Stored value offsets are relative to the point offsets count
// from, which lies base bytes before buf: in an inode that is the first
// entry (base 0); in a block it is the block start (base 32, the header).
func encodeXattrRegion(buf []byte, base int, es []xentry) {
	off := 0
	end := len(buf)
	for _, e := range es {
		voff := 0
		if len(e.value) > 0 {
			end -= pad4(len(e.value))
			copy(buf[end:], e.value)
			voff = end + base
		}
		buf[off] = uint8(len(e.name))
		buf[off+1] = e.index
		put16(buf, off+2, uint16(voff))
		put32(buf, off+4, 0) // e_value_inum
		put32(buf, off+8, uint32(len(e.value)))
		put32(buf, off+12, e.hash)
		copy(buf[off+16:], e.name)
		off += e.entrySize()
	}
}

// encodeXattrBlock builds a shared attribute block (refcount users) at
// physical block blk.
func encodeXattrBlock(es []xentry, refcount uint32, blk uint64, seed uint32) []byte {
	b := make([]byte, blockSize)
	put32(b, 0, xattrMagic)
	put32(b, 4, refcount)
	put32(b, 8, 1) // h_blocks
	hashes := make([]uint32, len(es))
	for i, e := range es {
		hashes[i] = e.hash
	}
	put32(b, 12, xattrBlockHash(hashes))
	encodeXattrRegion(b[32:], 32, es)
	var nr [8]byte
	put32(nr[:], 0, uint32(blk))
	put32(nr[:], 4, uint32(blk>>32))
	c := crc32c(seed, nr[:])
	put32(b, 16, crc32c(c, b))
	return b
}
