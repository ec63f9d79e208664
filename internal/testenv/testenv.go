// Package testenv finds what integration tests need on the machine: the
// frozen Debian archive, its keyring, and the real tools used as oracles.
// It also holds what several packages' tests share: the QEMU/OVMF harness
// every boot test runs under (StartVM), Debian's signed GRUB (SignedGRUB),
// and small tree and tar helpers.
//
// Outside CI a missing piece skips the test with a message saying what to
// set; with DEBATOM_TEST_ORACLES=1 (set by .ci/run) a missing oracle tool
// fails the test instead, so CI can never pass by skipping.
package testenv

import (
	"os"
	"os/exec"
	"path/filepath"
	"testing"
)

// Archive returns the absolute path of the frozen signed Debian 13 slice
// (DEBATOM_TEST_ARCHIVE), or skips.
func Archive(t testing.TB) string {
	t.Helper()
	dir := os.Getenv("DEBATOM_TEST_ARCHIVE")
	if dir == "" {
		if Strict() {
			t.Fatal("DEBATOM_TEST_ARCHIVE is not set but DEBATOM_TEST_ORACLES=1")
		}
		t.Skip("DEBATOM_TEST_ARCHIVE is not set: point it at shared/debian-archive to run this test")
	}
	abs, err := filepath.Abs(dir)
	if err != nil {
		t.Fatal(err)
	}
	if _, err := os.Stat(filepath.Join(abs, "dists")); err != nil {
		t.Fatalf("DEBATOM_TEST_ARCHIVE=%s is not a mirror: %v", dir, err)
	}
	return abs
}

// Keyring returns the keyring that signs the archive (DEBATOM_TEST_KEYRING),
// or skips.
func Keyring(t testing.TB) string {
	t.Helper()
	k := os.Getenv("DEBATOM_TEST_KEYRING")
	if k == "" {
		if Strict() {
			t.Fatal("DEBATOM_TEST_KEYRING is not set but DEBATOM_TEST_ORACLES=1")
		}
		t.Skip("DEBATOM_TEST_KEYRING is not set: point it at debian-archive-keyring.gpg to run this test")
	}
	if _, err := os.Stat(k); err != nil {
		t.Fatalf("DEBATOM_TEST_KEYRING: %v", err)
	}
	return k
}

// Strict reports whether missing oracles are failures (CI) rather than skips.
func Strict() bool { return os.Getenv("DEBATOM_TEST_ORACLES") == "1" }

// Tool returns the path of an oracle program, skipping (or, under Strict,
// failing) when it is not installed.
func Tool(t testing.TB, name string) string {
	t.Helper()
	p, err := exec.LookPath(name)
	if err != nil {
		for _, dir := range []string{"/usr/sbin", "/sbin"} {
			if c := filepath.Join(dir, name); isExec(c) {
				return c
			}
		}
		if Strict() {
			t.Fatalf("oracle tool %s is not installed (DEBATOM_TEST_ORACLES=1); .ci/run should install it", name)
		}
		t.Skipf("oracle tool %s is not installed; run .ci/run or apt-get install it", name)
	}
	return p
}

// Root skips unless the test runs as root (mmdebstrap's root mode needs it).
func Root(t testing.TB) {
	t.Helper()
	if os.Geteuid() != 0 {
		if Strict() {
			t.Fatal("this oracle test needs root, and DEBATOM_TEST_ORACLES=1 is set")
		}
		t.Skip("needs root")
	}
}

func isExec(p string) bool {
	st, err := os.Stat(p)
	return err == nil && st.Mode().IsRegular() && st.Mode()&0o111 != 0
}
