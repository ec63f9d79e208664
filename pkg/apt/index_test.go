package apt

import (
	"context"
	"crypto"
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/ProtonMail/go-crypto/openpgp"
	"github.com/ProtonMail/go-crypto/openpgp/packet"
)

func TestLoadIndexHTTP(t *testing.T) {
	r := newTestRepo(t)
	cache := t.TempDir()
	ix, err := LoadIndex(context.Background(), []Source{r.source()}, Options{CacheDir: cache})
	if err != nil {
		t.Fatal(err)
	}
	if len(ix.Packages) != 3 || ix.Packages[1].Name != "beta" || ix.Packages[1].Origin != r.srv.URL+" trixie/main" {
		t.Fatalf("packages %+v", ix.Packages)
	}
	// zst is not listed, so xz is preferred over gz; by-hash is tried first
	// and falls back to the plain path.
	if f := ix.Sources[0].Files[0]; f.Path != "main/binary-amd64/Packages.xz" {
		t.Fatalf("read %s", f.Path)
	}
	// A warm run takes the index from the cache: only InRelease is fetched.
	before := r.hits.Load()
	if _, err := LoadIndex(context.Background(), []Source{r.source()}, Options{CacheDir: cache}); err != nil {
		t.Fatal(err)
	}
	if n := r.hits.Load() - before; n != 1 {
		t.Fatalf("warm run made %d requests, want 1 (InRelease)", n)
	}
}

func TestLoadIndexSignatures(t *testing.T) {
	trusted, stranger := testKeys(t)
	tests := []struct {
		name string
		opts releaseOpts
		err  string // "" means it must load
	}{
		{"stranger and trusted", releaseOpts{signers: []*openpgp.Entity{stranger, trusted}}, ""},
		{"unknown signer", releaseOpts{signers: []*openpgp.Entity{stranger}}, "no good signature from a trusted key (signature 1: key "},
		{"sha1", releaseOpts{hash: crypto.SHA1}, "signature 1: weak hash SHA1"},
		{"expired", releaseOpts{validUntil: "Sat, 01 Jan 2000 00:00:00 UTC"}, "expired at 2000-01-01T00:00:00Z (Valid-Until)"},
		{"valid", releaseOpts{validUntil: "Sat, 01 Jan 2300 00:00:00 UTC"}, ""},
		{"suite differs, codename matches", releaseOpts{suite: "oldstable"}, ""},
		{"another suite's Release", releaseOpts{suite: "oldstable", codename: "bookworm"}, `is signed for suite "oldstable" (codename "bookworm"), not "trixie"`},
		{"from the future", releaseOpts{date: "Sat, 01 Jan 2300 00:00:00 UTC"}, "is not valid yet: dated 2300-01-01T00:00:00Z"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			r := newTestRepo(t)
			r.sign(t, tt.opts)
			cache := t.TempDir()
			_, err := LoadIndex(context.Background(), []Source{r.source()}, Options{CacheDir: cache})
			checkErr(t, err, tt.err, r.srv.URL+"/dists/trixie/InRelease")
			if tt.err != "" {
				assertEmptyDir(t, cache)
			}
		})
	}
}

// TestHandBuiltSignature is the control for the SHA1 case above: the same
// hand-built signature verifies when made over SHA512, so it is the hash
// that is refused.
func TestHandBuiltSignature(t *testing.T) {
	trusted, _ := testKeys(t)
	kr := &Keyring{name: "test", entities: openpgp.EntityList{trusted}}
	text := "Suite: x\n"
	for _, h := range []crypto.Hash{crypto.SHA512, crypto.SHA1} {
		plain, _, err := VerifyInRelease(clearsignWeak(t, text, h, trusted), "x", kr, time.Now())
		if ok := h != crypto.SHA1; ok != (err == nil) {
			t.Fatalf("%v: error %v", h, err)
		}
		if err == nil && string(plain) != strings.TrimSuffix(text, "\n") {
			t.Fatalf("plaintext %q", plain)
		}
	}
}

// TestLoadIndexAllowExpired: an expired Release is an *ExpiredError (which
// callers find with errors.As to name their flag), and AllowExpired takes it.
func TestLoadIndexAllowExpired(t *testing.T) {
	r := newTestRepo(t)
	r.sign(t, releaseOpts{validUntil: "Sat, 01 Jan 2000 00:00:00 UTC"})
	_, err := LoadIndex(context.Background(), []Source{r.source()}, Options{})
	var expired *ExpiredError
	if !errors.As(fmt.Errorf("plan: %w", err), &expired) {
		t.Fatalf("error %v (%T), want an *ExpiredError", err, err)
	}
	u := r.srv.URL + "/dists/trixie/InRelease"
	if want := u + " expired at 2000-01-01T00:00:00Z (Valid-Until)"; expired.URL != u || expired.Problem() != want ||
		err.Error() != want+"; allow expired releases to use it anyway" {
		t.Errorf("ExpiredError %+v: Problem %q, Error %q", expired, expired.Problem(), err)
	}
	if _, err := LoadIndex(context.Background(), []Source{r.source()}, Options{AllowExpired: true}); err != nil {
		t.Fatal(err)
	}
}

func TestLoadIndexBadInput(t *testing.T) {
	tests := []struct {
		name  string
		setup func(t *testing.T, r *testRepo, src *Source)
		err   string
		names string // the URL or file the error must name
	}{
		{"tampered InRelease", func(t *testing.T, r *testRepo, src *Source) {
			p := filepath.Join(r.root, "dists/trixie/InRelease")
			data, _ := os.ReadFile(p)
			os.WriteFile(p, []byte(strings.Replace(string(data), "Origin: Test", "Origin: Evil", 1)), 0o644)
		}, "no good signature from a trusted key (signature 1: key ", "/dists/trixie/InRelease"},
		{"unsigned data after", func(t *testing.T, r *testRepo, src *Source) {
			p := filepath.Join(r.root, "dists/trixie/InRelease")
			data, _ := os.ReadFile(p)
			os.WriteFile(p, append(data, "Package: evil\n"...), 0o644)
		}, "unsigned data after the signature", "/dists/trixie/InRelease"},
		{"missing InRelease", func(t *testing.T, r *testRepo, src *Source) {
			os.Remove(filepath.Join(r.root, "dists/trixie/InRelease"))
		}, "is missing: is \"trixie\" a suite of", "/dists/trixie/InRelease"},
		{"unknown suite", func(t *testing.T, r *testRepo, src *Source) { src.Suite = "sid" },
			"is missing: is \"sid\" a suite of", "/dists/sid/InRelease"},
		{"unknown component", func(t *testing.T, r *testRepo, src *Source) { src.Components = []string{"contrib"} },
			"has no component \"contrib\"", r0},
		{"empty keyring", func(t *testing.T, r *testRepo, src *Source) {
			src.Keyring = filepath.Join(t.TempDir(), "empty.gpg")
			os.WriteFile(src.Keyring, nil, 0o644)
		}, "holds no keys", "empty.gpg"},
		{"no keyring", func(t *testing.T, r *testRepo, src *Source) { src.Keyring = "" }, "has no keyring: give one (--keyring FILE)", r0},
		{"index hash differs", func(t *testing.T, r *testRepo, src *Source) {
			r.faults.Store("/dists/trixie/main/binary-amd64/Packages.xz", faultCorrupt)
		}, ", signed Release says ", "/dists/trixie/main/binary-amd64/Packages.xz"},
		{"index truncated", func(t *testing.T, r *testRepo, src *Source) {
			p := filepath.Join(r.root, "dists/trixie/main/binary-amd64/Packages.xz")
			data, _ := os.ReadFile(p)
			os.WriteFile(p, data[:len(data)/2], 0o644)
		}, "signed Release says", "/dists/trixie/main/binary-amd64/Packages.xz"},
		{"index HTTP 500", func(t *testing.T, r *testRepo, src *Source) {
			r.faults.Store("/dists/trixie/main/binary-amd64/Packages.xz", fault500)
		}, "HTTP 500 Internal Server Error", "/dists/trixie/main/binary-amd64/Packages.xz"},
		{"no index at all", func(t *testing.T, r *testRepo, src *Source) {
			os.Remove(filepath.Join(r.root, "dists/trixie/main/binary-amd64/Packages.xz"))
			os.Remove(filepath.Join(r.root, "dists/trixie/main/binary-amd64/Packages.gz"))
		}, "no main/binary-amd64/Packages on the mirror (tried ", "Packages.gz"},
		{"bad scheme", func(t *testing.T, r *testRepo, src *Source) { src.URL = "ftp://example.org/debian" },
			"unsupported URL scheme \"ftp\"", "ftp://example.org/debian"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			r := newTestRepo(t)
			src := r.source()
			tt.setup(t, r, &src)
			cache := t.TempDir()
			_, err := LoadIndex(context.Background(), []Source{src}, Options{CacheDir: cache})
			names := tt.names
			if names == r0 {
				names = r.srv.URL
			}
			checkErr(t, err, tt.err, names)
			assertEmptyDir(t, cache)
		})
	}
}

// r0 stands for "the test server's URL" in tables built before it exists.
const r0 = "\x00server"

func TestLoadIndexStall(t *testing.T) {
	r := newTestRepo(t)
	r.faults.Store("/dists/trixie/InRelease", faultStall)
	start := time.Now()
	_, err := LoadIndex(context.Background(), []Source{r.source()}, Options{StallTimeout: 300 * time.Millisecond})
	checkErr(t, err, "stalled: no data for 300ms", r.srv.URL+"/dists/trixie/InRelease")
	if d := time.Since(start); d > 5*time.Second {
		t.Fatalf("stall noticed after %v", d)
	}
}

func checkErr(t *testing.T, err error, want, names string) {
	t.Helper()
	if want == "" {
		if err != nil {
			t.Fatalf("unexpected error: %v", err)
		}
		return
	}
	if err == nil {
		t.Fatalf("no error, want %q", want)
	}
	msg := err.Error()
	if !strings.Contains(msg, want) || !strings.Contains(msg, names) || strings.Contains(msg, "\n") {
		t.Fatalf("error %q\nwant one line containing %q and naming %q", msg, want, names)
	}
}

// assertEmptyDir fails if dir holds any file (directories may exist).
func assertEmptyDir(t *testing.T, dir string) {
	t.Helper()
	filepath.WalkDir(dir, func(p string, d os.DirEntry, err error) error {
		if err == nil && !d.IsDir() {
			t.Errorf("cache holds %s after a failure", p)
		}
		return nil
	})
}

// TestExpiredAndRevokedKeys: a signature by an expired or revoked key does
// not count, but does not spoil a good signature beside it.
func TestExpiredAndRevokedKeys(t *testing.T) {
	trusted, _ := testKeys(t)
	short, err := openpgp.NewEntity("short-lived", "", "s@example.org",
		&packet.Config{Algorithm: packet.PubKeyAlgoEdDSA, KeyLifetimeSecs: 3600})
	if err != nil {
		t.Fatal(err)
	}
	revoked, err := openpgp.NewEntity("revoked", "", "r@example.org", &packet.Config{Algorithm: packet.PubKeyAlgoEdDSA})
	if err != nil {
		t.Fatal(err)
	}
	if err := revoked.RevokeKey(packet.KeyCompromised, "test", nil); err != nil {
		t.Fatal(err)
	}
	later := func() time.Time { return time.Now().Add(2 * time.Hour) } // short has expired
	tests := []struct {
		name    string
		signers []*openpgp.Entity
		now     func() time.Time
		err     string
	}{
		{"expired alone", []*openpgp.Entity{short}, later, ": expired)"},
		{"expired beside good", []*openpgp.Entity{short, trusted}, later, ""},
		{"short-lived, still valid", []*openpgp.Entity{short}, nil, ""},
		{"revoked alone", []*openpgp.Entity{revoked}, nil, ": revoked)"},
		{"revoked beside good", []*openpgp.Entity{revoked, trusted}, nil, ""},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			r := newTestRepo(t)
			writeKeyring(t, r.keyring, trusted, short, revoked)
			r.sign(t, releaseOpts{signers: tt.signers})
			ix, err := LoadIndex(context.Background(), []Source{r.source()}, Options{Now: tt.now})
			checkErr(t, err, tt.err, r.srv.URL+"/dists/trixie/InRelease")
			if err == nil && len(ix.Sources[0].Signers) != 1 {
				t.Fatalf("signers %v, want exactly one", ix.Sources[0].Signers)
			}
		})
	}
}

// TestLoadIndexByHashFirst: with Acquire-By-Hash the by-hash copy is read
// first, so a plain file caught mid-update does not matter.
func TestLoadIndexByHashFirst(t *testing.T) {
	r := newTestRepo(t)
	xzData := r.index["Packages.xz"]
	sum := sha256Hex(xzData)
	r.write(t, "dists/trixie/main/binary-amd64/by-hash/SHA256/"+sum, xzData)
	r.write(t, "dists/trixie/main/binary-amd64/Packages.xz", []byte("being replaced"))
	ix, err := LoadIndex(context.Background(), []Source{r.source()}, Options{})
	if err != nil {
		t.Fatal(err)
	}
	if len(ix.Packages) != 3 {
		t.Fatalf("%d packages", len(ix.Packages))
	}
}
