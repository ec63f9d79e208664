// Package ostreerepo reads and writes OSTree repositories byte-for-byte as
// libostree does: content, dirtree, dirmeta and commit objects, the
// archive, bare-user and bare repository modes, refs and the summary.
//
// Checksums are lower-case 64-digit hex SHA-256 strings. Every object is
// written as an unnamed O_TMPFILE inode and linked into objects/ only when
// complete, its metadata set (or, where O_TMPFILE is unavailable, written
// to the repository's tmp/ directory and renamed), so a reader never sees
// half an object.
package ostreerepo

import (
	"crypto/sha256"
	"encoding/binary"
	"encoding/hex"
	"fmt"
	"math/bits"
	"sort"

	"github.com/debatom/debatom/pkg/fstree"
	"github.com/debatom/debatom/pkg/gvariant"
)

// ObjectType is the kind of an OSTree object; the values are libostree's.
type ObjectType int

const (
	ObjFile       ObjectType = 1
	ObjDirTree    ObjectType = 2
	ObjDirMeta    ObjectType = 3
	ObjCommit     ObjectType = 4
	ObjCommitMeta ObjectType = 6
)

func (t ObjectType) String() string {
	switch t {
	case ObjFile:
		return "file"
	case ObjDirTree:
		return "dirtree"
	case ObjDirMeta:
		return "dirmeta"
	case ObjCommit:
		return "commit"
	case ObjCommitMeta:
		return "commitmeta"
	}
	return fmt.Sprintf("objtype(%d)", int(t))
}

// Unix file type bits, as stored in OSTree's mode fields.
const (
	sIFMT  = 0o170000
	sIFDIR = 0o040000
	sIFREG = 0o100000
	sIFLNK = 0o120000
)

// GVariant types of the objects.
var (
	typeFileHeader  = gvariant.MustParseType("(uuuusa(ayay))")
	typeFilezHeader = gvariant.MustParseType("(tuuuusa(ayay))")
	typeDirMeta     = gvariant.MustParseType("(uuua(ayay))")
	typeDirTree     = gvariant.MustParseType("(a(say)a(sayay))")
	typeCommit      = gvariant.MustParseType("(a{sv}aya(say)sstayay)")
	typeXattrs      = gvariant.MustParseType("a(ayay)")
)

// be32 stores v so that GVariant's little-endian 'u' holds it big-endian,
// which is how OSTree stores uid, gid, mode and rdev.
func be32(v uint32) uint32 { return bits.ReverseBytes32(v) }
func be64(v uint64) uint64 { return bits.ReverseBytes64(v) }

// ValidChecksum reports whether s is a 64-digit lower-case hex checksum.
func ValidChecksum(s string) bool {
	if len(s) != 64 {
		return false
	}
	for i := 0; i < len(s); i++ {
		c := s[i]
		if (c < '0' || c > '9') && (c < 'a' || c > 'f') {
			return false
		}
	}
	return true
}

func csumBytes(s string) ([]byte, error) {
	if !ValidChecksum(s) {
		return nil, fmt.Errorf("invalid checksum %q", s)
	}
	b, _ := hex.DecodeString(s)
	return b, nil
}

func csumString(b []byte) (string, error) {
	if len(b) != 32 {
		return "", fmt.Errorf("checksum of %d bytes, want 32", len(b))
	}
	return hex.EncodeToString(b), nil
}

// xattrsValue is the a(ayay) value of xs: names with their trailing NUL,
// sorted by name and unique, as libostree canonicalises them.
func xattrsValue(xs []fstree.Xattr) ([]any, error) {
	sorted := xs
	if !sort.SliceIsSorted(xs, func(i, j int) bool { return xs[i].Name < xs[j].Name }) {
		sorted = append([]fstree.Xattr(nil), xs...)
		sort.SliceStable(sorted, func(i, j int) bool { return sorted[i].Name < sorted[j].Name })
	}
	out := make([]any, 0, len(sorted))
	for i, x := range sorted {
		if x.Name == "" {
			return nil, fmt.Errorf("empty xattr name")
		}
		if i > 0 && sorted[i-1].Name == x.Name {
			return nil, fmt.Errorf("duplicate xattr %q", x.Name)
		}
		name := make([]byte, len(x.Name)+1)
		copy(name, x.Name)
		val := x.Value
		if val == nil {
			val = []byte{}
		}
		out = append(out, gvariant.Tuple{name, val})
	}
	return out, nil
}

func xattrsFromValue(v any) ([]fstree.Xattr, error) {
	items, ok := v.([]any)
	if !ok {
		return nil, fmt.Errorf("xattrs are %T", v)
	}
	var out []fstree.Xattr
	for _, it := range items {
		t := it.(gvariant.Tuple)
		name := t[0].([]byte)
		if len(name) < 2 || name[len(name)-1] != 0 {
			return nil, fmt.Errorf("xattr name %q is not NUL-terminated", name)
		}
		out = append(out, fstree.Xattr{Name: string(name[:len(name)-1]), Value: t[1].([]byte)})
	}
	return out, nil
}

// fileHeader is the (uuuusa(ayay)) header OSTree hashes in front of a
// content object's payload. kind is sIFREG or sIFLNK.
func fileHeader(meta fstree.Meta, kind uint32, target string) ([]byte, error) {
	xs, err := xattrsValue(meta.Xattrs)
	if err != nil {
		return nil, err
	}
	return typeFileHeader.Append(nil, gvariant.Tuple{
		be32(meta.UID), be32(meta.GID), be32(kind | meta.Mode&0o7777), be32(0), target, xs,
	})
}

// filezHeader is the archive-mode header: the uncompressed size first.
func filezHeader(meta fstree.Meta, kind uint32, target string, size uint64) ([]byte, error) {
	xs, err := xattrsValue(meta.Xattrs)
	if err != nil {
		return nil, err
	}
	return typeFilezHeader.Append(nil, gvariant.Tuple{
		be64(size), be32(meta.UID), be32(meta.GID), be32(kind | meta.Mode&0o7777), be32(0), target, xs,
	})
}

// sizedPrefix frames a header the way libostree streams it: BE32 length,
// four zero bytes of padding, the header.
func sizedPrefix(h []byte) []byte {
	out := make([]byte, 8, 8+len(h))
	binary.BigEndian.PutUint32(out, uint32(len(h)))
	return append(out, h...)
}

// DirMetaBytes serializes a directory's metadata object.
func DirMetaBytes(meta fstree.Meta) ([]byte, error) {
	xs, err := xattrsValue(meta.Xattrs)
	if err != nil {
		return nil, err
	}
	return typeDirMeta.Append(nil, gvariant.Tuple{be32(meta.UID), be32(meta.GID), be32(sIFDIR | meta.Mode&0o7777), xs})
}

// DirMeta is a decoded dirmeta object.
type DirMeta struct {
	fstree.Meta
}

// ParseDirMeta decodes a dirmeta object.
func ParseDirMeta(data []byte) (*DirMeta, error) {
	v, err := typeDirMeta.Decode(data)
	if err != nil {
		return nil, fmt.Errorf("dirmeta: %w", err)
	}
	t := v.(gvariant.Tuple)
	mode := be32(t[2].(uint32))
	if mode&sIFMT != sIFDIR {
		return nil, fmt.Errorf("dirmeta: mode %o is not a directory", mode)
	}
	xs, err := xattrsFromValue(t[3])
	if err != nil {
		return nil, fmt.Errorf("dirmeta: %w", err)
	}
	return &DirMeta{fstree.Meta{UID: be32(t[0].(uint32)), GID: be32(t[1].(uint32)), Mode: mode & 0o7777, Xattrs: xs}}, nil
}

// DirTree is a decoded dirtree object: files and subdirectories, each
// sorted by name.
type DirTree struct {
	Files []DirTreeFile
	Dirs  []DirTreeDir
}

// DirTreeFile is a non-directory entry: its name and content checksum.
type DirTreeFile struct {
	Name     string
	Checksum string
}

// DirTreeDir is a subdirectory: its name, dirtree and dirmeta checksums.
type DirTreeDir struct {
	Name string
	Tree string
	Meta string
}

// Bytes serializes the dirtree after sorting its entries by name.
func (d *DirTree) Bytes() ([]byte, error) {
	sort.Slice(d.Files, func(i, j int) bool { return d.Files[i].Name < d.Files[j].Name })
	sort.Slice(d.Dirs, func(i, j int) bool { return d.Dirs[i].Name < d.Dirs[j].Name })
	files := make([]any, len(d.Files))
	for i, f := range d.Files {
		if err := checkName(f.Name); err != nil {
			return nil, err
		}
		c, err := csumBytes(f.Checksum)
		if err != nil {
			return nil, fmt.Errorf("dirtree entry %s: %w", f.Name, err)
		}
		files[i] = gvariant.Tuple{f.Name, c}
	}
	dirs := make([]any, len(d.Dirs))
	for i, s := range d.Dirs {
		if err := checkName(s.Name); err != nil {
			return nil, err
		}
		tc, err := csumBytes(s.Tree)
		if err != nil {
			return nil, fmt.Errorf("dirtree entry %s: %w", s.Name, err)
		}
		mc, err := csumBytes(s.Meta)
		if err != nil {
			return nil, fmt.Errorf("dirtree entry %s: %w", s.Name, err)
		}
		dirs[i] = gvariant.Tuple{s.Name, tc, mc}
	}
	return typeDirTree.Append(nil, gvariant.Tuple{files, dirs})
}

// checkName rejects names libostree refuses in a dirtree.
func checkName(n string) error {
	if n == "" || n == "." || n == ".." {
		return fmt.Errorf("invalid file name %q", n)
	}
	for i := 0; i < len(n); i++ {
		if n[i] == '/' || n[i] == 0 {
			return fmt.Errorf("invalid file name %q", n)
		}
	}
	return nil
}

// ParseDirTree decodes a dirtree object.
func ParseDirTree(data []byte) (*DirTree, error) {
	v, err := typeDirTree.Decode(data)
	if err != nil {
		return nil, fmt.Errorf("dirtree: %w", err)
	}
	t := v.(gvariant.Tuple)
	d := &DirTree{}
	for _, it := range t[0].([]any) {
		f := it.(gvariant.Tuple)
		name := f[0].(string)
		if err := checkName(name); err != nil {
			return nil, fmt.Errorf("dirtree: %w", err)
		}
		c, err := csumString(f[1].([]byte))
		if err != nil {
			return nil, fmt.Errorf("dirtree entry %s: %w", name, err)
		}
		d.Files = append(d.Files, DirTreeFile{Name: name, Checksum: c})
	}
	for _, it := range t[1].([]any) {
		f := it.(gvariant.Tuple)
		name := f[0].(string)
		if err := checkName(name); err != nil {
			return nil, fmt.Errorf("dirtree: %w", err)
		}
		tc, err := csumString(f[1].([]byte))
		if err != nil {
			return nil, fmt.Errorf("dirtree entry %s: %w", name, err)
		}
		mc, err := csumString(f[2].([]byte))
		if err != nil {
			return nil, fmt.Errorf("dirtree entry %s: %w", name, err)
		}
		d.Dirs = append(d.Dirs, DirTreeDir{Name: name, Tree: tc, Meta: mc})
	}
	return d, nil
}

// MetaItem is one commit metadata entry.
type MetaItem struct {
	Key   string
	Value gvariant.Variant
}

// MetaString, MetaBool and MetaStrings build the common metadata values.
func MetaString(k, v string) MetaItem    { return MetaItem{k, gvariant.Variant{Type: "s", Value: v}} }
func MetaBool(k string, v bool) MetaItem { return MetaItem{k, gvariant.Variant{Type: "b", Value: v}} }
func MetaStrings(k string, v []string) MetaItem {
	a := make([]any, len(v))
	for i, s := range v {
		a[i] = s
	}
	return MetaItem{k, gvariant.Variant{Type: "as", Value: a}}
}

// Commit is a decoded commit object.
type Commit struct {
	Metadata  []MetaItem // in stored order
	Parent    string     // "" for none
	Subject   string
	Body      string
	Timestamp uint64 // seconds since the epoch, UTC
	RootTree  string
	RootMeta  string
}

// Lookup returns the metadata value under key.
func (c *Commit) Lookup(key string) (gvariant.Variant, bool) {
	for _, m := range c.Metadata {
		if m.Key == key {
			return m.Value, true
		}
	}
	return gvariant.Variant{}, false
}

// Bytes serializes the commit object.
func (c *Commit) Bytes() ([]byte, error) {
	md := make([]any, len(c.Metadata))
	for i, m := range c.Metadata {
		md[i] = gvariant.Tuple{m.Key, m.Value}
	}
	parent := []byte{}
	if c.Parent != "" {
		p, err := csumBytes(c.Parent)
		if err != nil {
			return nil, fmt.Errorf("commit parent: %w", err)
		}
		parent = p
	}
	rt, err := csumBytes(c.RootTree)
	if err != nil {
		return nil, fmt.Errorf("commit root tree: %w", err)
	}
	rm, err := csumBytes(c.RootMeta)
	if err != nil {
		return nil, fmt.Errorf("commit root meta: %w", err)
	}
	return typeCommit.Append(nil, gvariant.Tuple{md, parent, []any{}, c.Subject, c.Body, be64(c.Timestamp), rt, rm})
}

// ParseCommit decodes a commit object.
func ParseCommit(data []byte) (*Commit, error) {
	v, err := typeCommit.Decode(data)
	if err != nil {
		return nil, fmt.Errorf("commit: %w", err)
	}
	t := v.(gvariant.Tuple)
	c := &Commit{Subject: t[3].(string), Body: t[4].(string), Timestamp: be64(t[5].(uint64))}
	for _, it := range t[0].([]any) {
		e := it.(gvariant.Tuple)
		c.Metadata = append(c.Metadata, MetaItem{Key: e[0].(string), Value: e[1].(gvariant.Variant)})
	}
	if p := t[1].([]byte); len(p) != 0 {
		if c.Parent, err = csumString(p); err != nil {
			return nil, fmt.Errorf("commit parent: %w", err)
		}
	}
	if c.RootTree, err = csumString(t[6].([]byte)); err != nil {
		return nil, fmt.Errorf("commit root tree: %w", err)
	}
	if c.RootMeta, err = csumString(t[7].([]byte)); err != nil {
		return nil, fmt.Errorf("commit root meta: %w", err)
	}
	return c, nil
}

// metadataChecksum names a metadata object: SHA-256 of its bytes.
func metadataChecksum(data []byte) string {
	s := sha256.Sum256(data)
	return hex.EncodeToString(s[:])
}
