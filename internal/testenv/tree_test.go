package testenv

import (
	"fmt"
	"io"
	"os"
	"path/filepath"
	"slices"
	"testing"
)

// recorder is a TreeBuilder that writes down what it is given.
type recorder struct{ calls []string }

type xattrs []string

func (r *recorder) Mkdir(path string, mode, uid, gid uint32, _ xattrs) error {
	r.calls = append(r.calls, fmt.Sprintf("dir %q %#o", path, mode))
	return nil
}

func (r *recorder) AddFile(path string, mode, uid, gid uint32, _ xattrs, size int64, open func() (io.ReadCloser, error)) error {
	f, err := open()
	if err != nil {
		return err
	}
	defer f.Close()
	b, err := io.ReadAll(f)
	r.calls = append(r.calls, fmt.Sprintf("file %q %#o %d %q", path, mode, size, b))
	return err
}

func (r *recorder) Symlink(path, target string, uid, gid uint32, _ xattrs) error {
	r.calls = append(r.calls, fmt.Sprintf("symlink %q -> %q", path, target))
	return nil
}

func (r *recorder) Hardlink(path, existing string) error {
	r.calls = append(r.calls, fmt.Sprintf("link %q = %q", path, existing))
	return nil
}

func TestAddTree(t *testing.T) {
	root := t.TempDir()
	must := func(err error) {
		t.Helper()
		if err != nil {
			t.Fatal(err)
		}
	}
	must(os.Chmod(root, 0o755))
	must(os.Mkdir(filepath.Join(root, "bin"), 0o755))
	must(os.WriteFile(filepath.Join(root, "bin/a"), []byte("hello"), 0o644))
	must(os.Chmod(filepath.Join(root, "bin/a"), 0o755|os.ModeSetuid))
	must(os.Link(filepath.Join(root, "bin/a"), filepath.Join(root, "bin/b")))
	must(os.Symlink("bin/a", filepath.Join(root, "sl")))

	var r recorder
	files, size, err := AddTree(&r, root, "repo")
	must(err)
	want := []string{
		`dir "repo" 0755`,
		`dir "repo/bin" 0755`,
		`file "repo/bin/a" 04755 5 "hello"`,
		`link "repo/bin/b" = "repo/bin/a"`,
		`symlink "repo/sl" -> "bin/a"`,
	}
	if !slices.Equal(r.calls, want) {
		t.Errorf("calls:\n%q\nwant\n%q", r.calls, want)
	}
	if !slices.Equal(files, []string{"repo/bin/a"}) || size != 5 {
		t.Errorf("files %q, %d bytes", files, size)
	}

	// At the image's root, the root directory itself is "".
	r = recorder{}
	if _, _, err := AddTree(&r, filepath.Join(root, "bin"), ""); err != nil || r.calls[0] != `dir "" 0755` {
		t.Errorf("calls %q, %v", r.calls, err)
	}
	if _, _, err := AddTree(&r, filepath.Join(root, "missing"), ""); err == nil {
		t.Error("a missing root gave no error")
	}
}
