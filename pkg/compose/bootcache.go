package compose

import (
	"bytes"
	"crypto/sha256"
	"encoding/binary"
	"encoding/gob"
	"encoding/hex"
	"os"
	"path/filepath"

	"github.com/debatom/debatom/internal/atomicfile"
	"github.com/debatom/debatom/pkg/fstree"
)

// bootCacheVersion changes whenever what depmod or the initramfs builder
// produce changes, so old cache entries are never taken for new ones.
const bootCacheVersion = "debatom-boot-1"

// treeKey digests everything a boot artefact can depend on: every entry's
// path, type, metadata, link target and content identity (object checksum
// or inline bytes), plus extra (options). Equal keys mean equal inputs, so a
// warm rebuild can reuse depmod's files and the initramfs instead of
// decompressing thousands of modules again.
func treeKey(t *fstree.Tree, extra ...string) string {
	h := sha256.New()
	h.Write([]byte(bootCacheVersion))
	for _, s := range extra {
		writeString(h, s)
	}
	var num [8]byte
	t.Walk(func(p string, e *fstree.Entry) error {
		writeString(h, p)
		binary.LittleEndian.PutUint64(num[:], uint64(e.Kind)<<48|uint64(e.Mode)<<16)
		h.Write(num[:])
		binary.LittleEndian.PutUint64(num[:], uint64(e.UID)<<32|uint64(e.GID))
		h.Write(num[:])
		for _, x := range e.Xattrs {
			writeString(h, x.Name)
			writeString(h, string(x.Value))
		}
		writeString(h, e.Target)
		if e.Data != nil || e.Object == "" {
			d := sha256.Sum256(e.Data)
			h.Write(d[:])
		} else {
			writeString(h, e.Object)
		}
		return nil
	})
	return hex.EncodeToString(h.Sum(nil))
}

func writeString(h interface{ Write([]byte) (int, error) }, s string) {
	var n [8]byte
	binary.LittleEndian.PutUint64(n[:], uint64(len(s)))
	h.Write(n[:])
	h.Write([]byte(s))
}

// bootArtefacts is what the boot stage adds to the tree.
type bootArtefacts struct {
	Files     map[string][]byte // depmod's, by name
	Initramfs []byte
}

func bootCachePath(cacheDir, key string) string {
	return filepath.Join(cacheDir, "boot", key+".gob")
}

func loadBootCache(cacheDir, key string) (*bootArtefacts, bool) {
	if cacheDir == "" {
		return nil, false
	}
	b, err := os.ReadFile(bootCachePath(cacheDir, key))
	if err != nil {
		return nil, false
	}
	var a bootArtefacts
	if err := gob.NewDecoder(bytes.NewReader(b)).Decode(&a); err != nil || len(a.Initramfs) == 0 {
		return nil, false // a damaged entry is rebuilt, not trusted
	}
	return &a, true
}

func storeBootCache(cacheDir, key string, a *bootArtefacts) error {
	if cacheDir == "" {
		return nil
	}
	var buf bytes.Buffer
	if err := gob.NewEncoder(&buf).Encode(a); err != nil {
		return err
	}
	return atomicfile.WriteFile(bootCachePath(cacheDir, key), buf.Bytes(), 0o644)
}
