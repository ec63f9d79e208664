package unpack

import (
	"bytes"
	"context"
	"strings"
	"sync"
	"testing"

	"github.com/debatom/debatom/pkg/deb/debtest"
	"github.com/debatom/debatom/pkg/ostreerepo"
)

// observed collects what Options.Observed was given.
type observed struct {
	mu    sync.Mutex
	asked []string
	got   map[string]observation
}

type observation struct {
	object string
	data   []byte
}

func (o *observed) options(w Options) Options {
	w.Observe = func(p string) bool {
		o.mu.Lock()
		defer o.mu.Unlock()
		o.asked = append(o.asked, p)
		return strings.HasPrefix(p, "usr/lib/")
	}
	w.Observed = func(p, object string, data []byte) {
		o.mu.Lock()
		defer o.mu.Unlock()
		if _, dup := o.got[p]; dup {
			panic("observed twice: " + p)
		}
		o.got[p] = observation{object, bytes.Clone(data)}
	}
	return w
}

// TestObserve: the files Observe selects reach Observed with the bytes and
// the object checksum the manifest records, small and streamed alike; the
// others, hardlinks, symlinks, files over MaxObservedSize and packages
// taken from the cache do not.
func TestObserve(t *testing.T) {
	big := strings.Repeat("0123456789abcdef", 40000) // above ostreerepo's small-file buffer
	huge := strings.Repeat("\x00", MaxObservedSize+1)
	data := []debtest.Entry{
		debtest.Dir("./", 0o755),
		debtest.Dir("./usr/", 0o755),
		debtest.Dir("./usr/lib/", 0o755),
		debtest.File("./usr/lib/libsmall.so.1", 0o644, "small library"),
		debtest.File("./usr/lib/libbig.so.2", 0o644, big),
		debtest.File("./usr/lib/libhuge.so.3", 0o644, huge),
		debtest.Hardlink("./usr/lib/libsame.so.1", "./usr/lib/libsmall.so.1"),
		debtest.Symlink("./usr/lib/liblink.so", "libsmall.so.1"),
		debtest.File("./usr/other", 0o644, "not selected"),
	}
	deb := writeDeb(t, "test.deb", debtest.Build(debtest.Package{Data: data, Comp: "gzip"}))
	for _, mode := range []ostreerepo.Mode{ostreerepo.ModeArchive, ostreerepo.ModeBareUser} {
		t.Run(mode.String(), func(t *testing.T) {
			repo, cache := newRepo(t, mode), t.TempDir()
			o := &observed{got: map[string]observation{}}
			u := New(repo, o.options(Options{CacheDir: cache}))
			r, err := u.Unpack(context.Background(), Input{Path: deb})
			if err != nil {
				t.Fatal(err)
			}
			if want := []string{"usr/lib/libsmall.so.1", "usr/lib/libbig.so.2", "usr/other"}; strings.Join(o.asked, " ") != strings.Join(want, " ") {
				t.Errorf("Observe asked about %q, want %q (regular files within the size bound)", o.asked, want)
			}
			objects := map[string]string{}
			for _, e := range r.Manifest.Entries {
				objects[e.Path] = e.Object
			}
			for p, want := range map[string]string{"usr/lib/libsmall.so.1": "small library", "usr/lib/libbig.so.2": big} {
				got, ok := o.got[p]
				if !ok {
					t.Errorf("%s not observed", p)
					continue
				}
				if got.object != objects[p] || string(got.data) != want {
					t.Errorf("%s: observed object %s with %d bytes, manifest has %s, want %d bytes", p, got.object, len(got.data), objects[p], len(want))
				}
				if stored, _ := readObject(t, repo, got.object); !bytes.Equal(stored, got.data) {
					t.Errorf("%s: stored object differs from the observed bytes", p)
				}
			}
			if len(o.got) != 2 {
				t.Errorf("observed %d files, want 2", len(o.got))
			}
			if stored, _ := readObject(t, repo, objects["usr/lib/libhuge.so.3"]); len(stored) != len(huge) {
				t.Errorf("the unobserved huge file was stored with %d bytes", len(stored))
			}
			// From the cache nothing is decompressed, so nothing observed.
			o.got, o.asked = map[string]observation{}, nil
			r, err = New(repo, o.options(Options{CacheDir: cache})).Unpack(context.Background(), Input{Path: deb})
			if err != nil || !r.Cached || len(o.asked) != 0 || len(o.got) != 0 {
				t.Errorf("cached unpack: cached %v, asked %q, observed %d, err %v", r != nil && r.Cached, o.asked, len(o.got), err)
			}
		})
	}
}

// TestObserveNeedsBoth: Observe alone (no Observed) selects nothing and
// costs nothing.
func TestObserveNeedsBoth(t *testing.T) {
	deb := debtest.Build(debtest.Package{Data: []debtest.Entry{debtest.Dir("./", 0o755), debtest.File("./a", 0o644, "a")}, Comp: "gzip"})
	asked := 0
	u := New(newRepo(t, ostreerepo.ModeArchive), Options{Observe: func(string) bool { asked++; return true }})
	if _, err := u.Read(context.Background(), bytes.NewReader(deb), "test.deb"); err != nil {
		t.Fatal(err)
	}
	if asked != 0 {
		t.Errorf("Observe called %d times without Observed", asked)
	}
}

// BenchmarkObserve unpacks a package holding one 8 MiB library-sized file
// with and without observing it, to show what reading it whole into a
// buffer first costs beside streaming it.
func BenchmarkObserve(b *testing.B) {
	var lib strings.Builder
	for i := 0; lib.Len() < 8<<20; i++ {
		lib.WriteString(strings.Repeat(string(rune('a'+i%26)), 1+i%97))
	}
	deb := debtest.Build(debtest.Package{Comp: "gzip", Data: []debtest.Entry{
		debtest.Dir("./", 0o755), debtest.Dir("./usr/", 0o755), debtest.Dir("./usr/lib/", 0o755),
		debtest.File("./usr/lib/libbig.so.1", 0o644, lib.String()),
	}})
	for _, observe := range []bool{false, true} {
		name := "stream"
		if observe {
			name = "observe"
		}
		b.Run(name, func(b *testing.B) {
			var opts Options
			var n int
			if observe {
				opts.Observe = func(string) bool { return true }
				opts.Observed = func(_, _ string, data []byte) { n += len(data) }
			}
			u := New(newRepo(b, ostreerepo.ModeArchive), opts)
			b.SetBytes(int64(lib.Len()))
			for b.Loop() {
				if _, err := u.Read(context.Background(), bytes.NewReader(deb), "bench.deb"); err != nil {
					b.Fatal(err)
				}
			}
			if observe && n == 0 {
				b.Fatal("nothing observed")
			}
		})
	}
}
