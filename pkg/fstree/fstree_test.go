package fstree

import (
	"io"
	"io/fs"
	"strings"
	"testing"
	"testing/fstest"
)

func sample(t *testing.T) *Tree {
	t.Helper()
	tr := New()
	must := func(err error) {
		if err != nil {
			t.Fatal(err)
		}
	}
	must(tr.Put("usr/bin/ls", &Entry{Kind: File, Meta: Meta{Mode: 0o755}, Data: []byte("ELF")}))
	must(tr.Put("usr/lib/x/a.so", &Entry{Kind: File, Meta: Meta{Mode: 0o644}, Object: "abc", Size: 4}))
	must(tr.Put("bin", &Entry{Kind: Symlink, Meta: Meta{Mode: 0o777}, Target: "usr/bin"}))
	must(tr.Put("usr/lib/x/b.so", &Entry{Kind: Symlink, Meta: Meta{Mode: 0o777}, Target: "a.so"}))
	must(tr.Put("etc/abs", &Entry{Kind: Symlink, Meta: Meta{Mode: 0o777}, Target: "/usr/bin/ls"}))
	return tr
}

func TestFSConformance(t *testing.T) {
	tr := sample(t)
	fsys := tr.FS(func(p string, e *Entry) (io.ReadCloser, error) {
		return io.NopCloser(strings.NewReader("data")), nil
	})
	if err := fstest.TestFS(fsys, "usr/bin/ls", "usr/lib/x/a.so", "etc/abs"); err != nil {
		t.Fatal(err)
	}
	b, err := fs.ReadFile(fsys, "bin/ls")
	if err != nil || string(b) != "ELF" {
		t.Fatalf("bin/ls = %q, %v", b, err)
	}
	b, err = fs.ReadFile(fsys, "usr/lib/x/b.so")
	if err != nil || string(b) != "data" {
		t.Fatalf("b.so = %q, %v", b, err)
	}
	if l, err := fs.ReadLink(fsys, "etc/abs"); err != nil || l != "/usr/bin/ls" {
		t.Fatalf("ReadLink = %q, %v", l, err)
	}
	if _, err := fs.Stat(fsys, "nope"); !strings.Contains(err.Error(), "not exist") {
		t.Fatalf("missing file err = %v", err)
	}
}

func TestResolveAndRename(t *testing.T) {
	tr := sample(t)
	for in, want := range map[string]string{"bin/ls": "usr/bin/ls", "bin": "bin", "usr/lib/x/b.so": "usr/lib/x/b.so"} {
		if got, err := tr.Resolve(in); err != nil || got != want {
			t.Errorf("Resolve(%s) = %q, %v; want %q", in, got, err, want)
		}
	}
	if err := tr.Rename("usr/lib/x", "usr/lib/y"); err != nil {
		t.Fatal(err)
	}
	if tr.Get("usr/lib/y/a.so") == nil || tr.Get("usr/lib/x/a.so") != nil {
		t.Errorf("rename lost entries: %v", tr.Paths())
	}
	if _, err := Clean("a/../../b"); err == nil {
		t.Error("Clean accepted a path leaving the root")
	}
	if err := tr.Put("usr/bin/ls/x", &Entry{Kind: File}); err == nil {
		t.Error("Put below a file succeeded")
	}
}

func TestChildrenIndex(t *testing.T) {
	tr := sample(t)
	if got := strings.Join(tr.Children("usr/lib/x"), ","); got != "a.so,b.so" {
		t.Errorf("Children = %s", got)
	}
	tr.RemoveAll("usr/lib")
	if tr.Get("usr/lib/x/a.so") != nil || len(tr.Children("usr")) != 1 {
		t.Errorf("RemoveAll left %v", tr.Paths())
	}
	// Replacing a directory by a file drops its subtree.
	if err := tr.Put("usr", &Entry{Kind: File}); err != nil {
		t.Fatal(err)
	}
	if tr.Get("usr/bin/ls") != nil || tr.Len() != 5 {
		t.Errorf("after replacing usr: %v", tr.Paths())
	}
	tr.RemoveAll("")
	if tr.Len() != 1 || tr.Get("") == nil {
		t.Errorf("RemoveAll(root) = %v", tr.Paths())
	}
}
