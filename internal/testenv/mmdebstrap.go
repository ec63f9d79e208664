package testenv

import (
	"crypto/sha256"
	"encoding/hex"
	"os"
	"os/exec"
	"path/filepath"
	"sort"
	"strings"
	"syscall"
	"testing"
)

// Mmdebstrap returns the root of a real `mmdebstrap --mode=root` installation
// of the frozen archive (variant plus includes), made once per machine and
// shared by every test and test binary that asks for the same set: a 213
// package installation takes minutes, and several oracles (the resolver's,
// the configure stage's) read the same tree. A lock file serialises the
// first run; a marker file says the tree is complete. Tests must not modify
// the tree.
func Mmdebstrap(t testing.TB, variant string, includes []string) string {
	t.Helper()
	Root(t)
	mm := Tool(t, "mmdebstrap")
	Tool(t, "dpkg")
	archive := Archive(t)
	keyring := Keyring(t)
	// apt handles the request as a set, so the order given does not matter
	// and is normalised for the cache key.
	includes = append([]string(nil), includes...)
	sort.Strings(includes)
	args := []string{"--mode=root", "--variant=" + variant, "--keyring=" + keyring, "--quiet"}
	if len(includes) > 0 {
		args = append(args, "--include="+strings.Join(includes, ","))
	}
	sum := sha256.Sum256([]byte(strings.Join(append(args, archive), "\x00")))
	base := filepath.Join(os.TempDir(), "debatom-test-mmdebstrap-"+hex.EncodeToString(sum[:8]))
	if err := os.MkdirAll(base, 0o755); err != nil {
		t.Fatal(err)
	}
	lock, err := os.OpenFile(filepath.Join(base, "lock"), os.O_CREATE|os.O_RDWR, 0o644)
	if err != nil {
		t.Fatal(err)
	}
	defer lock.Close()
	if err := syscall.Flock(int(lock.Fd()), syscall.LOCK_EX); err != nil {
		t.Fatal(err)
	}
	defer syscall.Flock(int(lock.Fd()), syscall.LOCK_UN)
	root := filepath.Join(base, "root")
	done := filepath.Join(base, "complete")
	if _, err := os.Stat(done); err == nil {
		return root
	}
	os.RemoveAll(root)
	args = append(args, "trixie", root, "copy://"+archive)
	if out, err := exec.Command(mm, args...).CombinedOutput(); err != nil {
		t.Fatalf("mmdebstrap %s: %v\n%s", strings.Join(args, " "), err, out)
	}
	if err := os.WriteFile(done, nil, 0o644); err != nil {
		t.Fatal(err)
	}
	return root
}
