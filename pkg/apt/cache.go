package apt

import (
	"encoding/binary"
	"errors"
	"fmt"
	"hash/crc32"
	"os"
	"path/filepath"

	"github.com/debatom/debatom/internal/atomicfile"
	"github.com/debatom/debatom/pkg/deb822"
)

// The parsed-index cache file, CacheDir/indexes/<sha256>.idx:
//
//	magic        "debatom-index/1\n"
//	uvarint      number of distinct field names, then each as uvarint length + bytes
//	uvarint      number of paragraphs
//	uvarint      length of the value blob, then the blob: every field value, in order
//	per paragraph: uvarint line, uvarint field count, then per field
//	             uvarint name index, uvarint value length
//	4 bytes      CRC-32C (little-endian) of everything before
//
// Values are stored back to back, so decoding turns the blob into one string
// and slices every value out of it: loading 68,829 stanzas costs a few slab
// allocations and no parsing. The CRC catches a damaged file (a cache is
// trusted as the user's own, like apt's lists directory; it is not a
// security boundary).
const indexCacheMagic = "debatom-index/1\n"

var castagnoli = crc32.MakeTable(crc32.Castagnoli)

func indexCachePath(dir, key string) string {
	return filepath.Join(dir, "indexes", key+".idx")
}

// encodeIndex serializes pkgs in the cache format.
func encodeIndex(pkgs []*Package) []byte {
	nameIdx := map[string]int{}
	var names []string
	blobLen, nfields := 0, 0
	for _, p := range pkgs {
		for _, f := range p.Paragraph.Fields {
			if _, ok := nameIdx[f.Name]; !ok {
				nameIdx[f.Name] = len(names)
				names = append(names, f.Name)
			}
			blobLen += len(f.Value)
			nfields++
		}
	}
	b := make([]byte, 0, len(indexCacheMagic)+blobLen+4*nfields+8*len(pkgs)+1024)
	b = append(b, indexCacheMagic...)
	b = binary.AppendUvarint(b, uint64(len(names)))
	for _, n := range names {
		b = binary.AppendUvarint(b, uint64(len(n)))
		b = append(b, n...)
	}
	b = binary.AppendUvarint(b, uint64(len(pkgs)))
	b = binary.AppendUvarint(b, uint64(blobLen))
	for _, p := range pkgs {
		for _, f := range p.Paragraph.Fields {
			b = append(b, f.Value...)
		}
	}
	for _, p := range pkgs {
		b = binary.AppendUvarint(b, uint64(p.Paragraph.Line))
		b = binary.AppendUvarint(b, uint64(len(p.Paragraph.Fields)))
		for _, f := range p.Paragraph.Fields {
			b = binary.AppendUvarint(b, uint64(nameIdx[f.Name]))
			b = binary.AppendUvarint(b, uint64(len(f.Value)))
		}
	}
	return binary.LittleEndian.AppendUint32(b, crc32.Checksum(b, castagnoli))
}

var errBadCache = errors.New("damaged index cache")

// decodeIndex is the inverse of encodeIndex; Origin is left empty.
func decodeIndex(data []byte) ([]*Package, error) {
	if len(data) < len(indexCacheMagic)+4 || string(data[:len(indexCacheMagic)]) != indexCacheMagic {
		return nil, errBadCache
	}
	body := data[:len(data)-4]
	if crc32.Checksum(body, castagnoli) != binary.LittleEndian.Uint32(data[len(data)-4:]) {
		return nil, errBadCache
	}
	d := decoder{b: body[len(indexCacheMagic):]}
	nnames := d.uvarint()
	if nnames > uint64(len(d.b)) {
		return nil, errBadCache
	}
	names := make([]string, nnames)
	picked := make([]int, nnames)
	for i := range names {
		names[i] = string(d.bytes(d.uvarint()))
		picked[i] = pickedField(names[i])
	}
	npkgs := d.uvarint()
	blob := string(d.bytes(d.uvarint()))
	if d.err || npkgs > uint64(len(d.b)) {
		return nil, errBadCache
	}
	pkgs := make([]Package, npkgs)
	paras := make([]deb822.Paragraph, npkgs)
	out := make([]*Package, npkgs)
	var fields []deb822.Field
	off := 0
	for i := range pkgs {
		para := &paras[i]
		para.Line = int(d.uvarint())
		n := d.uvarint()
		if d.err || n > uint64(len(d.b)) {
			return nil, errBadCache
		}
		if uint64(cap(fields)-len(fields)) < n {
			fields = make([]deb822.Field, 0, max(16384, n))
		}
		start := len(fields)
		p := &pkgs[i]
		var st picking
		for range n {
			ni, vl := d.uvarint(), d.uvarint()
			if d.err || ni >= nnames || vl > uint64(len(blob)-off) {
				return nil, errBadCache
			}
			v := blob[off : off+int(vl)]
			off += int(vl)
			fields = append(fields, deb822.Field{Name: names[ni], Value: v})
			p.set(picked[ni], v, &st)
		}
		para.Fields = fields[start:len(fields):len(fields)]
		p.Paragraph = para
		if err := p.check(para, &st); err != nil {
			return nil, errBadCache
		}
		out[i] = p
	}
	if off != len(blob) || len(d.b) != 0 {
		return nil, errBadCache
	}
	return out, nil
}

type decoder struct {
	b   []byte
	err bool
}

func (d *decoder) uvarint() uint64 {
	// Most numbers in the cache (name indexes, value lengths) take one
	// byte: decoding them inline saves a call for each of ~3 million.
	if len(d.b) > 0 && d.b[0] < 0x80 {
		v := uint64(d.b[0])
		d.b = d.b[1:]
		return v
	}
	v, n := binary.Uvarint(d.b)
	if n <= 0 {
		d.err = true
		return 0
	}
	d.b = d.b[n:]
	return v
}

func (d *decoder) bytes(n uint64) []byte {
	if n > uint64(len(d.b)) {
		d.err = true
		return nil
	}
	v := d.b[:n]
	d.b = d.b[n:]
	return v
}

// readIndexCache loads a cached index; any failure (absent, damaged, no
// cache dir) means "parse it again".
func readIndexCache(dir, key string) ([]*Package, error) {
	if dir == "" {
		return nil, os.ErrNotExist
	}
	data, err := os.ReadFile(indexCachePath(dir, key))
	if err != nil {
		return nil, err
	}
	return decodeIndex(data)
}

func writeIndexCache(dir, key string, pkgs []*Package) error {
	if err := atomicfile.WriteFile(indexCachePath(dir, key), encodeIndex(pkgs), 0o644); err != nil {
		return fmt.Errorf("write index cache: %w", err)
	}
	return nil
}
