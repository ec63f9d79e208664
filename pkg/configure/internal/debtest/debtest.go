// Package debtest builds, for tests only, the merged tree and package data
// of a directory of .deb files, the way pkg/unpack hands them to configure.
// It runs dpkg-deb (tests may run tools; the product never does) only to
// turn each member into a plain tar, then reads the tar in Go so owners and
// modes come from the archive headers, as they would in a real unpack.
package debtest

import (
	"archive/tar"
	"bytes"
	"context"
	"fmt"
	"io"
	"io/fs"
	"os/exec"
	"path/filepath"
	"sort"
	"strings"
	"sync"

	"github.com/debatom/debatom/pkg/configure/sysroot"
	"github.com/debatom/debatom/pkg/deb822"
	"github.com/debatom/debatom/pkg/fstree"
)

// entry is one data.tar member of one package.
type entry struct {
	path string
	e    *fstree.Entry
	link string // hardlink target
}

type unpacked struct {
	pkg     *sysroot.Package
	entries []entry
}

// SkipData reports paths whose payload is not kept in memory (kernel
// modules: hundreds of megabytes no configure step reads).
func SkipData(p string) bool {
	return strings.HasPrefix(p, "usr/lib/modules/") && strings.Contains(p, "/kernel/")
}

// Load unpacks every .deb under pool into one tree. Packages are merged in
// name order; a later package's file replaces an earlier one's.
func Load(ctx context.Context, pool string) (*fstree.Tree, []*sysroot.Package, error) {
	var debs []string
	err := filepath.WalkDir(pool, func(p string, d fs.DirEntry, err error) error {
		if err == nil && strings.HasSuffix(p, ".deb") {
			debs = append(debs, p)
		}
		return err
	})
	if err != nil {
		return nil, nil, err
	}
	return LoadFiles(ctx, debs)
}

// LoadFiles is Load for a list of .deb files.
func LoadFiles(ctx context.Context, debs []string) (*fstree.Tree, []*sysroot.Package, error) {
	debs = append([]string(nil), debs...)
	sort.Strings(debs)
	out := make([]*unpacked, len(debs))
	errs := make([]error, len(debs))
	var wg sync.WaitGroup
	sem := make(chan struct{}, 2)
	for i, d := range debs {
		wg.Add(1)
		go func() {
			defer wg.Done()
			sem <- struct{}{}
			defer func() { <-sem }()
			out[i], errs[i] = readDeb(ctx, d)
		}()
	}
	wg.Wait()
	for _, err := range errs {
		if err != nil {
			return nil, nil, err
		}
	}
	sort.Slice(out, func(i, j int) bool { return out[i].pkg.Name < out[j].pkg.Name })
	t := fstree.New()
	var pkgs []*sysroot.Package
	for _, u := range out {
		pkgs = append(pkgs, u.pkg)
		for _, en := range u.entries {
			if en.path == "" {
				continue
			}
			if en.link != "" {
				src := t.Get(en.link)
				if src == nil {
					return nil, nil, fmt.Errorf("%s: hardlink %s to missing %s", u.pkg.Name, en.path, en.link)
				}
				c := *src
				en.e = &c
			}
			if old := t.Get(en.path); old != nil && old.Kind == fstree.Dir && en.e.Kind == fstree.Dir {
				continue // shared directory: first package's metadata stays
			}
			if err := t.Put(en.path, en.e); err != nil {
				return nil, nil, fmt.Errorf("%s: %w", u.pkg.Name, err)
			}
		}
	}
	return t, pkgs, nil
}

func tarOf(ctx context.Context, flag, deb string) ([]byte, error) {
	var stderr bytes.Buffer
	cmd := exec.CommandContext(ctx, "dpkg-deb", flag, deb)
	cmd.Stderr = &stderr
	b, err := cmd.Output()
	if err != nil {
		return nil, fmt.Errorf("dpkg-deb %s %s: %v: %s", flag, deb, err, stderr.String())
	}
	return b, nil
}

func readDeb(ctx context.Context, deb string) (*unpacked, error) {
	ctl, err := tarOf(ctx, "--ctrl-tarfile", deb)
	if err != nil {
		return nil, err
	}
	pkg := &sysroot.Package{Scripts: map[string][]byte{}}
	tr := tar.NewReader(bytes.NewReader(ctl))
	for {
		h, err := tr.Next()
		if err == io.EOF {
			break
		}
		if err != nil {
			return nil, fmt.Errorf("%s: control.tar: %w", deb, err)
		}
		name := strings.TrimPrefix(h.Name, "./")
		if h.Typeflag != tar.TypeReg || name == "" {
			continue
		}
		b, err := io.ReadAll(tr)
		if err != nil {
			return nil, fmt.Errorf("%s: control.tar: %w", deb, err)
		}
		switch name {
		case "control":
			ps, err := deb822.ReadAll(bytes.NewReader(b), deb+": control")
			if err != nil || len(ps) != 1 {
				return nil, fmt.Errorf("%s: bad control member: %v", deb, err)
			}
			pkg.Control = ps[0]
		case "md5sums":
			pkg.MD5Sums = b
		case "conffiles":
			for _, l := range strings.Split(string(b), "\n") {
				if l = strings.TrimSpace(l); l != "" {
					pkg.Conffiles = append(pkg.Conffiles, l)
				}
			}
		default:
			pkg.Scripts[name] = b
		}
	}
	if pkg.Control == nil {
		return nil, fmt.Errorf("%s: no control member", deb)
	}
	pkg.Name = pkg.Control.Get("Package")
	pkg.Version = pkg.Control.Get("Version")
	pkg.Architecture = pkg.Control.Get("Architecture")

	data, err := tarOf(ctx, "--fsys-tarfile", deb)
	if err != nil {
		return nil, err
	}
	u := &unpacked{pkg: pkg}
	tr = tar.NewReader(bytes.NewReader(data))
	for {
		h, err := tr.Next()
		if err == io.EOF {
			break
		}
		if err != nil {
			return nil, fmt.Errorf("%s: data.tar: %w", deb, err)
		}
		p, err := fstree.Clean(h.Name)
		if err != nil {
			return nil, fmt.Errorf("%s: %w", deb, err)
		}
		if p == "" {
			pkg.Files = append(pkg.Files, "/.")
		} else {
			pkg.Files = append(pkg.Files, "/"+p)
		}
		meta := fstree.Meta{Mode: uint32(h.Mode) & 0o7777, UID: uint32(h.Uid), GID: uint32(h.Gid)}
		en := entry{path: p}
		switch h.Typeflag {
		case tar.TypeDir:
			en.e = &fstree.Entry{Kind: fstree.Dir, Meta: meta, Package: pkg.Name}
		case tar.TypeSymlink:
			en.e = &fstree.Entry{Kind: fstree.Symlink, Meta: fstree.Meta{Mode: 0o777}, Target: h.Linkname, Package: pkg.Name}
		case tar.TypeLink:
			l, err := fstree.Clean(h.Linkname)
			if err != nil {
				return nil, fmt.Errorf("%s: %w", deb, err)
			}
			en.link = l
		case tar.TypeReg:
			e := &fstree.Entry{Kind: fstree.File, Meta: meta, Size: h.Size, Package: pkg.Name}
			if !SkipData(p) {
				b, err := io.ReadAll(tr)
				if err != nil {
					return nil, fmt.Errorf("%s: %s: %w", deb, p, err)
				}
				e.Data = b
			}
			en.e = e
		default:
			return nil, fmt.Errorf("%s: %s: unsupported tar type %q", deb, p, h.Typeflag)
		}
		u.entries = append(u.entries, en)
	}
	return u, nil
}
