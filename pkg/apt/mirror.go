package apt

import (
	"context"
	"fmt"
	"io"
	"os"
	"path/filepath"

	"github.com/debatom/debatom/internal/atomicfile"
)

// WriteMirror lays out, under dir, a mirror holding exactly what the lock
// needs: for each source its verified InRelease byte for byte, the Packages
// files the index was built from (fetched again and checked against the
// signed Release), and the locked .deb files from the fetcher's cache
// (fetched first if missing). A file:// build from dir verifies signatures
// just as a build from the original mirror does.
func WriteMirror(ctx context.Context, ix *Index, lock *Lock, f *Fetcher, dir string, opts Options) error {
	if _, err := lock.Check(ix); err != nil {
		return err
	}
	suites := map[string]bool{}
	for _, si := range ix.Sources {
		if suites[si.Source.Suite] {
			return fmt.Errorf("mirror %s: two sources share suite %q; a single mirror tree cannot hold both", dir, si.Source.Suite)
		}
		suites[si.Source.Suite] = true
	}
	c := newClient(opts.HTTPClient, opts.StallTimeout)
	for _, si := range ix.Sources {
		sd := filepath.Join(dir, "dists", si.Source.Suite)
		if err := atomicfile.WriteFile(filepath.Join(sd, "InRelease"), si.InRelease, 0o644); err != nil {
			return fmt.Errorf("mirror %s: %w", dir, err)
		}
		for _, file := range si.Files {
			_, cands := packagesCandidates(si.Release, file.Component, file.Arch)
			fh, data, _, err := fetchPackagesFile(ctx, c, si.Source, si.Release, cands)
			if err != nil {
				return err
			}
			if err := atomicfile.WriteFile(filepath.Join(sd, filepath.FromSlash(fh.Path)), data, 0o644); err != nil {
				return fmt.Errorf("mirror %s: %w", dir, err)
			}
		}
	}
	items, err := lock.Items()
	if err != nil {
		return err
	}
	paths, err := f.Fetch(ctx, items)
	if err != nil {
		return err
	}
	for i, lp := range lock.Packages {
		dst := filepath.Join(dir, filepath.FromSlash(lp.Filename))
		if err := copyInto(paths[i], dst); err != nil {
			return fmt.Errorf("mirror %s: package %s: %w", dir, lp.ID(), err)
		}
	}
	return nil
}

// copyInto puts src at dst: a hard link when both are on one filesystem
// (cache files are never modified in place), else a copy through a
// temporary name.
func copyInto(src, dst string) error {
	if err := os.MkdirAll(filepath.Dir(dst), 0o755); err != nil {
		return err
	}
	if st, err := os.Stat(dst); err == nil {
		if sst, err := os.Stat(src); err == nil && os.SameFile(st, sst) {
			return nil
		}
	}
	tmp := filepath.Join(filepath.Dir(dst), ".tmp-"+filepath.Base(dst))
	os.Remove(tmp)
	if err := os.Link(src, tmp); err != nil {
		// Another filesystem, or one without hard links: copy.
		if err := copyFile(src, tmp); err != nil {
			os.Remove(tmp)
			return err
		}
	}
	return os.Rename(tmp, dst)
}

func copyFile(src, dst string) error {
	in, err := os.Open(src)
	if err != nil {
		return err
	}
	defer in.Close()
	out, err := os.OpenFile(dst, os.O_WRONLY|os.O_CREATE|os.O_TRUNC, 0o644)
	if err != nil {
		return err
	}
	if _, err := io.Copy(out, in); err != nil {
		out.Close()
		return err
	}
	if err := out.Sync(); err != nil {
		out.Close()
		return err
	}
	return out.Close()
}
