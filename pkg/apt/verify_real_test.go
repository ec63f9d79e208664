package apt

import (
	"os"
	"path/filepath"
	"testing"
	"time"

	"github.com/debatom/debatom/internal/testenv"
)

func TestVerifyRealInRelease(t *testing.T) {
	arch, keyring := testenv.Archive(t), testenv.Keyring(t)
	kr, err := LoadKeyring(keyring)
	if err != nil {
		t.Fatal(err)
	}
	data, err := os.ReadFile(filepath.Join(arch, "dists/trixie/InRelease"))
	if err != nil {
		t.Fatal(err)
	}
	plain, signers, err := VerifyInRelease(data, "InRelease", kr, time.Now())
	if err != nil {
		t.Fatal(err)
	}
	// All three signatures (two RSA-4096, one ed25519) must verify: if one
	// algorithm silently failed, a future archive signed only with it would
	// be refused.
	if len(signers) != 3 {
		t.Fatalf("%d signatures verified (%v), want 3", len(signers), signers)
	}
	r, err := ParseRelease(plain, "InRelease")
	if err != nil {
		t.Fatal(err)
	}
	if r.Codename != "trixie" || !r.AcquireByHash || !r.NoArchAllPackages {
		t.Fatalf("release %+v", r)
	}
	if _, ok := r.Files["main/binary-amd64/Packages.xz"]; !ok {
		t.Fatal("Release does not list main/binary-amd64/Packages.xz")
	}
}
