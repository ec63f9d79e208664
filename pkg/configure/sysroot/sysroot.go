// Package sysroot is the view of a system tree that the configure steps
// share: the in-memory tree, a way to read file contents wherever they
// live, the installed packages' control data, and the report the steps
// append their findings to.
package sysroot

import (
	"bytes"
	"fmt"
	"io"
	"io/fs"
	"path"
	"sort"
	"strings"

	"github.com/debatom/debatom/pkg/configure/script"
	"github.com/debatom/debatom/pkg/deb822"
	"github.com/debatom/debatom/pkg/fstree"
)

// Contents opens the payload of a regular file entry. Entries produced by
// unpacking refer to OSTree objects; the store behind them implements this.
type Contents interface {
	Open(p string, e *fstree.Entry) (io.ReadCloser, error)
}

// Inline reads only entries whose payload is held in Entry.Data.
type Inline struct{}

// Open implements Contents.
func (Inline) Open(p string, e *fstree.Entry) (io.ReadCloser, error) {
	if e.Data == nil && e.Size != 0 {
		return nil, fmt.Errorf("%s: content is not inline (object %q)", p, e.Object)
	}
	return io.NopCloser(bytes.NewReader(e.Data)), nil
}

// Package is one installed package's control data, as a .deb carries it.
type Package struct {
	Name, Version, Architecture string
	// Control is the .deb's control stanza.
	Control *deb822.Paragraph
	// Scripts holds the control members other than control, md5sums and
	// conffiles: preinst, postinst, prerm, postrm, config, templates,
	// triggers, shlibs, symbols...
	Scripts   map[string][]byte
	Conffiles []string
	MD5Sums   []byte
	// Files are the paths the package owns, as `dpkg -L` lists them
	// ("/", "/usr", "/usr/bin/x"...), in archive order.
	Files []string
}

// MultiArchSame reports whether dpkg names the package's files with :arch.
func (p *Package) MultiArchSame() bool {
	return p.Control != nil && p.Control.Get("Multi-Arch") == "same"
}

// Warning is something a maintainer script does that could not be derived.
type Warning struct {
	Package string // "" when not tied to one package
	Message string
}

func (w Warning) String() string {
	if w.Package == "" {
		return w.Message
	}
	return w.Package + ": " + w.Message
}

// Report lists what configuration did and what it could not do.
type Report struct {
	Warnings []Warning
	Done     []string
	// KernelVersion is the kernel found by the OSTree layout step.
	KernelVersion string
}

// Warnf records a warning about pkg.
func (r *Report) Warnf(pkg, format string, args ...any) {
	r.Warnings = append(r.Warnings, Warning{Package: pkg, Message: fmt.Sprintf(format, args...)})
}

// Notef records an action taken.
func (r *Report) Notef(format string, args ...any) {
	r.Done = append(r.Done, fmt.Sprintf(format, args...))
}

// Root is a tree being configured.
type Root struct {
	Tree     *fstree.Tree
	Contents Contents
	Packages []*Package
	Report   *Report

	parsed map[*Package]map[string][]script.Command
}

// Commands returns the commands of a package's maintainer script
// (member "postinst", "preinst"...), parsed once: every step reads them.
func (r *Root) Commands(p *Package, member string) []script.Command {
	if r.parsed == nil {
		r.parsed = map[*Package]map[string][]script.Command{}
	}
	m := r.parsed[p]
	if m == nil {
		m = map[string][]script.Command{}
		r.parsed[p] = m
	}
	cmds, ok := m[member]
	if !ok {
		cmds = script.Parse(p.Scripts[member])
		m[member] = cmds
	}
	return cmds
}

// New returns a Root over t; c may be nil when all contents are inline.
func New(t *fstree.Tree, c Contents, pkgs []*Package) *Root {
	if c == nil {
		c = Inline{}
	}
	return &Root{Tree: t, Contents: c, Packages: pkgs, Report: &Report{}}
}

// Package returns the named package, or nil.
func (r *Root) Package(name string) *Package {
	for _, p := range r.Packages {
		if p.Name == name {
			return p
		}
	}
	return nil
}

// Lookup resolves p, following symlinks in every component including the
// last, and returns the final path and entry (nil if absent).
func (r *Root) Lookup(p string) (string, *fstree.Entry, error) {
	for hops := 0; hops < 40; hops++ {
		rp, err := r.Tree.Resolve(p)
		if err != nil {
			return "", nil, err
		}
		e := r.Tree.Get(rp)
		if e == nil || e.Kind != fstree.Symlink {
			return rp, e, nil
		}
		t := e.Target
		if !strings.HasPrefix(t, "/") {
			t = path.Join(path.Dir(rp), t)
		}
		p = t
	}
	return "", nil, fmt.Errorf("%s: too many levels of symbolic links", p)
}

// ReadFile returns the content of p, following symlinks.
func (r *Root) ReadFile(p string) ([]byte, error) {
	rp, e, err := r.Lookup(p)
	if err != nil {
		return nil, err
	}
	if e == nil {
		return nil, fmt.Errorf("read %s: %w", p, fs.ErrNotExist)
	}
	if e.Kind != fstree.File {
		return nil, fmt.Errorf("read %s: is a %s", p, e.Kind)
	}
	if e.Data != nil {
		return e.Data, nil
	}
	rc, err := r.Contents.Open(rp, e)
	if err != nil {
		return nil, fmt.Errorf("read %s: %w", p, err)
	}
	defer rc.Close()
	b, err := io.ReadAll(rc)
	if err != nil {
		return nil, fmt.Errorf("read %s: %w", p, err)
	}
	return b, nil
}

// Exists reports whether p exists, following symlinks.
func (r *Root) Exists(p string) bool {
	_, e, err := r.Lookup(p)
	return err == nil && e != nil
}

// WriteFile stores data at p (symlinked parents resolved) as a generated file.
func (r *Root) WriteFile(p string, data []byte, mode, uid, gid uint32) error {
	rp, err := r.Tree.Resolve(p)
	if err != nil {
		return err
	}
	if data == nil {
		data = []byte{}
	}
	return r.Tree.Put(rp, &fstree.Entry{
		Kind: fstree.File,
		Meta: fstree.Meta{Mode: mode, UID: uid, GID: gid},
		Size: int64(len(data)),
		Data: data,
	})
}

// Symlink makes p a symlink to target, replacing what was there.
func (r *Root) Symlink(p, target string) error {
	rp, err := r.Tree.Resolve(p)
	if err != nil {
		return err
	}
	return r.Tree.Put(rp, &fstree.Entry{Kind: fstree.Symlink, Meta: fstree.Meta{Mode: 0o777}, Target: target})
}

// Mkdir makes p a directory with the given metadata; an existing directory
// gets the new metadata.
func (r *Root) Mkdir(p string, mode, uid, gid uint32) error {
	rp, err := r.Tree.Resolve(p)
	if err != nil {
		return err
	}
	if e := r.Tree.Get(rp); e != nil && e.Kind == fstree.Dir {
		e.Mode, e.UID, e.GID = mode, uid, gid
		return nil
	}
	return r.Tree.Put(rp, &fstree.Entry{Kind: fstree.Dir, Meta: fstree.Meta{Mode: mode, UID: uid, GID: gid}})
}

// Glob returns the paths of entries directly in dir (symlinks in dir
// resolved) whose name matches pattern, in byte order.
func (r *Root) Glob(dir, pattern string) []string {
	rd, err := r.Tree.Resolve(dir + "/x")
	if err != nil {
		return nil
	}
	rd = path.Dir(rd)
	var out []string
	for _, name := range r.Tree.Children(rd) {
		if ok, _ := path.Match(pattern, name); ok {
			out = append(out, path.Join(rd, name))
		}
	}
	sort.Strings(out)
	return out
}
