package ostreerepo

import (
	"bytes"
	"context"
	"io"
	"math/rand/v2"
	"os"
	"path/filepath"
	"strings"
	"sync"
	"testing"

	"github.com/klauspost/compress/flate"

	"github.com/debatom/debatom/pkg/fstree"
)

// randomBytes is n bytes deflate cannot shrink.
func randomBytes(seed uint64, n int) []byte {
	rng := rand.New(rand.NewPCG(seed, 7))
	b := make([]byte, n)
	for i := range b {
		b[i] = byte(rng.Uint32())
	}
	return b
}

// storedCases are payloads that must be stored, and compressible ones
// that must not be, around the 65535-byte block limit and the small-file
// and probe sizes.
func storedCases() []struct {
	name   string
	data   []byte
	stored bool
} {
	xz := append([]byte("\xfd7zXZ\x00"), bytes.Repeat([]byte("aaaa"), 3000)...) // compressible, but xz
	return []struct {
		name   string
		data   []byte
		stored bool
	}{
		{"text", bytes.Repeat([]byte("hello, world\n"), 500), false},
		{"text-big", bytes.Repeat([]byte("hello, big world\n"), 40000), false},
		{"xz-magic", xz, true},
		{"zstd-magic-big", append([]byte("\x28\xb5\x2f\xfd"), randomBytes(1, smallFile+5)...), true},
		{"gzip-magic", append([]byte("\x1f\x8b"), randomBytes(2, 100)...), true},
		{"random-tiny", randomBytes(3, 40), true},
		{"random-65535", randomBytes(4, maxStored), true},
		{"random-65536", randomBytes(5, maxStored+1), true},
		{"random-2blocks", randomBytes(6, 2*maxStored), true},
		{"random-big", randomBytes(7, 3*smallFile+11), true},
		// Big, compressible after an incompressible probe: the probe
		// decides, and the result must still read back right.
		{"random-probe-then-text", append(randomBytes(8, probeSize), bytes.Repeat([]byte("z"), smallFile)...), true},
	}
}

// TestStoredPayloads: incompressible payloads are written as stored
// deflate blocks (the object is header + payload + 5 bytes per block),
// compressible ones are deflated, and both read back and verify.
func TestStoredPayloads(t *testing.T) {
	r := newRepo(t, ModeArchive)
	meta := fstree.Meta{Mode: 0o644}
	for _, c := range storedCases() {
		t.Run(c.name, func(t *testing.T) {
			csum, err := r.WriteFile(meta, bytes.NewReader(c.data), int64(len(c.data)))
			if err != nil {
				t.Fatal(err)
			}
			want, _ := FileChecksum(meta, bytes.NewReader(c.data))
			if csum != want {
				t.Fatalf("checksum %s, want %s", csum, want)
			}
			hdr, _ := filezHeader(meta, sIFREG, "", uint64(len(c.data)))
			st, err := os.Stat(r.objectPath(csum, ObjFile))
			if err != nil {
				t.Fatal(err)
			}
			storedLen := int64(len(sizedPrefix(hdr))) + storedSize(int64(len(c.data)))
			if c.stored && st.Size() != storedLen {
				t.Errorf("object is %d bytes, want %d (stored)", st.Size(), storedLen)
			}
			if !c.stored && st.Size() >= int64(len(c.data)) {
				t.Errorf("compressible payload of %d bytes stored in %d", len(c.data), st.Size())
			}
			rc, fi, err := r.OpenFile(csum)
			if err != nil {
				t.Fatal(err)
			}
			got, err := io.ReadAll(rc)
			rc.Close()
			if err != nil || !bytes.Equal(got, c.data) || fi.Size != int64(len(c.data)) {
				t.Fatalf("read back %d bytes (size %d), %v; want %d", len(got), fi.Size, err, len(c.data))
			}
			// An independent inflater reads the stream too.
			raw, _ := os.ReadFile(r.objectPath(csum, ObjFile))
			dec, err := io.ReadAll(flate.NewReader(bytes.NewReader(raw[len(sizedPrefix(hdr)):])))
			if err != nil || !bytes.Equal(dec, c.data) {
				t.Fatalf("inflate of the object: %d bytes, %v", len(dec), err)
			}
			if err := r.VerifyFile(csum); err != nil {
				t.Fatal(err)
			}
		})
	}
}

// TestStoredPayloadsOstree: libostree reads stored objects: `ostree fsck`
// passes and `ostree checkout` reproduces every file.
func TestStoredPayloadsOstree(t *testing.T) {
	dir := t.TempDir()
	for _, c := range storedCases() {
		if err := os.WriteFile(filepath.Join(dir, c.name), c.data, 0o644); err != nil {
			t.Fatal(err)
		}
	}
	want := scanDisk(t, dir)
	r := newRepo(t, ModeArchive)
	ctx := context.Background()
	root, meta, err := r.WriteDir(ctx, dir)
	if err != nil {
		t.Fatal(err)
	}
	c, err := r.Commit(ctx, root, meta, CommitOptions{Timestamp: testStamp, Ref: "debatom/test"})
	if err != nil {
		t.Fatal(err)
	}
	runOstree(t, "fsck", "--repo="+r.Dir())
	out := filepath.Join(t.TempDir(), "co")
	runOstree(t, "checkout", "--repo="+r.Dir(), "-U", c, out)
	for _, sc := range storedCases() {
		got, err := os.ReadFile(filepath.Join(out, sc.name))
		if err != nil || !bytes.Equal(got, sc.data) {
			t.Errorf("checkout of %s: %d bytes, %v; want %d", sc.name, len(got), err, len(sc.data))
		}
	}
	if os.Geteuid() == 0 {
		out := filepath.Join(t.TempDir(), "co-root")
		runOstree(t, "checkout", "--repo="+r.Dir(), c, out)
		diffMaps(t, "checkout", scanDisk(t, out), want)
	}
}

// TestTmpfileFallback: with O_TMPFILE unavailable, objects are written to
// tmp/ and renamed, in every mode, and nothing is left in tmp/.
func TestTmpfileFallback(t *testing.T) {
	modes := []Mode{ModeArchive, ModeBareUser}
	if os.Geteuid() == 0 {
		modes = append(modes, ModeBare)
	}
	for _, mode := range modes {
		t.Run(mode.String(), func(t *testing.T) {
			for _, fallback := range []bool{false, true} {
				r := newRepo(t, mode)
				r.tmpfileOnce.Do(func() {}) // no probe
				r.noTmpfile.Store(fallback)
				meta := fstree.Meta{Mode: 0o4755, UID: 0, GID: 0, Xattrs: []fstree.Xattr{{Name: "user.a", Value: []byte("b")}}}
				big := bytes.Repeat([]byte("streaming "), smallFile/5)
				var sums []string
				for _, p := range [][]byte{[]byte("small"), big} {
					c, err := r.WriteFile(meta, bytes.NewReader(p), int64(len(p)))
					if err != nil {
						t.Fatal(err)
					}
					sums = append(sums, c)
				}
				c, err := r.WriteSymlink(fstree.Meta{Mode: 0o777}, "target")
				if err != nil {
					t.Fatal(err)
				}
				sums = append(sums, c)
				if _, err := r.WriteDirMeta(fstree.Meta{Mode: 0o755}); err != nil {
					t.Fatal(err)
				}
				for _, c := range sums {
					if err := r.VerifyFile(c); err != nil {
						t.Errorf("fallback %v: %v", fallback, err)
					}
				}
				if n := countObjects(t, r); n != 4 {
					t.Errorf("fallback %v: %d objects, want 4", fallback, n)
				}
				if left := tmpEntries(t, r); len(left) != 0 {
					t.Errorf("fallback %v: tmp/ holds %v", fallback, left)
				}
			}
		})
	}
}

// TestBareUserObjectMeta: a bare-user object has its metadata xattr,
// permissions and zero mtime when it appears.
func TestBareUserObjectMeta(t *testing.T) {
	r := newRepo(t, ModeBareUser)
	meta := fstree.Meta{Mode: 0o4750, UID: 7, GID: 8}
	c, err := r.WriteFile(meta, strings.NewReader("x"), 1)
	if err != nil {
		t.Fatal(err)
	}
	st, err := os.Stat(r.objectPath(c, ObjFile))
	if err != nil {
		t.Fatal(err)
	}
	if st.Mode().Perm() != 0o750 || st.Mode()&os.ModeSetuid != 0 || st.ModTime().Unix() != 0 {
		t.Errorf("object mode %v mtime %v", st.Mode(), st.ModTime())
	}
	_, fi, err := r.OpenFile(c)
	if err != nil {
		t.Fatal(err)
	}
	if fi.Meta.UID != 7 || fi.Meta.GID != 8 || fi.Meta.Mode != 0o4750 {
		t.Errorf("metadata %+v", fi.Meta)
	}
}

// TestOpenFilePooled reads many objects from several goroutines at once,
// each reader half-read before the next opens, so pooled inflaters and
// buffers that were shared would show as wrong content (run with -race).
// A closed reader refuses to read.
func TestOpenFilePooled(t *testing.T) {
	r := newRepo(t, ModeArchive)
	meta := fstree.Meta{Mode: 0o644}
	var payloads [][]byte
	var sums []string
	for i := range 12 {
		p := bytes.Repeat([]byte{byte('a' + i), byte(i)}, 1000*(i+1)*(i+1))
		if i%3 == 0 {
			p = randomBytes(uint64(i), 5000*(i+1))
		}
		c, err := r.WriteFile(meta, bytes.NewReader(p), int64(len(p)))
		if err != nil {
			t.Fatal(err)
		}
		payloads, sums = append(payloads, p), append(sums, c)
	}
	var wg sync.WaitGroup
	for g := range 4 {
		wg.Add(1)
		go func() {
			defer wg.Done()
			for round := range 5 {
				var open []io.ReadCloser
				var got [][]byte
				for i := range sums {
					rc, _, err := r.OpenFile(sums[i])
					if err != nil {
						t.Error(err)
						return
					}
					b := make([]byte, len(payloads[i])/2)
					io.ReadFull(rc, b)
					open, got = append(open, rc), append(got, b)
				}
				for i, rc := range open {
					rest, err := io.ReadAll(rc)
					rc.Close()
					if err != nil || !bytes.Equal(append(got[i], rest...), payloads[i]) {
						t.Errorf("goroutine %d round %d object %d: wrong content, %v", g, round, i, err)
					}
				}
			}
		}()
	}
	wg.Wait()
	rc, _, err := r.OpenFile(sums[1])
	if err != nil {
		t.Fatal(err)
	}
	rc.Close()
	if _, err := rc.Read(make([]byte, 1)); err == nil {
		t.Error("read after Close succeeded")
	}
	if err := rc.Close(); err != nil {
		t.Errorf("second Close: %v", err)
	}
}

func TestStoredWriter(t *testing.T) {
	// Writing more than announced is an error, not a longer stream.
	var out bytes.Buffer
	sw := storedWriter{w: &out, left: 3}
	if _, err := sw.Write([]byte("abcd")); err == nil {
		t.Error("overlong write accepted")
	}
	out.Reset()
	appendStored(&out, []byte("abc"))
	if want := "\x01\x03\x00\xfc\xffabc"; out.String() != want {
		t.Errorf("stored block %q, want %q", out.String(), want)
	}
}

// countObjects counts the entries under objects/xx (bare symlinks
// included, which objectFiles cannot read).
func countObjects(t testing.TB, r *Repo) int {
	t.Helper()
	objs, err := filepath.Glob(filepath.Join(r.Dir(), "objects", "*", "*"))
	if err != nil {
		t.Fatal(err)
	}
	return len(objs)
}
