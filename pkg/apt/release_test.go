package apt

import (
	"strings"
	"testing"
	"time"

	"github.com/ProtonMail/go-crypto/openpgp"
)

const releaseText = `Origin: Debian
Suite: stable
Codename: trixie
Date: Sat, 21 Nov 2026 09:15:44 UTC
Valid-Until: Sat, 28 Nov 2026 09:15:44 UTC
Acquire-By-Hash: yes
Architectures: amd64
Components: main
SHA256:
 2efd6103f013081f8118f4c9f228739bc97bff2e4e1de496f80458c7e72a24ac 56634892 main/binary-amd64/Packages
 be3d7d96a040eda0505c1808cccc67f183bbc05dff0842c50f88e6c396557412  9679304 main/binary-amd64/Packages.xz
`

func TestParseRelease(t *testing.T) {
	r, err := ParseRelease([]byte(releaseText), "Release")
	if err != nil {
		t.Fatal(err)
	}
	if r.Codename != "trixie" || r.Suite != "stable" || !r.AcquireByHash || r.NoArchAllPackages {
		t.Fatalf("%+v", r)
	}
	if want := time.Date(2026, 11, 28, 9, 15, 44, 0, time.UTC); !r.ValidUntil.Equal(want) {
		t.Fatalf("Valid-Until %v", r.ValidUntil)
	}
	if fh := r.Files["main/binary-amd64/Packages.xz"]; fh.Size != 9679304 || fh.SHA256[:6] != "be3d7d" {
		t.Fatalf("%+v", fh)
	}
}

func TestParseReleaseBad(t *testing.T) {
	tests := []struct{ name, from, to, want string }{
		{"no sha256", "SHA256:", "MD5Sum:", "Release: no SHA256 section (weaker hashes are not trusted)"},
		{"bad date", "Sat, 21 Nov", "Someday 21 Nov", `Release: bad Date "Someday 21 Nov 2026 09:15:44 UTC"`},
		{"short hash", " be3d7d96a040", " be3d7d96a04", `Release: bad SHA256 line`},
		{"bad size", " 9679304 ", " -9 ", `Release: bad size in SHA256 line`},
		{"escaping path", "main/binary-amd64/Packages.xz", "../../etc/passwd", `Release: unsafe path in SHA256 line`},
		{"no suite", "Suite: stable\nCodename: trixie\n", "", "Release: neither Suite nor Codename is set"},
		{"two paragraphs", "Acquire-By-Hash: yes\n", "\nAcquire-By-Hash: yes\n", "Release: want one paragraph, found 2"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			text := strings.Replace(releaseText, tt.from, tt.to, 1)
			_, err := ParseRelease([]byte(text), "Release")
			if err == nil || !strings.HasPrefix(err.Error(), tt.want) || strings.Contains(err.Error(), "\n") {
				t.Fatalf("error %v, want one line starting %q", err, tt.want)
			}
		})
	}
}

func FuzzParseRelease(f *testing.F) {
	f.Add([]byte(releaseText))
	f.Fuzz(func(t *testing.T, data []byte) {
		r, err := ParseRelease(data, "fuzz")
		if err != nil {
			return
		}
		for p, fh := range r.Files {
			if fh.Path != p || len(fh.SHA256) != 64 || fh.Size < 0 || strings.HasPrefix(p, "/") {
				t.Fatalf("bad entry %q: %+v", p, fh)
			}
		}
	})
}

// FuzzVerifyInRelease feeds arbitrary bytes to the verifier: it must never
// panic and must never accept anything without a good signature.
func FuzzVerifyInRelease(f *testing.F) {
	trusted, stranger := testKeys(f)
	kr := &Keyring{name: "test", entities: openpgp.EntityList{trusted}}
	good := clearsignText(f, releaseText, 0, trusted)
	f.Add(good)
	f.Add(clearsignText(f, releaseText, 0, stranger, trusted))
	f.Add([]byte("-----BEGIN PGP SIGNED MESSAGE-----\nHash: SHA256\n\nx\n-----BEGIN PGP SIGNATURE-----\n\n-----END PGP SIGNATURE-----\n"))
	f.Fuzz(func(t *testing.T, data []byte) {
		plain, signers, err := VerifyInRelease(data, "fuzz", kr, time.Now())
		if err != nil {
			return
		}
		if len(signers) == 0 {
			t.Fatal("accepted with no signer")
		}
		// Whatever was accepted must be text our trusted key really signed.
		if !strings.Contains(releaseText, strings.TrimSpace(string(plain))) {
			t.Fatalf("accepted plaintext that was never signed: %q", plain)
		}
	})
}
