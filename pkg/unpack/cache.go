package unpack

import (
	"bufio"
	"encoding/gob"
	"fmt"
	"os"
	"path/filepath"

	"github.com/debatom/debatom/pkg/ostreerepo"
)

// cacheVersion changes whenever Manifest's meaning changes, so an old
// cache file is redone rather than misread.
const cacheVersion = 1

type cacheFile struct {
	Version  int
	Manifest *Manifest
}

func (u *Unpacker) cachePath(sum string) string {
	return filepath.Join(u.opts.CacheDir, "unpacked", sum+".manifest")
}

// cached returns the cached manifest for the .deb with SHA256 sum, or nil
// when there is none, it cannot be read, or the repository lacks one of
// its objects (a different or pruned repo): then the package is redone.
func (u *Unpacker) cached(sum string) *Manifest {
	if u.opts.CacheDir == "" {
		return nil
	}
	f, err := os.Open(u.cachePath(sum))
	if err != nil {
		return nil
	}
	defer f.Close()
	var c cacheFile
	if err := gob.NewDecoder(bufio.NewReader(f)).Decode(&c); err != nil || c.Version != cacheVersion || c.Manifest == nil || c.Manifest.SHA256 != sum || c.Manifest.Package == nil {
		return nil
	}
	seen := map[string]bool{}
	for _, e := range c.Manifest.Entries {
		if e.Object == "" || seen[e.Object] {
			continue
		}
		seen[e.Object] = true
		if !u.repo.HasObject(e.Object, ostreerepo.ObjFile) {
			return nil
		}
	}
	return c.Manifest
}

// writeCache stores m under a temporary name and renames it into place,
// so a reader never sees half a manifest.
func writeCache(p string, m *Manifest) error {
	if err := os.MkdirAll(filepath.Dir(p), 0o755); err != nil {
		return fmt.Errorf("unpack cache: %w", err)
	}
	f, err := os.CreateTemp(filepath.Dir(p), ".tmp-*")
	if err != nil {
		return fmt.Errorf("unpack cache: %w", err)
	}
	w := bufio.NewWriter(f)
	err = gob.NewEncoder(w).Encode(cacheFile{Version: cacheVersion, Manifest: m})
	if err == nil {
		err = w.Flush()
	}
	if cerr := f.Close(); err == nil {
		err = cerr
	}
	if err == nil {
		err = os.Rename(f.Name(), p)
	}
	if err != nil {
		os.Remove(f.Name())
		return fmt.Errorf("unpack cache %s: %w", p, err)
	}
	return nil
}
