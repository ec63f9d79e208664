package compose

import (
	"bytes"
	"context"
	"os"
	"path/filepath"
	"reflect"
	"testing"

	"github.com/debatom/debatom/pkg/depmod"
	"github.com/debatom/debatom/pkg/fstree"
	"github.com/debatom/debatom/pkg/ostreerepo"
	"github.com/debatom/debatom/pkg/unpack"
)

// TestEarlyModules: modules parsed while unpacking are handed to depmod
// only for tree files with the very object and decompression that were
// parsed; anything else (another object, a renamed or symlinked file, an
// inline file) is left for depmod to read.
func TestEarlyModules(t *testing.T) {
	const kdir = "../depmod/testdata/tree/usr/lib/modules/6.0.0-test/"
	repo, err := ostreerepo.Create(filepath.Join(t.TempDir(), "repo"), ostreerepo.ModeArchive)
	if err != nil {
		t.Fatal(err)
	}
	write := func(data []byte) string {
		t.Helper()
		csum, err := repo.WriteFile(fstree.Meta{Mode: 0o644}, bytes.NewReader(data), int64(len(data)))
		if err != nil {
			t.Fatal(err)
		}
		return csum
	}
	cordic, err := os.ReadFile(kdir + "kernel/lib/math/cordic.ko.xz")
	if err != nil {
		t.Fatal(err)
	}
	obj := write(cordic)
	other := write(append(bytes.Clone(cordic), 0)) // another object
	const p = "usr/lib/modules/6.0.0-test/kernel/lib/math/cordic.ko.xz"
	file := func(o string) unpack.Entry {
		e := unpack.Entry{Path: p}
		e.Kind, e.Object, e.Mode = fstree.File, o, 0o644
		return e
	}
	notModule := file(other)
	notModule.Path = "usr/share/doc/cordic.ko.xz.txt"
	m := &unpack.Manifest{Entries: []unpack.Entry{file(obj), notModule}}

	var e earlyModules
	e.start(context.Background(), repo, &unpack.Manifest{Entries: []unpack.Entry{notModule}})
	if len(e.jobs) != 0 {
		t.Fatal("a package without modules started work")
	}
	e.start(context.Background(), repo, m)
	tree := fstree.New()
	put := func(path string, en *fstree.Entry) {
		t.Helper()
		if err := tree.MkdirAll(filepath.Dir(path)); err != nil {
			t.Fatal(err)
		}
		if err := tree.Put(path, en); err != nil {
			t.Fatal(err)
		}
	}
	fileEntry := func(o string) *fstree.Entry {
		return &fstree.Entry{Kind: fstree.File, Object: o, Meta: fstree.Meta{Mode: 0o644}, Size: int64(len(cordic))}
	}
	put(p, fileEntry(obj))
	put("usr/lib/modules/6.0.0-test/kernel/renamed.ko", fileEntry(obj))       // same object, no xz
	put("usr/lib/modules/6.0.0-test/kernel/replaced.ko.xz", fileEntry(other)) // not parsed
	put("usr/lib/modules/6.0.0-test/kernel/inline.ko.xz", &fstree.Entry{Kind: fstree.File, Data: cordic, Object: obj})
	put("usr/lib/modules/6.0.0-test/kernel/link.ko.xz", &fstree.Entry{Kind: fstree.Symlink, Target: "lib/math/cordic.ko.xz", Object: obj})

	lookup := e.lookup(tree)
	if lookup == nil {
		t.Fatal("no lookup although a package had modules")
	}
	var parser depmod.Parser
	want, err := parser.Parse("x.ko.xz", bytes.NewReader(cordic))
	if err != nil {
		t.Fatal(err)
	}
	got, ok := lookup(p)
	if !ok || !reflect.DeepEqual(got, want) {
		t.Fatalf("parsed module: ok %v, info %+v, want %+v", ok, got, want)
	}
	for _, miss := range []string{"renamed.ko", "replaced.ko.xz", "inline.ko.xz", "link.ko.xz", "missing.ko.xz"} {
		if _, ok := lookup("usr/lib/modules/6.0.0-test/kernel/" + miss); ok {
			t.Errorf("%s: answered, want it left to depmod", miss)
		}
	}
	if e.lookup(tree) != nil {
		t.Error("a second lookup found work again")
	}
	e.start(context.Background(), repo, m)
	e.stop()
	e.stop()
	if e.lookup(tree) != nil {
		t.Error("stopped work was looked up")
	}
}
