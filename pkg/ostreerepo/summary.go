package ostreerepo

import (
	"fmt"
	"io/fs"
	"path/filepath"
	"sort"

	"github.com/debatom/debatom/internal/atomicfile"
	"github.com/debatom/debatom/pkg/gvariant"
)

var typeSummary = gvariant.MustParseType("(a(s(taya{sv}))a{sv})")

// ListRefs returns refs/heads as a map from ref name to checksum.
func (r *Repo) ListRefs() (map[string]string, error) {
	out := map[string]string{}
	base := filepath.Join(r.dir, "refs", "heads")
	err := filepath.WalkDir(base, func(p string, d fs.DirEntry, err error) error {
		if err != nil {
			return err
		}
		if d.IsDir() || d.Name()[0] == '.' {
			return nil
		}
		rel, err := filepath.Rel(base, p)
		if err != nil {
			return err
		}
		ref := filepath.ToSlash(rel)
		c, err := r.ResolveRef(ref)
		if err != nil {
			return err
		}
		out[ref] = c
		return nil
	})
	if err != nil {
		return nil, fmt.Errorf("list refs of %s: %w", r.dir, err)
	}
	return out, nil
}

// UpdateSummary writes the repository's summary file listing every ref
// (what `ostree summary -u` writes, unsigned). Its last-modified stamp is
// the newest commit timestamp among the refs rather than the wall clock,
// so the same refs give the same bytes.
func (r *Repo) UpdateSummary() error {
	refs, err := r.ListRefs()
	if err != nil {
		return err
	}
	names := make([]string, 0, len(refs))
	for n := range refs {
		names = append(names, n)
	}
	sort.Strings(names)
	var newest uint64
	entries := make([]any, 0, len(names))
	for _, n := range names {
		csum := refs[n]
		data, err := r.readMetadata(csum, ObjCommit)
		if err != nil {
			return fmt.Errorf("summary: ref %s: %w", n, err)
		}
		c, err := ParseCommit(data)
		if err != nil {
			return fmt.Errorf("summary: ref %s: commit %s: %w", n, csum, err)
		}
		newest = max(newest, c.Timestamp)
		md := []MetaItem{{"ostree.commit.timestamp", gvariant.Variant{Type: "t", Value: be64(c.Timestamp)}}}
		if v, ok := c.Lookup("version"); ok && v.Type == "s" {
			md = append(md, MetaItem{"ostree.commit.version", v})
		}
		cb, _ := csumBytes(csum)
		entries = append(entries, gvariant.Tuple{n, gvariant.Tuple{uint64(len(data)), cb, vardict(md)}})
	}
	md := vardict([]MetaItem{
		{"ostree.summary.last-modified", gvariant.Variant{Type: "t", Value: be64(newest)}},
		{"ostree.summary.tombstone-commits", gvariant.Variant{Type: "b", Value: false}},
		{"ostree.summary.indexed-deltas", gvariant.Variant{Type: "b", Value: true}},
		MetaString("ostree.summary.mode", r.mode.String()),
	})
	b, err := typeSummary.Append(nil, gvariant.Tuple{entries, md})
	if err != nil {
		return fmt.Errorf("summary: %w", err)
	}
	if err := atomicfile.WriteFile(filepath.Join(r.dir, "summary"), b, 0o644); err != nil {
		return fmt.Errorf("write summary of %s: %w", r.dir, err)
	}
	return nil
}

// vardict builds an a{sv} value in GLib GVariantDict order, as libostree
// builds these dictionaries.
func vardict(items []MetaItem) []any {
	keys := make([]string, len(items))
	by := map[string]gvariant.Variant{}
	for i, m := range items {
		keys[i] = m.Key
		by[m.Key] = m.Value
	}
	out := make([]any, 0, len(items))
	for _, k := range gvariant.GLibDictOrder(keys) {
		out = append(out, gvariant.Tuple{k, by[k]})
	}
	return out
}
