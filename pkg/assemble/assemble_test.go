package assemble

import (
	"strings"
	"testing"

	"github.com/debatom/debatom/pkg/fstree"
)

func dir() *fstree.Entry { return &fstree.Entry{Kind: fstree.Dir, Meta: fstree.Meta{Mode: 0o755}} }
func file(obj string) *fstree.Entry {
	return &fstree.Entry{Kind: fstree.File, Meta: fstree.Meta{Mode: 0o644}, Object: obj}
}
func link(target string) *fstree.Entry {
	return &fstree.Entry{Kind: fstree.Symlink, Meta: fstree.Meta{Mode: 0o777}, Target: target}
}

func TestMergedUsr(t *testing.T) {
	pkgs := []Package{
		{Name: "base-files", Items: []Item{{"./", dir()}, {"./bin", link("usr/bin")}, {"./usr/", dir()}, {"./usr/bin/", dir()}}},
		// An old-style package still shipping /bin.
		{Name: "legacy", Items: []Item{{"./bin/", dir()}, {"./bin/tool", file("a")}}},
		{Name: "coreutils", Items: []Item{{"./usr/bin/ls", file("b")}}},
	}
	res, err := Assemble(pkgs, nil)
	if err != nil {
		t.Fatal(err)
	}
	if e := res.Tree.Get("bin"); e == nil || e.Kind != fstree.Symlink {
		t.Fatalf("bin = %+v, want the symlink kept", e)
	}
	if e := res.Tree.Get("usr/bin/tool"); e == nil || e.Object != "a" || e.Package != "legacy" {
		t.Fatalf("usr/bin/tool = %+v", e)
	}
	if res.Owners["usr/bin/ls"] != "coreutils" {
		t.Errorf("owners = %v", res.Owners)
	}
}

func TestConflicts(t *testing.T) {
	a := Package{Name: "a", Items: []Item{{"./usr/bin/x", file("1")}}}
	b := Package{Name: "b", Items: []Item{{"./usr/bin/x", file("2")}}}
	_, err := Assemble([]Package{a, b}, nil)
	if err == nil || !strings.Contains(err.Error(), "trying to overwrite /usr/bin/x, which is also in package a") {
		t.Fatalf("err = %v", err)
	}
	res, err := Assemble([]Package{a, b}, func(n, o string) bool { return n == "b" && o == "a" })
	if err != nil {
		t.Fatal(err)
	}
	if e := res.Tree.Get("usr/bin/x"); e.Object != "2" || e.Package != "b" {
		t.Errorf("replaced file = %+v", e)
	}
	if len(res.Replaced) != 1 {
		t.Errorf("Replaced = %v", res.Replaced)
	}
	// The package unpacked first Replaces the later one: it keeps the file.
	res, err = Assemble([]Package{b, a}, func(n, o string) bool { return n == "b" && o == "a" })
	if err != nil {
		t.Fatal(err)
	}
	if e := res.Tree.Get("usr/bin/x"); e.Object != "2" || res.Owners["usr/bin/x"] != "b" {
		t.Errorf("kept file = %+v", e)
	}
}

func TestBadShapes(t *testing.T) {
	tests := []struct {
		name string
		pkgs []Package
		want string
	}{
		{"file over dir", []Package{{Name: "a", Items: []Item{{"./etc/x/", dir()}}}, {Name: "b", Items: []Item{{"./etc/x", file("1")}}}}, "is a directory"},
		{"dir over file", []Package{{Name: "a", Items: []Item{{"./etc/x", file("1")}}}, {Name: "b", Items: []Item{{"./etc/x/", dir()}}}}, "cannot make a directory"},
		{"twice", []Package{{Name: "a", Items: []Item{{"./etc/x", file("1")}, {"./etc/x", file("1")}}}}, "twice"},
		{"escape", []Package{{Name: "a", Items: []Item{{"../etc/x", file("1")}}}}, "leaves the root"},
		{"loop", []Package{{Name: "a", Items: []Item{{"./l", link("l")}, {"./l/x", file("1")}}}}, "too many levels"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			_, err := Assemble(tt.pkgs, nil)
			if err == nil || !strings.Contains(err.Error(), tt.want) || !strings.HasPrefix(err.Error(), "package ") {
				t.Fatalf("err = %v, want %q", err, tt.want)
			}
		})
	}
}

func TestSymlinkEscapeStaysInside(t *testing.T) {
	pkgs := []Package{{Name: "a", Items: []Item{{"./x", link("../../../tmp")}, {"./x/evil", file("1")}}}}
	res, err := Assemble(pkgs, nil)
	if err != nil {
		t.Fatal(err)
	}
	if res.Tree.Get("tmp/evil") == nil {
		t.Errorf("a symlink leaving the root must resolve inside it, like in a chroot: %v", res.Tree.Paths())
	}
}
