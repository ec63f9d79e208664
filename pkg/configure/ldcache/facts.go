package ldcache

import (
	"bytes"
	"crypto/sha256"
	"encoding/binary"
	"encoding/hex"
	"errors"
	"fmt"
	"io/fs"
	"os"
	"sort"
	"sync"

	"github.com/debatom/debatom/internal/atomicfile"
)

// factsMagic starts a facts file. The version part changes whenever what
// readELF derives from a file changes, so facts of an older derivation
// are never reused.
const factsMagic = "debatom-ldcache-facts 1\n"

// fact is what the cache needs of one file: its soname ("" when it has
// none), its cache flags, and whether ldconfig takes it as a library at
// all (ok false: not ELF, or another architecture).
type fact struct {
	soname string
	flags  int32
	ok     bool
}

// Facts remembers, by OSTree content checksum, what readELF found in a
// file. The checksum fixes the file's bytes, so a fact never goes stale;
// keeping them between builds spares inflating every shared library of
// the tree again just to read its soname. Safe for concurrent use.
type Facts struct {
	mu    sync.Mutex
	m     map[[32]byte]fact
	dirty bool
}

// NewFacts returns an empty Facts.
func NewFacts() *Facts { return &Facts{m: map[[32]byte]fact{}} }

// Len returns the number of facts held.
func (f *Facts) Len() int {
	f.mu.Lock()
	defer f.mu.Unlock()
	return len(f.m)
}

func (f *Facts) get(object string) (fact, bool) {
	k, ok := factKey(object)
	if !ok {
		return fact{}, false
	}
	f.mu.Lock()
	defer f.mu.Unlock()
	v, ok := f.m[k]
	return v, ok
}

func (f *Facts) put(object string, v fact) {
	k, ok := factKey(object)
	if !ok {
		return
	}
	f.mu.Lock()
	defer f.mu.Unlock()
	if old, ok := f.m[k]; !ok || old != v {
		f.m[k] = v
		f.dirty = true
	}
}

// Observe records the fact of the file whose content object is object
// from its bytes, data, where a caller already holds them (unpack, as it
// writes the object), so that Scan need not read and inflate the object
// again. It parses only the ELF headers and the dynamic section, nothing
// for an object already known. data is not kept. Safe for concurrent
// use.
func (f *Facts) Observe(object string, data []byte) {
	if _, ok := factKey(object); !ok || len(data) < minELF {
		return // not a checksum, or a file Scan does not ask about
	}
	if _, known := f.get(object); known {
		return
	}
	f.put(object, elfFacts(bytes.NewReader(data)))
}

func factKey(object string) ([32]byte, bool) {
	var k [32]byte
	if len(object) != 64 {
		return k, false
	}
	if _, err := hex.Decode(k[:], []byte(object)); err != nil {
		return k, false
	}
	return k, true
}

// LoadFacts reads the facts file at path. A missing file gives empty
// facts and no error. A file that is damaged or of another version also
// gives empty facts (it is never trusted in part), with an error saying
// why, which the caller may report; the facts returned are usable either
// way.
func LoadFacts(path string) (*Facts, error) {
	b, err := os.ReadFile(path)
	if errors.Is(err, fs.ErrNotExist) {
		return NewFacts(), nil
	}
	if err != nil {
		return NewFacts(), fmt.Errorf("ldcache facts: %w", err)
	}
	f, err := decodeFacts(b)
	if err != nil {
		return NewFacts(), fmt.Errorf("ldcache facts %s: %w", path, err)
	}
	return f, nil
}

// Save writes the facts to path atomically, if any were added since they
// were loaded.
func (f *Facts) Save(path string) error {
	f.mu.Lock()
	dirty := f.dirty
	f.mu.Unlock()
	if !dirty {
		return nil
	}
	if err := atomicfile.WriteFile(path, f.encode(), 0o644); err != nil {
		return fmt.Errorf("ldcache facts: %w", err)
	}
	f.mu.Lock()
	f.dirty = false
	f.mu.Unlock()
	return nil
}

// encode lays the facts out as: magic, a uvarint count, then per fact in
// key order the 32-byte checksum, a flags int32 (little endian), an ok
// byte and a uvarint-length soname; then the SHA-256 of everything
// before it, so a torn or damaged file is recognised as such.
func (f *Facts) encode() []byte {
	f.mu.Lock()
	defer f.mu.Unlock()
	keys := make([][32]byte, 0, len(f.m))
	for k := range f.m {
		keys = append(keys, k)
	}
	sort.Slice(keys, func(i, j int) bool { return bytes.Compare(keys[i][:], keys[j][:]) < 0 })
	b := make([]byte, 0, len(factsMagic)+len(keys)*56+sha256.Size)
	b = append(b, factsMagic...)
	b = binary.AppendUvarint(b, uint64(len(keys)))
	for _, k := range keys {
		v := f.m[k]
		b = append(b, k[:]...)
		b = binary.LittleEndian.AppendUint32(b, uint32(v.flags))
		ok := byte(0)
		if v.ok {
			ok = 1
		}
		b = append(b, ok)
		b = binary.AppendUvarint(b, uint64(len(v.soname)))
		b = append(b, v.soname...)
	}
	sum := sha256.Sum256(b)
	return append(b, sum[:]...)
}

// maxSoname bounds a soname read back; ld.so's own limit is far lower.
const maxSoname = 4096

func decodeFacts(b []byte) (*Facts, error) {
	if len(b) < len(factsMagic)+sha256.Size || string(b[:len(factsMagic)]) != factsMagic {
		return nil, errors.New("not a facts file of this version")
	}
	body, sum := b[:len(b)-sha256.Size], b[len(b)-sha256.Size:]
	if got := sha256.Sum256(body); !bytes.Equal(got[:], sum) {
		return nil, errors.New("checksum mismatch")
	}
	p := body[len(factsMagic):]
	n, k := binary.Uvarint(p)
	if k <= 0 {
		return nil, errors.New("bad count")
	}
	p = p[k:]
	// Each fact takes at least 38 bytes: a count beyond that is a lie.
	if n > uint64(len(p))/38 {
		return nil, fmt.Errorf("%d facts do not fit in %d bytes", n, len(p))
	}
	f := &Facts{m: make(map[[32]byte]fact, n)}
	for i := uint64(0); i < n; i++ {
		if len(p) < 38 {
			return nil, fmt.Errorf("fact %d: truncated", i)
		}
		var key [32]byte
		copy(key[:], p)
		v := fact{flags: int32(binary.LittleEndian.Uint32(p[32:]))}
		switch p[36] {
		case 0:
		case 1:
			v.ok = true
		default:
			return nil, fmt.Errorf("fact %d: bad ok byte %d", i, p[36])
		}
		p = p[37:]
		l, k := binary.Uvarint(p)
		if k <= 0 || l > maxSoname || l > uint64(len(p)-k) {
			return nil, fmt.Errorf("fact %d: bad soname length", i)
		}
		v.soname = string(p[k : k+int(l)])
		p = p[k+int(l):]
		if _, dup := f.m[key]; dup {
			return nil, fmt.Errorf("fact %d: duplicate checksum", i)
		}
		f.m[key] = v
	}
	if len(p) != 0 {
		return nil, fmt.Errorf("%d bytes after the last fact", len(p))
	}
	return f, nil
}
