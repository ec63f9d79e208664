package iso9660

import (
	"fmt"
	"io/fs"
	"strings"
	"time"
)

// Rock Ridge (RRIP 1.12 over SUSP 1.12) in the primary tree: POSIX modes,
// link counts, timestamps, names of any length and symbolic links. Each
// directory record carries PX and TF entries and, where the name is not
// its ISO 9660 identifier, NM; symlinks carry SL. What does not fit in
// the 255-byte record moves to a continuation area (CE) in sectors of its
// own, as does the ER entry that the root's "." record announces.

const (
	maxRecord = 255
	ceLen     = 28
	erID      = "RRIP_1991A"
	erDesc    = "THE ROCK RIDGE INTERCHANGE PROTOCOL PROVIDES SUPPORT FOR POSIX FILE SYSTEM SEMANTICS"
	erSource  = "PLEASE CONTACT DISC PUBLISHER FOR SPECIFICATION SOURCE.  SEE PUBLISHER IDENTIFIER IN PRIMARY VOLUME DESCRIPTOR FOR CONTACT INFORMATION."

	sIFDIR = 0o040000
	sIFREG = 0o100000
	sIFLNK = 0o120000
)

// which record of a node: its entry in its parent, its directory's ".",
// or (for a parent) a child directory's "..".
type which int

const (
	asChild which = iota
	asDot
	asDotDot
)

type ceKey struct {
	n *node
	w which
}

// ceArea is where a continuation area lies.
type ceArea struct{ block, offset, length uint32 }

// rockRidge builds the System Use fields and lays out continuation areas.
type rockRidge struct {
	ts    time.Time
	areas map[ceKey]ceArea
	order []ceKey  // continuation areas in the order they were made
	blobs [][]byte // their contents
}

func newRockRidge(ts time.Time) *rockRidge {
	return &rockRidge{ts: ts, areas: map[ceKey]ceArea{}}
}

func entry(sig string, data ...[]byte) []byte {
	n := 4
	for _, d := range data {
		n += len(d)
	}
	e := make([]byte, 0, n)
	e = append(e, sig[0], sig[1], byte(n), 1)
	for _, d := range data {
		e = append(e, d...)
	}
	return e
}

func both32b(v uint32) []byte {
	b := make([]byte, 8)
	both32(b, v)
	return b
}

func (r *rockRidge) px(n *node) []byte {
	mode := uint32(n.mode.Perm())
	if n.mode&fs.ModeSetuid != 0 {
		mode |= 0o4000
	}
	if n.mode&fs.ModeSetgid != 0 {
		mode |= 0o2000
	}
	if n.mode&fs.ModeSticky != 0 {
		mode |= 0o1000
	}
	links := uint32(1)
	switch {
	case n.dir:
		mode |= sIFDIR
		links = 2
		for _, c := range n.children {
			if c.dir {
				links++
			}
		}
	case n.link != "":
		mode |= sIFLNK
	default:
		mode |= sIFREG
	}
	return entry("PX", both32b(mode), both32b(links), both32b(0), both32b(0), both32b(n.serial))
}

func (r *rockRidge) tf() []byte {
	stamp := make([]byte, 7)
	recordDate(stamp, r.ts)
	// Modification, access and attribute change times, in that order.
	return entry("TF", []byte{0x0E}, stamp, stamp, stamp)
}

// nm splits name over as many NM entries as it takes.
func nm(name string) []byte {
	var out []byte
	for len(name) > 0 {
		part := name[:min(len(name), maxRecord-5)]
		name = name[len(part):]
		flags := byte(0)
		if len(name) > 0 {
			flags = 1 // continues in the next NM
		}
		out = append(out, entry("NM", []byte{flags}, []byte(part))...)
	}
	return out
}

// sl encodes a symlink target as SL entries of whole components.
func sl(target string) ([]byte, error) {
	var comps [][]byte
	if strings.HasPrefix(target, "/") {
		comps = append(comps, []byte{0x08, 0})
	}
	for _, c := range strings.Split(target, "/") {
		switch c {
		case "":
		case ".":
			comps = append(comps, []byte{0x02, 0})
		case "..":
			comps = append(comps, []byte{0x04, 0})
		default:
			if len(c) > maxRecord-7 {
				return nil, fmt.Errorf("symlink target %q has a component longer than %d bytes", target, maxRecord-7)
			}
			comps = append(comps, append([]byte{0, byte(len(c))}, c...))
		}
	}
	var out []byte
	for len(comps) > 0 {
		data := []byte{}
		k := 0
		for k < len(comps) && 5+len(data)+len(comps[k]) <= maxRecord {
			data = append(data, comps[k]...)
			k++
		}
		comps = comps[k:]
		flags := byte(0)
		if len(comps) > 0 {
			flags = 1 // continues in the next SL
		}
		out = append(out, entry("SL", []byte{flags}, data)...)
	}
	return out, nil
}

// systemUse returns the System Use field of a record with an identifier
// of idLen bytes, moving what does not fit into a continuation area.
func (r *rockRidge) systemUse(n *node, w which, idLen int) []byte {
	subject := n
	if w == asDotDot {
		subject = n.parent
	}
	base := append(r.px(subject), r.tf()...)
	var rest []byte
	if w == asDot && n.parent == n {
		// The root's "." record: SP first, then the ER in continuation.
		base = append(entry("SP", []byte{0xBE, 0xEF, 0}), base...)
		rest = entry("ER", []byte{byte(len(erID)), byte(len(erDesc)), byte(len(erSource)), 1}, []byte(erID+erDesc+erSource))
	}
	if w == asChild {
		if n.name != strings.TrimSuffix(n.isoName, ";1") {
			rest = append(rest, nm(n.name)...)
		}
		rest = append(rest, n.slEntries...)
	}
	room := maxRecord - recordLen(idLen)
	if len(base)+len(rest) <= room && !(w == asDot && n.parent == n) {
		return append(base, rest...)
	}
	if len(rest) == 0 {
		return base
	}
	k := ceKey{n, w}
	a, ok := r.areas[k]
	if !ok {
		r.areas[k] = ceArea{length: uint32(len(rest))}
		r.order = append(r.order, k)
		r.blobs = append(r.blobs, rest)
	}
	return append(base, entry("CE", both32b(a.block), both32b(a.offset), both32b(uint32(len(rest))))...)
}

// layout places the continuation areas from sector first on, none across
// a sector boundary, and returns the sector after them.
func (r *rockRidge) layout(first uint32) uint32 {
	block, off := first, uint32(0)
	for i, k := range r.order {
		l := uint32(len(r.blobs[i]))
		if off+l > sectorSize {
			block, off = block+1, 0
		}
		r.areas[k] = ceArea{block: block, offset: off, length: l}
		off += l
	}
	if off > 0 {
		block++
	}
	return block
}

// bytes returns the continuation sectors as laid out.
func (r *rockRidge) bytes(first, end uint32) []byte {
	out := make([]byte, (end-first)*sectorSize)
	for i, k := range r.order {
		a := r.areas[k]
		copy(out[(a.block-first)*sectorSize+a.offset:], r.blobs[i])
	}
	return out
}

// recordSU is record with a System Use field, padded to an even length.
func recordSU(id []byte, extent, size uint32, dir bool, ts time.Time, su []byte) []byte {
	r := record(id, extent, size, dir, ts)
	r = append(r, su...)
	if len(r)%2 != 0 {
		r = append(r, 0)
	}
	r[0] = byte(len(r))
	return r
}
