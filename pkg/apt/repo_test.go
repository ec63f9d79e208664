package apt

import (
	"bytes"
	"compress/gzip"
	"crypto"
	"crypto/sha256"
	"encoding/hex"
	"fmt"
	"net/http"
	"net/http/httptest"
	"os"
	"path/filepath"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/ProtonMail/go-crypto/openpgp"
	"github.com/ProtonMail/go-crypto/openpgp/armor"
	"github.com/ProtonMail/go-crypto/openpgp/clearsign"
	"github.com/ProtonMail/go-crypto/openpgp/packet"
	"github.com/ulikunitz/xz"
)

// testRepo is a small signed repository written by the test, with
// throwaway keys, served over HTTP with faults injected on request.
type testRepo struct {
	root    string // mirror root on disk
	keyring string // path of a binary keyring trusting the signer
	signer  *openpgp.Entity
	debs    map[string][]byte // Filename -> content
	srv     *httptest.Server
	index   map[string][]byte // Packages variants by file name
	faults  sync.Map          // URL path -> fault
	hits    atomic.Int64      // requests served
}

type fault int

const (
	faultNone fault = iota
	fault404
	fault500
	faultStall    // send headers and a few bytes, then nothing
	faultCorrupt  // flip a byte
	faultTruncate // send half
	fault500Once  // 500 for the first request only
)

var (
	keyOnce  sync.Once
	keyCache [2]*openpgp.Entity
)

// testKeys returns two ed25519 signing keys, made once per test binary.
func testKeys(t testing.TB) (trusted, stranger *openpgp.Entity) {
	keyOnce.Do(func() {
		cfg := &packet.Config{Algorithm: packet.PubKeyAlgoEdDSA, DefaultHash: crypto.SHA256}
		for i := range keyCache {
			e, err := openpgp.NewEntity(fmt.Sprintf("test key %d", i), "", "test@example.org", cfg)
			if err != nil {
				panic(err)
			}
			keyCache[i] = e
		}
	})
	return keyCache[0], keyCache[1]
}

func writeKeyring(t testing.TB, path string, es ...*openpgp.Entity) {
	var b bytes.Buffer
	for _, e := range es {
		if err := e.Serialize(&b); err != nil {
			t.Fatal(err)
		}
	}
	if err := os.WriteFile(path, b.Bytes(), 0o644); err != nil {
		t.Fatal(err)
	}
}

// clearsignText signs text with each entity (SHA256 unless h is given).
func clearsignText(t testing.TB, text string, h crypto.Hash, signers ...*openpgp.Entity) []byte {
	var keys []*packet.PrivateKey
	for _, e := range signers {
		keys = append(keys, e.PrivateKey)
	}
	var out bytes.Buffer
	w, err := clearsign.EncodeMulti(&out, keys, &packet.Config{DefaultHash: h})
	if err != nil {
		t.Fatal(err)
	}
	if _, err := w.Write([]byte(text)); err != nil {
		t.Fatal(err)
	}
	if err := w.Close(); err != nil {
		t.Fatal(err)
	}
	return out.Bytes()
}

type releaseOpts struct {
	validUntil string
	date       string // default Sat, 21 Nov 2026 09:15:44 UTC
	hash       crypto.Hash
	signers    []*openpgp.Entity
	suite      string
	codename   string // default trixie
}

func newTestRepo(t testing.TB) *testRepo {
	t.Helper()
	trusted, _ := testKeys(t)
	r := &testRepo{root: t.TempDir(), signer: trusted, debs: map[string][]byte{}}
	r.keyring = filepath.Join(t.TempDir(), "trusted.gpg")
	writeKeyring(t, r.keyring, trusted)
	var pk strings.Builder
	for i, name := range []string{"alpha", "beta", "gamma"} {
		fn := fmt.Sprintf("pool/main/%c/%s/%s_1.%d-1_amd64.deb", name[0], name, name, i)
		content := bytes.Repeat([]byte(name+"\n"), 20000+i*1000) // ~100 KB, enough to interrupt
		r.debs[fn] = content
		sum := sha256.Sum256(content)
		fmt.Fprintf(&pk, "Package: %s\nVersion: 1.%d-1\nArchitecture: amd64\nPriority: optional\n"+
			"Installed-Size: %d\nDepends: libc6\nFilename: %s\nSize: %d\nSHA256: %s\nDescription: test %s\n\n",
			name, i, len(content)/1024, fn, len(content), hex.EncodeToString(sum[:]), name)
		r.write(t, fn, content)
	}
	r.writeIndex(t, []byte(pk.String()))
	r.sign(t, releaseOpts{})
	r.srv = httptest.NewServer(http.HandlerFunc(r.serve))
	t.Cleanup(r.srv.Close)
	return r
}

func (r *testRepo) write(t testing.TB, rel string, data []byte) {
	p := filepath.Join(r.root, filepath.FromSlash(rel))
	if err := os.MkdirAll(filepath.Dir(p), 0o755); err != nil {
		t.Fatal(err)
	}
	if err := os.WriteFile(p, data, 0o644); err != nil {
		t.Fatal(err)
	}
}

// writeIndex writes Packages.xz and Packages.gz; the plain Packages is
// listed in the Release but not served, like the real archive.
func (r *testRepo) writeIndex(t testing.TB, text []byte) {
	var xb, gb bytes.Buffer
	xw, err := xz.NewWriter(&xb)
	if err != nil {
		t.Fatal(err)
	}
	xw.Write(text)
	xw.Close()
	gw := gzip.NewWriter(&gb)
	gw.Write(text)
	gw.Close()
	r.write(t, "dists/trixie/main/binary-amd64/Packages.xz", xb.Bytes())
	r.write(t, "dists/trixie/main/binary-amd64/Packages.gz", gb.Bytes())
	r.index = map[string][]byte{"Packages": text, "Packages.xz": xb.Bytes(), "Packages.gz": gb.Bytes()}
}

func (r *testRepo) sign(t testing.TB, o releaseOpts) {
	if o.suite == "" {
		o.suite = "stable"
	}
	if o.hash == 0 {
		o.hash = crypto.SHA256
	}
	if o.signers == nil {
		o.signers = []*openpgp.Entity{r.signer}
	}
	var b strings.Builder
	if o.date == "" {
		o.date = "Sat, 21 Nov 2026 09:15:44 UTC"
	}
	if o.codename == "" {
		o.codename = "trixie"
	}
	fmt.Fprintf(&b, "Origin: Test\nSuite: %s\nCodename: %s\nDate: %s\n", o.suite, o.codename, o.date)
	if o.validUntil != "" {
		fmt.Fprintf(&b, "Valid-Until: %s\n", o.validUntil)
	}
	b.WriteString("Acquire-By-Hash: yes\nNo-Support-for-Architecture-all: Packages\nArchitectures: amd64\nComponents: main\nSHA256:\n")
	for _, n := range []string{"Packages", "Packages.gz", "Packages.xz"} {
		sum := sha256.Sum256(r.index[n])
		fmt.Fprintf(&b, " %x %d main/binary-amd64/%s\n", sum, len(r.index[n]), n)
	}
	if o.hash == crypto.SHA1 {
		r.write(t, "dists/trixie/InRelease", clearsignWeak(t, b.String(), o.hash, o.signers[0]))
		return
	}
	r.write(t, "dists/trixie/InRelease", clearsignText(t, b.String(), o.hash, o.signers...))
}

func (r *testRepo) serve(w http.ResponseWriter, req *http.Request) {
	r.hits.Add(1)
	f := faultNone
	if v, ok := r.faults.Load(req.URL.Path); ok {
		f = v.(fault)
	}
	switch f {
	case fault404:
		http.NotFound(w, req)
		return
	case fault500:
		http.Error(w, "boom", http.StatusInternalServerError)
		return
	case fault500Once:
		r.faults.Delete(req.URL.Path)
		http.Error(w, "boom", http.StatusInternalServerError)
		return
	case faultStall, faultCorrupt, faultTruncate:
		data, err := os.ReadFile(filepath.Join(r.root, filepath.FromSlash(req.URL.Path)))
		if err != nil {
			http.NotFound(w, req)
			return
		}
		w.Header().Set("Content-Length", fmt.Sprint(len(data)))
		switch f {
		case faultStall:
			w.Write(data[:10])
			w.(http.Flusher).Flush()
			<-req.Context().Done()
		case faultCorrupt:
			data = append([]byte(nil), data...)
			data[len(data)/2] ^= 1
			w.Write(data)
		case faultTruncate:
			w.Write(data[:len(data)/2])
			// Then drop the connection: the client sees an unexpected EOF.
			if hj, ok := w.(http.Hijacker); ok {
				w.(http.Flusher).Flush()
				c, _, _ := hj.Hijack()
				c.Close()
			}
		}
		return
	}
	http.FileServer(http.Dir(r.root)).ServeHTTP(w, req)
}

func (r *testRepo) source() Source {
	return Source{URL: r.srv.URL, Suite: "trixie", Components: []string{"main"}, Keyring: r.keyring}
}

// fixedNow is a clock inside the test keys' validity.
func fixedNow() time.Time { return time.Now() }

// clearsignWeak builds a clearsigned message by hand with a signature over
// hash h, which go-crypto's encoder will not produce for weak hashes.
func clearsignWeak(t testing.TB, text string, h crypto.Hash, e *openpgp.Entity) []byte {
	no := false // the salt notation has no size for SHA1
	cfg := &packet.Config{DefaultHash: h, NonDeterministicSignaturesViaNotation: &no}
	sig := &packet.Signature{
		SigType: packet.SigTypeText, PubKeyAlgo: e.PrivateKey.PubKeyAlgo, Hash: h,
		CreationTime: time.Now(), IssuerKeyId: &e.PrivateKey.KeyId, Version: e.PrivateKey.Version,
	}
	hh, err := sig.PrepareSign(cfg)
	if err != nil {
		t.Fatal(err)
	}
	signed := strings.ReplaceAll(strings.TrimSuffix(text, "\n"), "\n", "\r\n")
	hh.Write([]byte(signed))
	if err := sig.Sign(hh, e.PrivateKey, cfg); err != nil {
		t.Fatal(err)
	}
	var out bytes.Buffer
	out.WriteString("-----BEGIN PGP SIGNED MESSAGE-----\nHash: " + map[crypto.Hash]string{crypto.SHA1: "SHA1", crypto.SHA512: "SHA512"}[h] + "\n\n" + text)
	aw, err := armor.Encode(&out, "PGP SIGNATURE", nil)
	if err != nil {
		t.Fatal(err)
	}
	if err := sig.Serialize(aw); err != nil {
		t.Fatal(err)
	}
	aw.Close()
	out.WriteByte('\n')
	return out.Bytes()
}
