package deploy

import (
	"context"
	"os"
	"path/filepath"
	"reflect"
	"strings"
	"testing"

	"github.com/debatom/debatom/pkg/fstree"
)

// TestCheckout: the parallel checkout gives the tree repo.Checkout gives,
// entry for entry, and fails as it does on a missing object.
func TestCheckout(t *testing.T) {
	ctx := context.Background()
	files := testFiles()
	for i := range 300 { // more files than workers, in several directories
		files[filepath.Join("usr/share/many", string(rune('a'+i%7)), strings.Repeat("f", 1+i%40))+".txt"] = strings.Repeat("x", i)
	}
	dir := filepath.Join(t.TempDir(), "repo")
	repo, commit := makeCommit(t, dir, files, true)
	want, err := repo.Checkout(ctx, commit)
	if err != nil {
		t.Fatal(err)
	}
	got, err := checkout(ctx, repo, commit)
	if err != nil {
		t.Fatal(err)
	}
	if !reflect.DeepEqual(got.Paths(), want.Paths()) {
		t.Fatalf("paths differ:\n got %v\nwant %v", got.Paths(), want.Paths())
	}
	for _, p := range want.Paths() {
		if g, w := got.Get(p), want.Get(p); !reflect.DeepEqual(g, w) {
			t.Errorf("%s: %+v, want %+v", p, g, w)
		}
	}
	if e := got.Get("usr/bin/sh"); e == nil || e.Kind != fstree.Symlink || e.Target != "dash" {
		t.Errorf("usr/bin/sh = %+v", e)
	}

	// Remove one file object: both fail, naming the path.
	obj := got.Get("usr/lib/os-release").Object
	if err := os.Remove(filepath.Join(dir, "objects", obj[:2], obj[2:]+".filez")); err != nil {
		t.Fatal(err)
	}
	if _, err := checkout(ctx, repo, commit); err == nil || !strings.Contains(err.Error(), "usr/lib/os-release") {
		t.Errorf("missing object: %v", err)
	}
	cctx, cancel := context.WithCancel(ctx)
	cancel()
	if _, err := checkout(cctx, repo, commit); err == nil {
		t.Error("a cancelled checkout succeeded")
	}
}
