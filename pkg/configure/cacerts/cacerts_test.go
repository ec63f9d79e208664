package cacerts

import (
	"crypto/x509"
	"encoding/pem"
	"fmt"
	"os"
	"strings"
	"testing"

	"github.com/debatom/debatom/pkg/configure/sysroot"
	"github.com/debatom/debatom/pkg/deb822"
	"github.com/debatom/debatom/pkg/fstree"
)

// Hashes printed by "openssl x509 -hash -noout" for these certificates.
var hashes = map[string]string{
	"ISRG_Root_X1.crt": "4042bcee",
	"Certigna.crt":     "e113c810",
	"ACCVRAIZ1.crt":    "a94d09e5",
	"Hellenic_Academic_and_Research_Institutions_RootCA_2015.crt": "32888f65",
}

func TestCertHash(t *testing.T) {
	for name, want := range hashes {
		b, err := os.ReadFile("testdata/" + name)
		if err != nil {
			t.Fatal(err)
		}
		h, err := CertHash(b)
		if err != nil {
			t.Fatal(err)
		}
		if got := fmt.Sprintf("%08x", h); got != want {
			t.Errorf("%s: %s, openssl says %s", name, got, want)
		}
	}
}

func TestConfigure(t *testing.T) {
	r := sysroot.New(fstree.New(), nil, []*sysroot.Package{{Name: "ca-certificates", Control: &deb822.Paragraph{}}})
	for name := range hashes {
		b, _ := os.ReadFile("testdata/" + name)
		r.WriteFile("usr/share/ca-certificates/mozilla/"+name, b, 0o644, 0, 0)
	}
	// The same certificate twice: one hash link, as openssl rehash does.
	b, _ := os.ReadFile("testdata/ISRG_Root_X1.crt")
	r.WriteFile("usr/local/share/ca-certificates/my copy (1).crt", b[:len(b)-1], 0o644, 0, 0)
	if err := Configure(r); err != nil {
		t.Fatal(err)
	}
	for link, want := range map[string]string{
		"etc/ssl/certs/ISRG_Root_X1.pem": "/usr/share/ca-certificates/mozilla/ISRG_Root_X1.crt",
		"etc/ssl/certs/4042bcee.0":       "ISRG_Root_X1.pem",
		"etc/ssl/certs/my_copy_=1=.pem":  "/usr/local/share/ca-certificates/my copy (1).crt",
		"etc/ssl/certs/e113c810.0":       "Certigna.pem",
	} {
		if e := r.Tree.Get(link); e == nil || e.Kind != fstree.Symlink || e.Target != want {
			t.Errorf("%s: %+v, want → %s", link, e, want)
		}
	}
	if r.Tree.Get("etc/ssl/certs/4042bcee.1") != nil {
		t.Error("duplicate certificate got a second hash link")
	}
	bundle, _ := r.ReadFile("etc/ssl/certs/ca-certificates.crt")
	if n := strings.Count(string(bundle), "-----END CERTIFICATE-----\n"); n != 5 {
		t.Errorf("bundle holds %d certificates, want 5 (every PEM newline-terminated)", n)
	}
	conf, _ := r.ReadFile("etc/ca-certificates.conf")
	if !strings.HasSuffix(string(conf), "#\nmozilla/ACCVRAIZ1.crt\nmozilla/Certigna.crt\nmozilla/Hellenic_Academic_and_Research_Institutions_RootCA_2015.crt\nmozilla/ISRG_Root_X1.crt\n") {
		t.Errorf("ca-certificates.conf:\n%s", conf)
	}
}

func TestSubjectHashBad(t *testing.T) {
	for name, in := range map[string][]byte{"empty": nil, "not a sequence": {0x02, 0x01, 0x00}, "rdn not a set": {0x30, 0x03, 0x02, 0x01, 0x00}} {
		if _, err := SubjectHash(in); err == nil || strings.Contains(err.Error(), "\n") {
			t.Errorf("%s: want a one-line error, got %v", name, err)
		}
	}
	if _, err := CertHash([]byte("not pem")); err == nil {
		t.Error("non-PEM accepted")
	}
}

func FuzzSubjectHash(f *testing.F) {
	for name := range hashes {
		b, _ := os.ReadFile("testdata/" + name)
		blk, _ := pem.Decode(b)
		c, _ := x509.ParseCertificate(blk.Bytes)
		f.Add(c.RawSubject)
	}
	f.Fuzz(func(t *testing.T, b []byte) {
		SubjectHash(b) // must not panic
	})
}

func BenchmarkCertHash(b *testing.B) {
	pemData, _ := os.ReadFile("testdata/ISRG_Root_X1.crt")
	for b.Loop() {
		CertHash(pemData)
	}
}
