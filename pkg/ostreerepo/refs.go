package ostreerepo

import (
	"context"
	"errors"
	"fmt"
	"io/fs"
	"os"
	"path/filepath"
	"strings"
	"time"

	"golang.org/x/sys/unix"

	"github.com/debatom/debatom/internal/atomicfile"
	"github.com/debatom/debatom/pkg/gvariant"
)

// checkRef rejects ref names libostree would refuse or that would escape
// refs/heads.
func checkRef(ref string) error {
	if ref == "" || strings.HasPrefix(ref, "/") || strings.HasSuffix(ref, "/") {
		return fmt.Errorf("invalid ref %q", ref)
	}
	for _, c := range strings.Split(ref, "/") {
		if c == "" || c == "." || c == ".." {
			return fmt.Errorf("invalid ref %q", ref)
		}
		for _, r := range c {
			if !(r >= 'a' && r <= 'z' || r >= 'A' && r <= 'Z' || r >= '0' && r <= '9' || r == '_' || r == '-' || r == '.') {
				return fmt.Errorf("invalid ref %q: character %q", ref, r)
			}
		}
	}
	return nil
}

// SetRef points refs/heads/ref at csum, atomically (temp file + rename).
// Objects written so far are flushed to disk first, so a ref never names
// a commit a crash could lose.
func (r *Repo) SetRef(ref, csum string) error {
	if err := checkRef(ref); err != nil {
		return err
	}
	if !ValidChecksum(csum) {
		return fmt.Errorf("set ref %s: invalid checksum %q", ref, csum)
	}
	p := filepath.Join(r.dir, "refs", "heads", filepath.FromSlash(ref))
	if err := os.MkdirAll(filepath.Dir(p), 0o755); err != nil {
		return fmt.Errorf("set ref %s: %w", ref, err)
	}
	if err := r.Sync(); err != nil {
		return fmt.Errorf("set ref %s: %w", ref, err)
	}
	if err := atomicfile.WriteFile(p, []byte(csum+"\n"), 0o644); err != nil {
		return fmt.Errorf("set ref %s: %w", ref, err)
	}
	return nil
}

// Sync flushes the repository's filesystem (syncfs), as libostree does
// at the end of a transaction.
func (r *Repo) Sync() error {
	f, err := os.Open(r.dir)
	if err != nil {
		return err
	}
	defer f.Close()
	return unix.Syncfs(int(f.Fd()))
}

// ResolveRef returns the commit a ref names. A full checksum resolves to
// itself; "remote:ref" reads refs/remotes/remote/ref.
func (r *Repo) ResolveRef(ref string) (string, error) {
	if ValidChecksum(ref) {
		return ref, nil
	}
	var p string
	if remote, name, ok := strings.Cut(ref, ":"); ok {
		if err := checkRef(remote); err != nil {
			return "", err
		}
		if err := checkRef(name); err != nil {
			return "", err
		}
		p = filepath.Join(r.dir, "refs", "remotes", remote, filepath.FromSlash(name))
	} else {
		if err := checkRef(ref); err != nil {
			return "", err
		}
		p = filepath.Join(r.dir, "refs", "heads", filepath.FromSlash(ref))
	}
	data, err := os.ReadFile(p)
	if err != nil {
		if errors.Is(err, fs.ErrNotExist) {
			return "", fmt.Errorf("ref %s not found in %s: %w", ref, r.dir, fs.ErrNotExist)
		}
		return "", fmt.Errorf("read ref %s: %w", ref, err)
	}
	csum := strings.TrimSpace(string(data))
	if !ValidChecksum(csum) {
		return "", fmt.Errorf("ref %s holds %q, not a checksum", ref, csum)
	}
	return csum, nil
}

// CommitOptions describe a commit besides its tree.
type CommitOptions struct {
	Parent    string // parent commit checksum, "" for none
	Subject   string
	Body      string
	Timestamp time.Time // stored as seconds, UTC
	// Metadata is written in this order (then ostree.ref-binding when
	// Bindings is set), unless LibostreeOrder is set.
	Metadata []MetaItem
	// LibostreeOrder treats the metadata as insertions into a GLib
	// GVariantDict and writes it in the dict's order, merging repeated
	// keys. `ostree commit --bootable` builds its metadata that way, so
	// matching its checksums needs this.
	LibostreeOrder bool
	// Ref, if set, is pointed at the new commit.
	Ref string
	// Bindings adds ostree.ref-binding = [Ref] (plus BindRefs), as
	// `ostree commit --branch` does unless --no-bindings.
	Bindings bool
	BindRefs []string
	// KernelVersion, when set, marks the commit bootable as `ostree
	// commit --bootable` does: ostree.bootable=true, ostree.linux=KVER.
	// libostree then rebuilds the metadata through a GVariantDict, so
	// this implies LibostreeOrder.
	KernelVersion string
}

// CommitBytes builds the commit object for a root tree and options.
func CommitBytes(root, rootMeta string, opts CommitOptions) ([]byte, error) {
	md := append([]MetaItem(nil), opts.Metadata...)
	if opts.Bindings {
		refs := append([]string(nil), opts.BindRefs...)
		if opts.Ref != "" {
			refs = append(refs, opts.Ref)
		}
		refs = sortedUnique(refs)
		md = append(md, MetaStrings("ostree.ref-binding", refs))
	}
	order := opts.LibostreeOrder
	if opts.KernelVersion != "" {
		md = append(md, MetaBool("ostree.bootable", true), MetaString("ostree.linux", opts.KernelVersion))
		order = true
	}
	if order {
		md = dedupMeta(md)
		keys := make([]string, len(md))
		byKey := make(map[string]MetaItem, len(md))
		for i, m := range md {
			keys[i] = m.Key
			byKey[m.Key] = m
		}
		md = md[:0]
		for _, k := range gvariant.GLibDictOrder(keys) {
			md = append(md, byKey[k])
		}
	}
	ts := opts.Timestamp.Unix()
	if ts < 0 {
		return nil, fmt.Errorf("commit timestamp %v is before 1970", opts.Timestamp)
	}
	c := &Commit{Metadata: md, Parent: opts.Parent, Subject: opts.Subject, Body: opts.Body,
		Timestamp: uint64(ts), RootTree: root, RootMeta: rootMeta}
	return c.Bytes()
}

// dedupMeta keeps each key once: the last value, at the first key's
// position, as a dictionary insert would.
func dedupMeta(md []MetaItem) []MetaItem {
	idx := map[string]int{}
	out := md[:0:0]
	for _, m := range md {
		if i, ok := idx[m.Key]; ok {
			out[i].Value = m.Value
			continue
		}
		idx[m.Key] = len(out)
		out = append(out, m)
	}
	return out
}

func sortedUnique(s []string) []string {
	out := append([]string(nil), s...)
	for i := 1; i < len(out); i++ {
		for j := i; j > 0 && out[j] < out[j-1]; j-- {
			out[j], out[j-1] = out[j-1], out[j]
		}
	}
	w := 0
	for i, v := range out {
		if i == 0 || v != out[w-1] {
			out[w] = v
			w++
		}
	}
	return out[:w]
}

// Commit writes a commit object for the given root dirtree and dirmeta,
// points opts.Ref at it when set, and returns its checksum.
func (r *Repo) Commit(ctx context.Context, root, rootMeta string, opts CommitOptions) (string, error) {
	if err := ctx.Err(); err != nil {
		return "", err
	}
	if !r.HasObject(root, ObjDirTree) || !r.HasObject(rootMeta, ObjDirMeta) {
		return "", fmt.Errorf("commit: root dirtree %s or dirmeta %s not in %s", root, rootMeta, r.dir)
	}
	if opts.Parent != "" && !ValidChecksum(opts.Parent) {
		return "", fmt.Errorf("commit: invalid parent %q", opts.Parent)
	}
	b, err := CommitBytes(root, rootMeta, opts)
	if err != nil {
		return "", fmt.Errorf("commit: %w", err)
	}
	csum, err := r.WriteMetadata(ObjCommit, b)
	if err != nil {
		return "", err
	}
	if opts.Ref != "" {
		if err := r.SetRef(opts.Ref, csum); err != nil {
			return "", err
		}
	}
	return csum, nil
}

// KernelVersion finds the one kernel of a directory tree the way `ostree
// commit --bootable` does: usr/lib/modules/KVER/vmlinuz.
func KernelVersion(tree string) (string, error) {
	dir := filepath.Join(tree, "usr", "lib", "modules")
	ents, err := os.ReadDir(dir)
	if err != nil {
		return "", fmt.Errorf("find kernel: %w", err)
	}
	var found []string
	for _, e := range ents {
		if st, err := os.Lstat(filepath.Join(dir, e.Name(), "vmlinuz")); err == nil && st.Mode().IsRegular() {
			found = append(found, e.Name())
		}
	}
	switch len(found) {
	case 0:
		return "", fmt.Errorf("find kernel: no usr/lib/modules/KVER/vmlinuz in %s", tree)
	case 1:
		return found[0], nil
	}
	return "", fmt.Errorf("find kernel: several kernels in %s: %s", dir, strings.Join(found, ", "))
}
