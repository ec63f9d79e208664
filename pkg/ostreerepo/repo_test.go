package ostreerepo

import (
	"bytes"
	"context"
	"errors"
	"io"
	"io/fs"
	"os"
	"path/filepath"
	"strings"
	"sync"
	"testing"

	"golang.org/x/sys/unix"

	"github.com/debatom/debatom/pkg/fstree"
)

func newRepo(t testing.TB, mode Mode) *Repo {
	t.Helper()
	r, err := Create(filepath.Join(t.TempDir(), "repo"), mode)
	if err != nil {
		t.Fatal(err)
	}
	return r
}

// objectFiles lists objects/ as relative path -> bytes.
func objectFiles(t testing.TB, r *Repo) map[string]string {
	t.Helper()
	out := map[string]string{}
	root := filepath.Join(r.Dir(), "objects")
	err := filepath.WalkDir(root, func(p string, d fs.DirEntry, err error) error {
		if err != nil || d.IsDir() {
			return err
		}
		b, err := os.ReadFile(p)
		rel, _ := filepath.Rel(root, p)
		out[rel] = string(b)
		return err
	})
	if err != nil {
		t.Fatal(err)
	}
	return out
}

func tmpEntries(t testing.TB, r *Repo) []string {
	t.Helper()
	ents, err := os.ReadDir(filepath.Join(r.Dir(), "tmp"))
	if err != nil {
		t.Fatal(err)
	}
	var names []string
	for _, e := range ents {
		if e.Name() != "cache" {
			names = append(names, e.Name())
		}
	}
	return names
}

// TestConcurrentWrites stores the same and different content from many
// goroutines at once (run with -race): every writer gets the right
// checksum, each object exists once and verifies, and tmp/ ends empty.
func TestConcurrentWrites(t *testing.T) {
	for _, mode := range []Mode{ModeArchive, ModeBareUser} {
		t.Run(mode.String(), func(t *testing.T) {
			r := newRepo(t, mode)
			meta := fstree.Meta{Mode: 0o644}
			big := bytes.Repeat([]byte("0123456789abcdef"), smallFile/16+100) // streaming path
			payloads := [][]byte{[]byte("same"), big, []byte("other")}
			want := make([]string, len(payloads))
			for i, p := range payloads {
				c, err := FileChecksum(meta, bytes.NewReader(p))
				if err != nil {
					t.Fatal(err)
				}
				want[i] = c
			}
			var wg sync.WaitGroup
			errs := make(chan error, 64)
			for g := range 48 {
				wg.Add(1)
				go func() {
					defer wg.Done()
					i := g % len(payloads)
					c, err := r.WriteFile(meta, bytes.NewReader(payloads[i]), int64(len(payloads[i])))
					if err == nil && c != want[i] {
						err = errors.New("wrong checksum " + c)
					}
					if _, lerr := r.WriteSymlink(meta, "target"); err == nil {
						err = lerr
					}
					if err != nil {
						errs <- err
					}
				}()
			}
			wg.Wait()
			close(errs)
			for err := range errs {
				t.Error(err)
			}
			for _, c := range want {
				if err := r.VerifyFile(c); err != nil {
					t.Error(err)
				}
			}
			if n := len(objectFiles(t, r)); n != 4 {
				t.Errorf("%d objects, want 4", n)
			}
			if left := tmpEntries(t, r); len(left) != 0 {
				t.Errorf("tmp/ holds %v", left)
			}
		})
	}
}

type failingReader struct {
	data []byte
	err  error
}

func (f *failingReader) Read(p []byte) (int, error) {
	if len(f.data) == 0 {
		return 0, f.err
	}
	n := copy(p, f.data)
	f.data = f.data[n:]
	return n, nil
}

// TestInterruptedWrite: a payload that fails, or is shorter or longer
// than announced, yields an error and leaves neither an object nor a
// temporary file behind.
func TestInterruptedWrite(t *testing.T) {
	big := bytes.Repeat([]byte{7}, 2*smallFile)
	for _, tc := range []struct {
		name string
		r    io.Reader
		size int64
		want string
	}{
		{"read error small", &failingReader{[]byte("abc"), errors.New("disk on fire")}, 10, "disk on fire"},
		{"read error streaming", &failingReader{big[:smallFile+10], errors.New("disk on fire")}, int64(len(big)), "disk on fire"},
		{"short small", bytes.NewReader([]byte("abc")), 10, "EOF"},
		{"short streaming", bytes.NewReader(big[:smallFile+10]), int64(len(big)), "want"},
		{"long small", bytes.NewReader([]byte("abcdef")), 3, "longer"},
		{"long streaming", bytes.NewReader(big), smallFile + 1, "longer"},
	} {
		for _, mode := range []Mode{ModeArchive, ModeBareUser} {
			t.Run(tc.name+"/"+mode.String(), func(t *testing.T) {
				r := newRepo(t, mode)
				if rs, ok := tc.r.(*bytes.Reader); ok {
					rs.Seek(0, io.SeekStart)
				}
				_, err := r.WriteFile(fstree.Meta{Mode: 0o644}, tc.r, tc.size)
				if err == nil || !strings.Contains(err.Error(), tc.want) {
					t.Fatalf("error %v, want one mentioning %q", err, tc.want)
				}
				if objs := objectFiles(t, r); len(objs) != 0 {
					t.Errorf("objects left: %v", objs)
				}
				if left := tmpEntries(t, r); len(left) != 0 {
					t.Errorf("tmp/ holds %v", left)
				}
			})
		}
	}
}

// TestDeterministic commits the same tree into two fresh repositories:
// same commit, and byte-identical objects (compressed ones included).
func TestDeterministic(t *testing.T) {
	dir := t.TempDir()
	writeSynthetic(t, dir, syntheticTree(false)[:19])
	commit := func() (*Repo, string) {
		r := newRepo(t, ModeArchive)
		root, meta, err := r.WriteDir(context.Background(), dir)
		if err != nil {
			t.Fatal(err)
		}
		c, err := r.Commit(context.Background(), root, meta, CommitOptions{Subject: "s", Timestamp: testStamp, Ref: "x", Bindings: true})
		if err != nil {
			t.Fatal(err)
		}
		return r, c
	}
	r1, c1 := commit()
	r2, c2 := commit()
	if c1 != c2 {
		t.Fatalf("commits %s and %s", c1, c2)
	}
	o1, o2 := objectFiles(t, r1), objectFiles(t, r2)
	if len(o1) != len(o2) || len(o1) < 10 {
		t.Fatalf("%d vs %d objects", len(o1), len(o2))
	}
	for k, v := range o1 {
		if o2[k] != v {
			t.Errorf("object %s differs between runs", k)
		}
	}
}

// commitDir writes dir to r, commits it and checks the commit out,
// returning the root's dirtree and dirmeta checksums and the checkout.
func commitDir(t *testing.T, r *Repo, dir string) (root, meta string, tree *fstree.Tree) {
	t.Helper()
	ctx := context.Background()
	root, meta, err := r.WriteDir(ctx, dir)
	if err != nil {
		t.Fatal(err)
	}
	tree, err = r.Checkout(ctx, commit(t, r, root, meta))
	if err != nil {
		t.Fatal(err)
	}
	return root, meta, tree
}

// commit commits the tree root/meta at testStamp.
func commit(t *testing.T, r *Repo, root, meta string) string {
	t.Helper()
	c, err := r.Commit(context.Background(), root, meta, CommitOptions{Timestamp: testStamp})
	if err != nil {
		t.Fatal(err)
	}
	return c
}

// TestWriteTree checks the fstree path against the directory path: a
// checkout of a commit written back gives the same root; an owner change
// re-hashes from the stored payload; generated Data is stored.
func TestWriteTree(t *testing.T) {
	dir := t.TempDir()
	writeSynthetic(t, dir, syntheticTree(false)[:19])
	ctx := context.Background()
	for _, mode := range []Mode{ModeArchive, ModeBareUser} {
		t.Run(mode.String(), func(t *testing.T) {
			r := newRepo(t, mode)
			root, meta, tree := commitDir(t, r, dir)
			root2, meta2, err := r.WriteTree(ctx, tree)
			if err != nil {
				t.Fatal(err)
			}
			if root2 != root || meta2 != meta {
				t.Fatalf("WriteTree of the checkout gave %s/%s, want %s/%s", root2, meta2, root, meta)
			}

			e := tree.Get("small")
			e.Meta.UID, e.Meta.Mode = 1000, 0o600
			gen := []byte("generated\n")
			if err := tree.Put("etc/generated", &fstree.Entry{Kind: fstree.File, Meta: fstree.Meta{Mode: 0o644}, Data: gen, Size: int64(len(gen))}); err != nil {
				t.Fatal(err)
			}
			root3, meta3, err := r.WriteTree(ctx, tree)
			if err != nil {
				t.Fatal(err)
			}
			c3 := commit(t, r, root3, meta3)
			got := scanCommit(t, r, c3)
			wantSmall, _ := FileChecksum(e.Meta, strings.NewReader("hello\n"))
			back, err := r.Checkout(ctx, c3)
			if err != nil {
				t.Fatal(err)
			}
			if o := back.Get("small").Object; o != wantSmall {
				t.Errorf("re-owned file stored as %s, want %s", o, wantSmall)
			}
			if !strings.Contains(got["small"], "600 1000:0") {
				t.Errorf("small: %s", got["small"])
			}
			if g := back.Get("etc/generated"); g == nil || g.Size != int64(len(gen)) {
				t.Errorf("generated file: %+v", g)
			}
			if err := r.VerifyFile(wantSmall); err != nil {
				t.Error(err)
			}
		})
	}
}

// TestCorruptObjects: damaged objects are reported, naming the object.
func TestCorruptObjects(t *testing.T) {
	dir := t.TempDir()
	writeSynthetic(t, dir, syntheticTree(false)[:8])
	r := newRepo(t, ModeArchive)
	root, _, tree := commitDir(t, r, dir)
	big := tree.Get("big").Object
	p := r.objectPath(big, ObjFile)
	data, _ := os.ReadFile(p)
	os.WriteFile(p, data[:len(data)/2], 0o644)
	rc, _, err := r.OpenFile(big)
	if err != nil {
		t.Fatal(err)
	}
	_, err = io.Copy(io.Discard, rc)
	rc.Close()
	if err == nil {
		t.Error("reading a truncated archive object succeeded")
	}
	if err := r.VerifyFile(big); err == nil {
		t.Error("VerifyFile accepted a truncated object")
	}

	small := tree.Get("small").Object
	p = r.objectPath(small, ObjFile)
	data, _ = os.ReadFile(p)
	data[len(data)-3] ^= 0xff
	os.WriteFile(p, data, 0o644)
	if err := r.VerifyFile(small); err == nil || !strings.Contains(err.Error(), small) {
		t.Errorf("VerifyFile of a flipped byte: %v", err)
	}

	p = r.objectPath(root, ObjDirTree)
	data, _ = os.ReadFile(p)
	data[0] ^= 1
	os.WriteFile(p, data, 0o644)
	if _, err := r.ReadDirTree(root); err == nil || !strings.Contains(err.Error(), "corrupt") {
		t.Errorf("ReadDirTree of a damaged object: %v", err)
	}
}

func TestOpenBad(t *testing.T) {
	for _, tc := range []struct{ name, config, want string }{
		{"no config", "", "no such file"},
		{"bad version", "[core]\nrepo_version=2\nmode=bare\n", "repo_version"},
		{"bad mode", "[core]\nrepo_version=1\nmode=zip\n", "unsupported mode"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			dir := t.TempDir()
			if tc.config != "" {
				os.WriteFile(filepath.Join(dir, "config"), []byte(tc.config), 0o644)
			}
			_, err := Open(dir)
			if err == nil || !strings.Contains(err.Error(), tc.want) {
				t.Fatalf("Open: %v, want %q", err, tc.want)
			}
		})
	}
	r := newRepo(t, ModeArchive)
	if _, err := Create(r.Dir(), ModeBareUser); err == nil {
		t.Error("Create with another mode over an existing repo succeeded")
	}
	for _, ref := range []string{"", "/abs", "a/../b", "a//b", "sp ace", "trail/"} {
		if err := r.SetRef(ref, strings.Repeat("a", 64)); err == nil {
			t.Errorf("SetRef(%q) succeeded", ref)
		}
	}
	if _, err := r.ResolveRef("missing"); !errors.Is(err, fs.ErrNotExist) {
		t.Errorf("ResolveRef(missing): %v", err)
	}
}

// TestParseBad feeds hostile bytes to every object parser.
func TestParseBad(t *testing.T) {
	okTree, _ := (&DirTree{Files: []DirTreeFile{{"a", strings.Repeat("0", 64)}}}).Bytes()
	badName := bytes.Replace(okTree, []byte("a\x00"), []byte("/\x00"), 1)
	shortSum := append([]byte("a\x00"), make([]byte, 5)...)
	shortSum = append(shortSum, 2, 1)
	for _, tc := range []struct {
		name  string
		parse func([]byte) error
		data  []byte
		want  string
	}{
		{"empty commit", func(b []byte) error { _, err := ParseCommit(b); return err }, nil, "commit"},
		{"garbage commit", func(b []byte) error { _, err := ParseCommit(b); return err }, []byte("\xff\xff\xff\xff"), "commit"},
		{"dirtree slash name", func(b []byte) error { _, err := ParseDirTree(b); return err }, badName, "invalid file name"},
		{"dirtree short checksum", func(b []byte) error { _, err := ParseDirTree(b); return err }, append(shortSum, 0), "dirtree"},
		{"dirmeta not a dir", func(b []byte) error { _, err := ParseDirMeta(b); return err }, []byte("\x00\x00\x00\x00\x00\x00\x00\x00\x00\x00\x81\xa4"), "not a directory"},
		{"filez header device", func(b []byte) error { _, err := ParseFilezHeader(b); return err }, mustFilez(t, 0o020644), "unsupported file mode"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			err := tc.parse(tc.data)
			if err == nil || !strings.Contains(err.Error(), tc.want) || strings.Contains(err.Error(), "\n") {
				t.Fatalf("error %v, want one line mentioning %q", err, tc.want)
			}
		})
	}
}

func mustFilez(t *testing.T, mode uint32) []byte {
	h, err := filezHeader(fstree.Meta{Mode: mode & 0o7777}, mode&sIFMT, "", 0)
	if err != nil {
		t.Fatal(err)
	}
	return h
}

func FuzzParseObjects(f *testing.F) {
	files, _ := filepath.Glob("../gvariant/testdata/*-*")
	for _, p := range files {
		if b, err := os.ReadFile(p); err == nil && len(b) < 4096 {
			f.Add(b)
		}
	}
	f.Fuzz(func(t *testing.T, data []byte) {
		// None may panic; what parses must serialize back to a value that
		// parses the same.
		if c, err := ParseCommit(data); err == nil {
			if b, err := c.Bytes(); err == nil {
				if _, err := ParseCommit(b); err != nil {
					t.Fatalf("re-parse commit: %v", err)
				}
			}
		}
		if d, err := ParseDirTree(data); err == nil {
			if _, err := d.Bytes(); err != nil {
				t.Fatalf("re-encode dirtree: %v", err)
			}
		}
		if m, err := ParseDirMeta(data); err == nil {
			if _, err := DirMetaBytes(m.Meta); err != nil && !strings.Contains(err.Error(), "xattr") {
				t.Fatalf("re-encode dirmeta: %v", err)
			}
		}
		ParseFilezHeader(data)
		readFilezHeader(bytes.NewReader(data))
	})
}

func BenchmarkWriteFile(b *testing.B) {
	payload := bytes.Repeat([]byte("debatom benchmark payload, moderately compressible. "), 1300) // ~64 KiB
	for _, mode := range []Mode{ModeArchive, ModeBareUser} {
		b.Run(mode.String(), func(b *testing.B) {
			r := newRepo(b, mode)
			b.SetBytes(int64(len(payload)))
			i := uint32(0)
			for b.Loop() {
				i++
				// A distinct uid per iteration makes each object new.
				if _, err := r.WriteFile(fstree.Meta{Mode: 0o644, UID: i}, bytes.NewReader(payload), int64(len(payload))); err != nil {
					b.Fatal(err)
				}
			}
		})
	}
}

func BenchmarkWriteDir(b *testing.B) {
	dir := b.TempDir()
	writeSynthetic(b, dir, syntheticTree(false))
	for _, mode := range []Mode{ModeArchive, ModeBareUser} {
		b.Run(mode.String(), func(b *testing.B) {
			for b.Loop() {
				r := newRepo(b, mode)
				if _, _, err := r.WriteDir(context.Background(), dir); err != nil {
					b.Fatal(err)
				}
			}
		})
	}
}

// TestCompressionLevel: the level changes object bytes, never checksums.
func TestCompressionLevel(t *testing.T) {
	payload := bytes.Repeat([]byte("compress me, compress me well. "), 4000)
	var sums []string
	var sizes []int64
	for _, level := range []int{1, 9} {
		r := newRepo(t, ModeArchive)
		if err := r.SetCompressionLevel(level); err != nil {
			t.Fatal(err)
		}
		c, err := r.WriteFile(fstree.Meta{Mode: 0o644}, bytes.NewReader(payload), int64(len(payload)))
		if err != nil {
			t.Fatal(err)
		}
		if err := r.VerifyFile(c); err != nil {
			t.Fatal(err)
		}
		st, err := os.Stat(r.objectPath(c, ObjFile))
		if err != nil {
			t.Fatal(err)
		}
		sums, sizes = append(sums, c), append(sizes, st.Size())
	}
	if sums[0] != sums[1] {
		t.Errorf("checksums differ by level: %v", sums)
	}
	if sizes[1] > sizes[0] {
		t.Errorf("level 9 object (%d bytes) larger than level 1 (%d)", sizes[1], sizes[0])
	}
	if err := newRepo(t, ModeArchive).SetCompressionLevel(0); err == nil {
		t.Error("level 0 accepted")
	}
}

// TestWriteDirRefuses: what OSTree cannot store is a clear error naming
// the path, not a silently different tree.
func TestWriteDirRefuses(t *testing.T) {
	for _, tc := range []struct {
		name string
		make func(dir string) error
		want string
	}{
		{"fifo", func(dir string) error { return unix.Mkfifo(filepath.Join(dir, "pipe"), 0o644) }, "pipe: unsupported file type"},
		{"non-UTF-8 name", func(dir string) error { return os.WriteFile(filepath.Join(dir, "bad\xffname"), nil, 0o644) }, "not valid UTF-8"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			dir := t.TempDir()
			if err := tc.make(dir); err != nil {
				t.Fatal(err)
			}
			_, _, err := newRepo(t, ModeArchive).WriteDir(context.Background(), dir)
			if err == nil || !strings.Contains(err.Error(), tc.want) {
				t.Fatalf("error %v, want %q", err, tc.want)
			}
		})
	}
}
