package unpack

import (
	"archive/tar"
	"bytes"
	"context"
	"crypto/sha256"
	"encoding/hex"
	"fmt"
	"io"
	"os"
	"path/filepath"
	"reflect"
	"strings"
	"sync"
	"testing"

	"github.com/debatom/debatom/pkg/deb/debtest"
	"github.com/debatom/debatom/pkg/fstree"
	"github.com/debatom/debatom/pkg/ostreerepo"
)

func newRepo(t testing.TB, mode ostreerepo.Mode) *ostreerepo.Repo {
	t.Helper()
	r, err := ostreerepo.Create(filepath.Join(t.TempDir(), "repo"), mode)
	if err != nil {
		t.Fatal(err)
	}
	return r
}

// writeDeb writes b to a file in a fresh directory and returns its path.
func writeDeb(t testing.TB, name string, b []byte) string {
	t.Helper()
	p := filepath.Join(t.TempDir(), name)
	if err := os.WriteFile(p, b, 0o644); err != nil {
		t.Fatal(err)
	}
	return p
}

func readObject(t testing.TB, r *ostreerepo.Repo, csum string) ([]byte, *ostreerepo.FileInfo) {
	t.Helper()
	rc, info, err := r.OpenFile(csum)
	if err != nil {
		t.Fatal(err)
	}
	defer rc.Close()
	b, err := io.ReadAll(rc)
	if err != nil {
		t.Fatal(err)
	}
	return b, info
}

func TestUnpack(t *testing.T) {
	big := strings.Repeat("0123456789abcdef", 40000) // above ostreerepo's small-file buffer
	data := []debtest.Entry{
		debtest.Dir("./", 0o755),
		debtest.Dir("./usr/", 0o755),
		debtest.Dir("./usr/bin/", 0o755),
		{Header: tar.Header{Name: "./usr/bin/su", Typeflag: tar.TypeReg, Mode: 0o4755, Size: 3}, Body: "su\n"},
		{Header: tar.Header{Name: "./usr/bin/chage", Typeflag: tar.TypeReg, Mode: 0o2755, Gid: 42, Size: 6}, Body: "chage\n"},
		debtest.Hardlink("./usr/bin/su2", "./usr/bin/su"),
		debtest.Hardlink("usr/bin/su3", "./usr/bin/su2"),
		debtest.Symlink("./usr/bin/sh", "dash"),
		debtest.File("./usr/big", 0o644, big),
		{Header: tar.Header{Name: "./usr/cap", Typeflag: tar.TypeReg, Mode: 0o755, Size: 1, Format: tar.FormatPAX,
			PAXRecords: map[string]string{"SCHILY.xattr.security.capability": "\x01\x02", "SCHILY.xattr.user.a": "b"}}, Body: "c"},
	}
	for _, mode := range []ostreerepo.Mode{ostreerepo.ModeArchive, ostreerepo.ModeBareUser} {
		t.Run(mode.String(), func(t *testing.T) {
			repo := newRepo(t, mode)
			u := New(repo, Options{})
			b := debtest.Build(debtest.Package{Data: data, Files: map[string]string{"postinst": "#!/bin/sh\n"}})
			m, err := u.Read(context.Background(), bytes.NewReader(b), "test.deb")
			if err != nil {
				t.Fatal(err)
			}
			sum := sha256.Sum256(b)
			if m.SHA256 != hex.EncodeToString(sum[:]) {
				t.Errorf("SHA256 = %s", m.SHA256)
			}
			if m.Package.Name != "test" || len(m.Entries) != len(data) {
				t.Fatalf("manifest: %s, %d entries", m.Package.Name, len(m.Entries))
			}
			if want := int64(3 + 6 + len(big) + 1); m.Bytes != want {
				t.Errorf("Bytes = %d, want %d (hardlinks once)", m.Bytes, want)
			}
			byPath := map[string]Entry{}
			for _, e := range m.Entries {
				byPath[e.Path] = e
			}
			if e := byPath[""]; e.Kind != fstree.Dir || e.Mode != 0o755 {
				t.Errorf("root = %+v", e)
			}
			su := byPath["usr/bin/su"]
			if su.Kind != fstree.File || su.Mode != 0o4755 || su.Size != 3 || !su.Meta.Equal(su.ObjectMeta) {
				t.Errorf("su = %+v", su)
			}
			if got, info := readObject(t, repo, su.Object); string(got) != "su\n" || info.Meta.Mode != 0o4755 {
				t.Errorf("su object = %q %+v", got, info)
			}
			if ch := byPath["usr/bin/chage"]; ch.GID != 42 || ch.Mode != 0o2755 {
				t.Errorf("chage = %+v", ch)
			}
			for _, p := range []string{"usr/bin/su2", "usr/bin/su3"} {
				if e := byPath[p]; e.Object != su.Object || e.Hardlink != "usr/bin/su" || e.Kind != fstree.File {
					t.Errorf("%s = %+v, want a hardlink to usr/bin/su", p, e)
				}
			}
			sh := byPath["usr/bin/sh"]
			if sh.Kind != fstree.Symlink || sh.Target != "dash" || sh.Object == "" {
				t.Errorf("sh = %+v", sh)
			}
			if _, info := readObject(t, repo, sh.Object); info.Kind != fstree.Symlink || info.Target != "dash" {
				t.Errorf("sh object = %+v", info)
			}
			if got, _ := readObject(t, repo, byPath["usr/big"].Object); string(got) != big {
				t.Errorf("big file content differs (%d bytes)", len(got))
			}
			cp := byPath["usr/cap"]
			if len(cp.Xattrs) != 2 || cp.Xattrs[0].Name != "security.capability" || string(cp.Xattrs[1].Value) != "b" {
				t.Errorf("xattrs = %+v", cp.Xattrs)
			}
			for _, e := range m.Entries {
				if e.Object != "" {
					if err := repo.VerifyFile(e.Object); err != nil {
						t.Errorf("%s: %v", e.Path, err)
					}
				}
			}
			tree, err := m.Tree()
			if err != nil {
				t.Fatal(err)
			}
			if tree.Len() != len(data) || tree.Get("usr/bin/su").Package != "test" || tree.Get("usr").Package != "" {
				t.Errorf("tree: %d entries, su %+v", tree.Len(), tree.Get("usr/bin/su"))
			}
		})
	}
}

func TestHostile(t *testing.T) {
	f := func(name string) debtest.Entry { return debtest.File(name, 0o644, "x") }
	tests := []struct {
		name string
		data []debtest.Entry
		want string
	}{
		{"dotdot", []debtest.Entry{f("./usr/../../etc/passwd")}, `entry ./usr/../../etc/passwd: path "usr/../../etc/passwd" leaves the root`},
		{"absolute", []debtest.Entry{f("/etc/passwd")}, `entry /etc/passwd: absolute path "/etc/passwd"`},
		{"hardlink outside", []debtest.Entry{debtest.Hardlink("./a", "/etc/shadow")}, `entry ./a: hardlink target: absolute path`},
		{"hardlink to missing", []debtest.Entry{debtest.Hardlink("./a", "./b")}, "entry ./a: hardlink to /b, which is not a regular file earlier in the package"},
		{"hardlink dotdot", []debtest.Entry{debtest.Hardlink("./a", "../x")}, "leaves the root"},
		{"hardlink to dir", []debtest.Entry{debtest.Dir("./d/", 0o755), debtest.Hardlink("./a", "./d")}, "hardlink to /d, which is not a regular file"},
		{"char device", []debtest.Entry{{Header: tar.Header{Name: "./dev/null", Typeflag: tar.TypeChar, Devmajor: 1, Devminor: 3, Mode: 0o666}}}, "entry ./dev/null: device node"},
		{"block device", []debtest.Entry{{Header: tar.Header{Name: "./dev/sda", Typeflag: tar.TypeBlock, Mode: 0o660}}}, "entry ./dev/sda: device node"},
		{"fifo", []debtest.Entry{{Header: tar.Header{Name: "./run/fifo", Typeflag: tar.TypeFifo, Mode: 0o644}}}, "entry ./run/fifo: FIFO"},
		{"absurd size", []debtest.Entry{{Header: tar.Header{Name: "./huge", Typeflag: tar.TypeReg, Mode: 0o644, Size: 1 << 40}}}, "size 1099511627776 is over the"},
		{"duplicate", []debtest.Entry{f("./a"), f("a")}, "entry a: duplicate path /a"},
		{"below symlink", []debtest.Entry{debtest.Symlink("./lib", "/etc"), f("./lib/passwd")}, "entry ./lib/passwd: parent lib is a symlink, not a directory"},
		{"below file", []debtest.Entry{f("./a"), f("./a/b")}, "parent a is a file"},
		{"empty symlink", []debtest.Entry{debtest.Symlink("./l", "")}, "symlink target"},
		{"root file", []debtest.Entry{f(".")}, "the root is a regular file"},
		{"negative uid", []debtest.Entry{{Header: tar.Header{Name: "./a", Typeflag: tar.TypeReg, Uid: -5, Size: 1}, Body: "x"}}, "owner -5:0 out of range"},
	}
	repo := newRepo(t, ostreerepo.ModeArchive)
	u := New(repo, Options{MaxFileSize: 1 << 30})
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			b := debtest.Build(debtest.Package{Comp: "none", Data: tt.data})
			_, err := u.Read(context.Background(), bytes.NewReader(b), "hostile.deb")
			if err == nil {
				t.Fatalf("no error, want %q", tt.want)
			}
			msg := err.Error()
			if !strings.HasPrefix(msg, "package test: hostile.deb: data.tar: entry ") || !strings.Contains(msg, tt.want) || strings.Contains(msg, "\n") {
				t.Errorf("error %q\nwant one line naming the package and entry, containing %q", msg, tt.want)
			}
		})
	}
}

func TestCache(t *testing.T) {
	repo := newRepo(t, ostreerepo.ModeArchive)
	cache := t.TempDir()
	u := New(repo, Options{CacheDir: cache, Workers: 2})
	var inputs []Input
	for i := 0; i < 4; i++ {
		b := debtest.Build(debtest.Package{
			Control: fmt.Sprintf("Package: p%d\nVersion: 1\nArchitecture: all\n", i),
			Data:    []debtest.Entry{debtest.Dir("./", 0o755), debtest.File("./f", 0o644, fmt.Sprint("content ", i)), debtest.Symlink("./l", "f")},
		})
		inputs = append(inputs, Input{Path: writeDeb(t, fmt.Sprintf("p%d.deb", i), b)})
	}
	ctx := context.Background()
	cold, err := u.UnpackAll(ctx, inputs)
	if err != nil {
		t.Fatal(err)
	}
	for i, r := range cold {
		if r.Cached || r.Manifest.Package.Name != fmt.Sprint("p", i) {
			t.Errorf("cold result %d: cached %v, package %s (results must keep input order)", i, r.Cached, r.Manifest.Package.Name)
		}
	}
	warm, err := u.UnpackAll(ctx, inputs)
	if err != nil {
		t.Fatal(err)
	}
	for i, r := range warm {
		if !r.Cached {
			t.Errorf("warm result %d not cached", i)
		}
		if !reflect.DeepEqual(r.Manifest, cold[i].Manifest) {
			t.Errorf("cached manifest %d differs from the cold one", i)
		}
	}

	// Done sees every input once, with its own result, while UnpackAll runs.
	var mu sync.Mutex
	done := map[int]*Result{}
	withDone := New(repo, Options{CacheDir: cache, Workers: 2, Done: func(i int, r *Result) {
		mu.Lock()
		defer mu.Unlock()
		if done[i] != nil {
			t.Errorf("Done called twice for input %d", i)
		}
		done[i] = r
	}})
	again, err := withDone.UnpackAll(ctx, inputs)
	if err != nil {
		t.Fatal(err)
	}
	if len(done) != len(inputs) {
		t.Errorf("Done called for %d of %d inputs", len(done), len(inputs))
	}
	for i, r := range again {
		if done[i] != r {
			t.Errorf("Done got another result for input %d", i)
		}
	}

	// A repository without the objects (a new one) must not use the cache.
	other := New(newRepo(t, ostreerepo.ModeBareUser), Options{CacheDir: cache})
	r, err := other.Unpack(ctx, inputs[0])
	if err != nil || r.Cached {
		t.Fatalf("unpack into a new repo: cached %v, err %v", r != nil && r.Cached, err)
	}

	// Damaged cache files are redone, not trusted.
	sum := cold[1].Manifest.SHA256
	if err := os.WriteFile(filepath.Join(cache, "unpacked", sum+".manifest"), []byte("garbage"), 0o644); err != nil {
		t.Fatal(err)
	}
	r, err = u.Unpack(ctx, inputs[1])
	if err != nil || r.Cached || r.Manifest.Package.Name != "p1" {
		t.Fatalf("damaged cache: %+v, %v", r, err)
	}

	// A wrong expected SHA256 is an error naming the file.
	_, err = u.Unpack(ctx, Input{Path: inputs[2].Path, SHA256: strings.Repeat("0", 64)})
	if err == nil || !strings.Contains(err.Error(), inputs[2].Path) {
		t.Errorf("wrong SHA256: %v", err)
	}
}

// TestCacheReproducible checks that the same .deb gives the same cache
// file bytes in two independent runs.
func TestCacheReproducible(t *testing.T) {
	b := debtest.Build(debtest.Package{
		Files: map[string]string{"postinst": "#!/bin/sh\n", "prerm": "#!/bin/sh\n", "conffiles": "/etc/x\n", "md5sums": "5d41402abc4b2a76b9719d911017c592  etc/x\n"},
		Data:  []debtest.Entry{debtest.Dir("./", 0o755), debtest.Dir("./etc/", 0o755), debtest.File("./etc/x", 0o644, "hello"), debtest.Hardlink("./etc/y", "./etc/x")},
	})
	path := writeDeb(t, "r.deb", b)
	var files [][]byte
	for i := 0; i < 2; i++ {
		cache := t.TempDir()
		r, err := New(newRepo(t, ostreerepo.ModeArchive), Options{CacheDir: cache}).Unpack(context.Background(), Input{Path: path})
		if err != nil {
			t.Fatal(err)
		}
		c, err := os.ReadFile(filepath.Join(cache, "unpacked", r.Manifest.SHA256+".manifest"))
		if err != nil {
			t.Fatal(err)
		}
		files = append(files, c)
	}
	if !bytes.Equal(files[0], files[1]) {
		t.Error("two runs wrote different cache files")
	}
}

func TestUnpackAllFailure(t *testing.T) {
	good := writeDeb(t, "good.deb", debtest.Build(debtest.Package{Data: []debtest.Entry{debtest.File("./a", 0o644, "x")}}))
	bad := writeDeb(t, "bad.deb", debtest.Build(debtest.Package{Data: []debtest.Entry{debtest.File("../a", 0o644, "x")}}))
	u := New(newRepo(t, ostreerepo.ModeArchive), Options{Workers: 2})
	_, err := u.UnpackAll(context.Background(), []Input{{Path: good}, {Path: bad}, {Path: good}})
	if err == nil || !strings.Contains(err.Error(), "bad.deb") || !strings.Contains(err.Error(), "leaves the root") {
		t.Fatalf("error = %v", err)
	}
	_, err = u.UnpackAll(context.Background(), []Input{{Path: filepath.Join(t.TempDir(), "missing.deb")}})
	if err == nil || !strings.Contains(err.Error(), "missing.deb") {
		t.Fatalf("missing file: %v", err)
	}
}

// FuzzEntries feeds arbitrary bytes as an uncompressed data.tar through
// the unpacker into a real repository.
func FuzzEntries(f *testing.F) {
	f.Add(debtest.Tar(debtest.Dir("./", 0o755), debtest.File("./a", 0o644, "hello"), debtest.Symlink("./b", "a"), debtest.Hardlink("./c", "./a")))
	f.Add(debtest.Tar(debtest.Symlink("./lib", "/etc"), debtest.File("./lib/passwd", 0o644, "x")))
	f.Add(debtest.Tar(debtest.Entry{Header: tar.Header{Name: "./x", Typeflag: tar.TypeReg, Format: tar.FormatPAX, PAXRecords: map[string]string{"SCHILY.xattr.user.a": "b"}}}))
	repo := newRepo(f, ostreerepo.ModeArchive)
	u := New(repo, Options{MaxFileSize: 1 << 20})
	ctl := debtest.Tar(debtest.File("./control", 0o644, "Package: fz\nVersion: 1\nArchitecture: all\n"))
	f.Fuzz(func(t *testing.T, data []byte) {
		b := debtest.Ar(debtest.Member{Name: "debian-binary", Data: []byte("2.0\n")}, debtest.Member{Name: "control.tar", Data: ctl}, debtest.Member{Name: "data.tar", Data: data})
		m, err := u.Read(context.Background(), bytes.NewReader(b), "fuzz.deb")
		if err != nil {
			if strings.Contains(err.Error(), "\n") || !strings.HasPrefix(err.Error(), "package fz: fuzz.deb") {
				t.Fatalf("error not one line naming the package: %q", err)
			}
			return
		}
		seen := map[string]bool{}
		for _, e := range m.Entries {
			if seen[e.Path] || strings.HasPrefix(e.Path, "/") || strings.Contains("/"+e.Path+"/", "/../") {
				t.Fatalf("bad path %q in manifest", e.Path)
			}
			seen[e.Path] = true
			if e.Kind != fstree.Dir && !repo.HasObject(e.Object, ostreerepo.ObjFile) {
				t.Fatalf("%s: object %s not stored", e.Path, e.Object)
			}
		}
		if _, err := m.Tree(); err != nil {
			t.Fatalf("manifest does not make a tree: %v", err)
		}
	})
}
