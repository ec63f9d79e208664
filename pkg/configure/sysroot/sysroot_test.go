package sysroot

import (
	"errors"
	"io"
	"io/fs"
	"strings"
	"testing"

	"github.com/debatom/debatom/pkg/deb822"
	"github.com/debatom/debatom/pkg/fstree"
)

type storeContents map[string]string

func (s storeContents) Open(p string, e *fstree.Entry) (io.ReadCloser, error) {
	d, ok := s[e.Object]
	if !ok {
		return nil, fs.ErrNotExist
	}
	return io.NopCloser(strings.NewReader(d)), nil
}

func TestReadFollowsLinks(t *testing.T) {
	tr := fstree.New()
	r := New(tr, storeContents{"abc": "from the store"}, nil)
	r.Symlink("bin", "usr/bin")
	r.WriteFile("usr/bin/inline", []byte("inline"), 0o755, 0, 0)
	tr.Put("usr/bin/stored", &fstree.Entry{Kind: fstree.File, Size: 14, Object: "abc"})
	r.Symlink("usr/bin/rel", "stored")
	r.Symlink("etc/abs", "/bin/inline")
	for p, want := range map[string]string{"bin/inline": "inline", "bin/stored": "from the store", "usr/bin/rel": "from the store", "etc/abs": "inline"} {
		b, err := r.ReadFile(p)
		if err != nil || string(b) != want {
			t.Errorf("%s: %q %v, want %q", p, b, err, want)
		}
	}
	if _, err := r.ReadFile("nope"); !errors.Is(err, fs.ErrNotExist) {
		t.Errorf("missing file: %v", err)
	}
	r.Symlink("loop", "loop")
	if _, err := r.ReadFile("loop"); err == nil || strings.Contains(err.Error(), "\n") {
		t.Errorf("symlink loop: %v", err)
	}
	tr.Put("usr/bin/gone", &fstree.Entry{Kind: fstree.File, Size: 3, Object: "zzz"})
	if _, err := New(tr, nil, nil).ReadFile("usr/bin/gone"); err == nil {
		t.Error("Inline read a stored object")
	}
}

func pkg(name, deps string, essential bool) *Package {
	c := &deb822.Paragraph{Fields: []deb822.Field{{Name: "Package", Value: name}, {Name: "Depends", Value: deps}}}
	if essential {
		c.Fields = append(c.Fields, deb822.Field{Name: "Essential", Value: "yes"})
	}
	return &Package{Name: name, Control: c}
}

func TestConfigureOrder(t *testing.T) {
	prov := pkg("prov", "", false)
	prov.Control.Set("Provides", "virtual-thing")
	got := ConfigureOrder([]*Package{
		pkg("zsh", "libc6 (>= 2), base-files", false),
		pkg("base-files", "", true),
		pkg("libc6", "libgcc-s1", false),
		pkg("libgcc-s1", "libc6", false), // a cycle
		pkg("dash", "debianutils | busybox", true),
		pkg("debianutils", "libc6", false),
		pkg("apt", "virtual-thing", false),
		prov,
	})
	var names []string
	for _, p := range got {
		names = append(names, p.Name)
	}
	// Essential packages and what they need first; dependencies before
	// dependants; the libc6/libgcc-s1 cycle broken by name. The rest go
	// in dpkg's hash order (zsh before apt), deferred until what they
	// depend on is configured (apt after prov).
	want := "base-files libgcc-s1 libc6 debianutils dash prov zsh apt"
	if strings.Join(names, " ") != want {
		t.Errorf("order %s, want %s", strings.Join(names, " "), want)
	}
}

// A pre-dependency target is configured before the hash-ordered rest,
// and a package waits for what it depends on.
func TestConfigureOrderImmediate(t *testing.T) {
	got := ConfigureOrder([]*Package{
		pkg("base-files", "", true),
		pkg("a", "", false),
		pkg("zz", "", false),
		pkg("b", "zz", false),
		pkg("c", "", false),
		func() *Package { p := pkg("d", "", false); p.Control.Set("Pre-Depends", "c"); return p }(),
	})
	pos := map[string]int{}
	for i, p := range got {
		pos[p.Name] = i
	}
	if pos["c"] != 1 {
		t.Errorf("pre-dependency c at %d, want 1 (right after the Essential set)", pos["c"])
	}
	if pos["b"] < pos["zz"] {
		t.Errorf("b (%d) configured before its dependency zz (%d)", pos["b"], pos["zz"])
	}
	if len(got) != 6 {
		t.Errorf("%d packages, want 6", len(got))
	}
}
