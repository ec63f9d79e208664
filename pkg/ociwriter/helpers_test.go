package ociwriter

import (
	"archive/tar"
	"bufio"
	"bytes"
	"context"
	"crypto/sha256"
	"encoding/hex"
	"fmt"
	"io/fs"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"syscall"
	"testing"
	"time"

	"github.com/debatom/debatom/pkg/fstree"
	"github.com/debatom/debatom/pkg/ostreerepo"
)

const testKver = "6.12.0-test-amd64"

// testFile is one file of the synthetic tree, described in
// testdata/tree.txt: kind, path, mode, owner, owning package and content
// (or link target).
type testFile struct {
	kind    string // f, l
	path    string
	mode    uint32
	uid     uint32
	gid     uint32
	pkg     string // "-" for none; the path dpkg lists is column 6
	listed  string
	content string
}

// loadTree reads testdata/tree.txt.
func loadTree(t testing.TB) []testFile {
	t.Helper()
	f, err := os.Open(filepath.Join("testdata", "tree.txt"))
	if err != nil {
		t.Fatal(err)
	}
	defer f.Close()
	var out []testFile
	sc := bufio.NewScanner(f)
	for sc.Scan() {
		line := sc.Text()
		if line == "" || line[0] == '#' {
			continue
		}
		fs := strings.SplitN(line, " ", 7)
		if len(fs) != 7 {
			t.Fatalf("testdata/tree.txt: bad line %q", line)
		}
		var tf testFile
		tf.kind, tf.path, tf.pkg, tf.listed = fs[0], fs[1], fs[4], fs[5]
		if _, err := fmt.Sscanf(fs[2], "%o", &tf.mode); err != nil {
			t.Fatalf("mode in %q: %v", line, err)
		}
		if _, err := fmt.Sscanf(fs[3], "%d:%d", &tf.uid, &tf.gid); err != nil {
			t.Fatalf("owner in %q: %v", line, err)
		}
		tf.content = strings.ReplaceAll(fs[6], `\n`, "\n")
		out = append(out, tf)
	}
	return out
}

// buildCommit commits the synthetic tree, with edit applied to the files
// first, into repo and returns the commit checksum.
func buildCommit(t testing.TB, repo *ostreerepo.Repo, edit func(*testFile)) string {
	t.Helper()
	tr := fstree.New()
	for _, d := range []string{"usr/bin", "usr/etc", "usr/lib/modules/" + testKver, "usr/lib/sysimage/dpkg/info", "sysroot", "var", "dev", "proc", "run", "tmp", "boot"} {
		if err := tr.MkdirAll(d); err != nil {
			t.Fatal(err)
		}
	}
	if err := tr.Put("tmp", &fstree.Entry{Kind: fstree.Dir, Meta: fstree.Meta{Mode: 0o1777}}); err != nil {
		t.Fatal(err)
	}
	lists := map[string][]string{}
	var status strings.Builder
	for _, f := range loadTree(t) {
		if edit != nil {
			edit(&f)
		}
		e := &fstree.Entry{Meta: fstree.Meta{Mode: f.mode, UID: f.uid, GID: f.gid}}
		switch f.kind {
		case "f":
			e.Kind, e.Data, e.Size = fstree.File, []byte(f.content), int64(len(f.content))
		case "x":
			// A file with an extended attribute, to prove PAX xattrs
			// and the xattrs objects.
			e.Kind, e.Data, e.Size = fstree.File, []byte(f.content), int64(len(f.content))
			e.Meta.Xattrs = []fstree.Xattr{{Name: "user.debatom", Value: []byte("test\x00value")}}
		case "l":
			e.Kind, e.Target = fstree.Symlink, f.content
		default:
			t.Fatalf("kind %q", f.kind)
		}
		if err := tr.Put(f.path, e); err != nil {
			t.Fatal(err)
		}
		if f.pkg != "-" {
			if _, ok := lists[f.pkg]; !ok {
				fmt.Fprintf(&status, "Package: %s\nStatus: install ok installed\nVersion: 1.0\n\n", f.pkg)
			}
			lists[f.pkg] = append(lists[f.pkg], f.listed)
		}
	}
	for pkg, paths := range lists {
		if pkg == "linux-image-test" {
			paths = append(paths, "/usr/lib/modules/"+testKver)
		}
		b := "/.\n" + strings.Join(paths, "\n") + "\n"
		if err := tr.Put("usr/lib/sysimage/dpkg/info/"+pkg+".list", &fstree.Entry{Kind: fstree.File, Meta: fstree.Meta{Mode: 0o644}, Data: []byte(b), Size: int64(len(b))}); err != nil {
			t.Fatal(err)
		}
	}
	st := status.String()
	if err := tr.Put("usr/lib/sysimage/dpkg/status", &fstree.Entry{Kind: fstree.File, Meta: fstree.Meta{Mode: 0o644}, Data: []byte(st), Size: int64(len(st))}); err != nil {
		t.Fatal(err)
	}
	ctx := context.Background()
	root, meta, err := repo.WriteTree(ctx, tr)
	if err != nil {
		t.Fatal(err)
	}
	c, err := repo.Commit(ctx, root, meta, ostreerepo.CommitOptions{
		Subject:       "synthetic",
		Timestamp:     time.Unix(1700000000, 0),
		Metadata:      []ostreerepo.MetaItem{ostreerepo.MetaString("version", "13.1")},
		KernelVersion: testKver,
	})
	if err != nil {
		t.Fatal(err)
	}
	return c
}

func newRepo(t testing.TB) *ostreerepo.Repo {
	t.Helper()
	r, err := ostreerepo.Create(filepath.Join(t.TempDir(), "repo"), ostreerepo.ModeArchive)
	if err != nil {
		t.Fatal(err)
	}
	return r
}

func run(t testing.TB, name string, args ...string) string {
	t.Helper()
	out, err := exec.Command(name, args...).CombinedOutput()
	if err != nil {
		t.Fatalf("%s %s: %v\n%s", name, strings.Join(args, " "), err, out)
	}
	return string(out)
}

// tarEntry is one entry of a hand-made layer.
type tarEntry struct {
	name, body, link string
	typ              byte
	size             int64 // header size when body is empty
}

func makeTar(t testing.TB, es []tarEntry) []byte {
	t.Helper()
	var buf bytes.Buffer
	tw := tar.NewWriter(&buf)
	for _, e := range es {
		h := &tar.Header{Name: e.name, Mode: 0o644, Typeflag: e.typ, Size: int64(len(e.body))}
		if e.link != "" {
			h.Typeflag, h.Linkname, h.Size = tar.TypeLink, e.link, 0
		}
		if h.Typeflag == 0 {
			h.Typeflag = tar.TypeReg
		}
		if h.Typeflag != tar.TypeReg {
			h.Size = 0
		}
		if e.size > 0 {
			h.Size = e.size
			if err := tw.WriteHeader(h); err != nil {
				t.Fatal(err)
			}
			if _, err := tw.Write(make([]byte, e.size)); err != nil {
				t.Fatal(err)
			}
			continue
		}
		if err := tw.WriteHeader(h); err != nil {
			t.Fatal(err)
		}
		if _, err := tw.Write([]byte(e.body)); err != nil {
			t.Fatal(err)
		}
	}
	if err := tw.Close(); err != nil {
		t.Fatal(err)
	}
	return buf.Bytes()
}

// fileState is what the rootfs comparison looks at.
type fileState struct {
	mode     os.FileMode
	uid, gid uint32
	content  string // regular files: SHA-256; symlinks: target
}

// snapshotDir records every path under root; rename maps paths (nil: as is).
func snapshotDir(t testing.TB, root string, rename func(string) string) map[string]fileState {
	t.Helper()
	out := map[string]fileState{}
	err := filepath.WalkDir(root, func(p string, d fs.DirEntry, err error) error {
		if err != nil {
			return err
		}
		rel, _ := filepath.Rel(root, p)
		if rel == "." {
			return nil
		}
		rel = filepath.ToSlash(rel)
		if rename != nil {
			rel = rename(rel)
		}
		st, err := os.Lstat(p)
		if err != nil {
			return err
		}
		sys := st.Sys().(*syscall.Stat_t)
		fsn := fileState{mode: st.Mode(), uid: sys.Uid, gid: sys.Gid}
		switch {
		case st.Mode()&os.ModeSymlink != 0:
			fsn.content, err = os.Readlink(p)
		case st.Mode().IsRegular():
			var b []byte
			b, err = os.ReadFile(p)
			sum := sha256.Sum256(b)
			fsn.content = hex.EncodeToString(sum[:])
		}
		out[rel] = fsn
		return err
	})
	if err != nil {
		t.Fatal(err)
	}
	return out
}

func compareSnapshots(t testing.TB, got, want map[string]fileState) {
	t.Helper()
	for p, w := range want {
		g, ok := got[p]
		if !ok {
			t.Errorf("/%s: missing from the image", p)
			continue
		}
		if g != w {
			t.Errorf("/%s: image %+v, ostree checkout %+v", p, g, w)
		}
	}
	for p := range got {
		if _, ok := want[p]; !ok {
			t.Errorf("/%s: in the image, not in the commit", p)
		}
	}
	if len(want) < 20 {
		t.Errorf("only %d paths compared", len(want))
	}
}
