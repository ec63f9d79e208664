package apt

import (
	"bytes"
	"context"
	"errors"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"
)

func TestLockRoundTripAndDrift(t *testing.T) {
	r := newTestRepo(t)
	cache := t.TempDir()
	ix, err := LoadIndex(context.Background(), []Source{r.source()}, Options{CacheDir: cache})
	if err != nil {
		t.Fatal(err)
	}
	// Given in reverse, written sorted: the same set gives the same bytes.
	pkgs := []*Package{ix.Packages[2], ix.Packages[0]}
	l := NewLock(ix, pkgs, "amd64")
	b1, err := l.Marshal()
	if err != nil {
		t.Fatal(err)
	}
	b2, _ := NewLock(ix, []*Package{ix.Packages[0], ix.Packages[2]}, "amd64").Marshal()
	if !bytes.Equal(b1, b2) {
		t.Fatal("lock bytes depend on input order")
	}
	// The source records what its Release said it is, for an offline
	// build to know which release an alias suite was.
	if s := l.Sources[0]; s.Release == nil || *s.Release != (LockedRelease{Codename: "trixie"}) ||
		s.Date != "2026-11-21T09:15:44Z" || !s.ReleaseDate().Equal(time.Date(2026, 11, 21, 9, 15, 44, 0, time.UTC)) {
		t.Errorf("locked source %+v (release %+v)", s, s.Release)
	}
	if !bytes.Contains(b1, []byte(`"release": {
        "codename": "trixie"
      },`)) {
		t.Errorf("lock JSON lacks the Release:\n%s", b1)
	}
	path := filepath.Join(t.TempDir(), "debatom.lock")
	if err := l.WriteFile(path); err != nil {
		t.Fatal(err)
	}
	back, err := ReadLock(path)
	if err != nil {
		t.Fatal(err)
	}
	if b3, _ := back.Marshal(); !bytes.Equal(b1, b3) {
		t.Fatalf("read back differs:\n%s\n%s", b1, b3)
	}
	got, err := back.Check(ix)
	if err != nil {
		t.Fatal(err)
	}
	if len(got) != 2 || got[0].Name != "alpha" || got[1].Name != "gamma" {
		t.Fatalf("Check returned %v", got)
	}
	// The index moves on: gamma gets a new version, alpha a new hash.
	back.Packages[1].Version = "1.1-1"
	back.Packages[0].SHA256 = strings.Repeat("a", 64)
	_, err = back.Check(ix)
	if !errors.Is(err, ErrDrift) {
		t.Fatalf("error %v, want drift", err)
	}
	for _, want := range []string{"package gamma: lock says 1.1-1, index has 1.2-1", "package alpha 1.0-1: lock says SHA256 aaaa"} {
		if !strings.Contains(err.Error(), want) {
			t.Errorf("drift error %q lacks %q", err, want)
		}
	}
}

func TestParseLockBad(t *testing.T) {
	good := `{"version":1,"arch":"amd64","sources":[{"url":"file:///m","suite":"trixie","components":["main"],"inrelease_sha256":"x"}],"packages":[` +
		`{"name":"a","version":"1","architecture":"all","size":1,"sha256":"` + strings.Repeat("0", 64) + `","filename":"pool/a.deb","origin":"file:///m trixie/main"}]}`
	// good is a lock from before sources recorded their Release: still
	// read, with the Release unknown (nil), not empty.
	if l, err := ParseLock([]byte(good), "good.lock"); err != nil || l.Sources[0].Release != nil || !l.Sources[0].ReleaseDate().IsZero() {
		t.Fatalf("%+v, %v", l, err)
	}
	withRelease := strings.Replace(good, `"inrelease_sha256"`, `"date":"2026-11-21T09:15:44Z","release":{"codename":"trixie","version":"13.2"},"inrelease_sha256"`, 1)
	if l, err := ParseLock([]byte(withRelease), "good.lock"); err != nil || l.Sources[0].Release == nil ||
		*l.Sources[0].Release != (LockedRelease{Codename: "trixie", Version: "13.2"}) || l.Sources[0].ReleaseDate().Unix() != 1795252544 {
		t.Fatalf("%+v, %v", l, err)
	}
	tests := []struct{ name, edit, want string }{
		{"not json", "{", "lockfile bad.lock: unexpected EOF"},
		{"version", strings.Replace(good, `"version":1`, `"version":7`, 1), "lockfile bad.lock: version 7, this debatom reads version 1"},
		{"unknown field", strings.Replace(good, `"arch"`, `"arhc"`, 1), `lockfile bad.lock: json: unknown field "arhc"`},
		{"bad hash", strings.Replace(good, strings.Repeat("0", 64), "zz", 1), `lockfile bad.lock: package a 1 all: bad sha256 "zz"`},
		{"bad date", strings.Replace(good, `"inrelease_sha256"`, `"date":"Sat, 21 Nov 2026","inrelease_sha256"`, 1), `lockfile bad.lock: source "file:///m": bad date "Sat, 21 Nov 2026"`},
		{"unknown release field", strings.Replace(withRelease, `"codename"`, `"codenam"`, 1), `lockfile bad.lock: json: unknown field "codenam"`},
		{"no sources", strings.Replace(good, `"sources":[{"url":"file:///m","suite":"trixie","components":["main"],"inrelease_sha256":"x"}]`, `"sources":[]`, 1), "lockfile bad.lock: no sources"},
		{"twice", strings.Replace(good, `}]}`, `},{"name":"a","version":"2","architecture":"all","size":1,"sha256":"`+strings.Repeat("0", 64)+`","filename":"pool/a.deb","origin":"o"}]}`, 1), "lockfile bad.lock: package a all is listed twice"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			_, err := ParseLock([]byte(tt.edit), "bad.lock")
			if err == nil || err.Error() != tt.want {
				t.Fatalf("error %v, want %q", err, tt.want)
			}
		})
	}
}

func FuzzParseLock(f *testing.F) {
	f.Add([]byte(`{"version":1,"arch":"amd64","sources":[{"url":"u","suite":"s","components":["c"],"inrelease_sha256":""}],"packages":[]}`))
	f.Fuzz(func(t *testing.T, data []byte) {
		l, err := ParseLock(data, "fuzz")
		if err != nil {
			return
		}
		b, err := l.Marshal()
		if err != nil {
			t.Fatal(err)
		}
		if _, err := ParseLock(b, "again"); err != nil {
			t.Fatalf("a lock that parsed does not parse after writing: %v", err)
		}
	})
}

// TestMirrorRoundTrip writes a mirror bundle for a lock and builds from it
// over file://: the InRelease still verifies and every locked package is
// fetched from the bundle.
func TestMirrorRoundTrip(t *testing.T) {
	r := newTestRepo(t)
	cache := t.TempDir()
	ix, err := LoadIndex(context.Background(), []Source{r.source()}, Options{CacheDir: cache})
	if err != nil {
		t.Fatal(err)
	}
	l := NewLock(ix, ix.Packages[:2], "amd64")
	dir := t.TempDir()
	f := &Fetcher{CacheDir: cache}
	if err := WriteMirror(context.Background(), ix, l, f, dir, Options{}); err != nil {
		t.Fatal(err)
	}
	src := r.source()
	src.URL = "file://" + dir
	ix2, err := LoadIndex(context.Background(), []Source{src}, Options{}) // no cache: really parse the bundle
	if err != nil {
		t.Fatal(err)
	}
	if len(ix2.Packages) != 3 || !bytes.Equal(ix2.Sources[0].InRelease, ix.Sources[0].InRelease) {
		t.Fatal("bundle index differs from the original")
	}
	for _, lp := range l.Packages {
		data, err := os.ReadFile(filepath.Join(dir, lp.Filename))
		if err != nil || sha256Hex(data) != lp.SHA256 {
			t.Fatalf("%s: %v", lp.ID(), err)
		}
	}
	if _, err := os.Stat(filepath.Join(dir, "pool/main/g")); err == nil {
		t.Fatal("bundle holds gamma, which is not locked")
	}
	// The lock holds against the bundle's index: same versions and hashes,
	// served from another place.
	got, err := l.Check(ix2)
	if err != nil {
		t.Fatal(err)
	}
	if len(got) != 2 || OriginURL(got[0].Origin) != src.URL {
		t.Fatalf("Check against the bundle gave %v", got)
	}
}
