package main

import (
	"bytes"
	"context"
	"os"
	"path/filepath"
	"sort"
	"strconv"
	"strings"
	"testing"

	"github.com/debatom/debatom/internal/testenv"
)

// runCLI runs debatom with args and returns its exit code and output.
func runCLI(t *testing.T, args ...string) (int, string, string) {
	t.Helper()
	var out, errb bytes.Buffer
	code := run(context.Background(), args, &out, &errb)
	return code, out.String(), errb.String()
}

func TestResolveNeedsMirror(t *testing.T) {
	code, _, stderr := runCLI(t, "resolve", "--apt-root", t.TempDir(), "--include", "bash")
	if code != 2 || !strings.Contains(stderr, "pass --mirror URL and --keyring FILE") {
		t.Fatalf("exit %d, stderr %q", code, stderr)
	}
	code, _, stderr = runCLI(t, "resolve", "--apt-root", t.TempDir(), "--mirror", "file:///nowhere", "--include", "bash")
	if code != 2 || !strings.Contains(stderr, "pass --keyring FILE") {
		t.Fatalf("exit %d, stderr %q", code, stderr)
	}
}

// TestAptCommands runs resolve, lock, fetch and mirror on the frozen
// archive, taking the keyring from a host apt configuration in testdata
// (its Signed-By names the Debian archive keyring).
func TestAptCommands(t *testing.T) {
	archive := testenv.Archive(t)
	testenv.Keyring(t)
	if _, err := os.Stat("/usr/share/keyrings/debian-archive-keyring.gpg"); err != nil {
		t.Skip("the host apt testdata names /usr/share/keyrings/debian-archive-keyring.gpg")
	}
	hostRoot, _ := filepath.Abs("../../pkg/apt/testdata/host")
	cache, dir := t.TempDir(), t.TempDir()
	mirror := "file://" + archive
	common := []string{"--mirror", mirror, "--apt-root", hostRoot, "--cache", cache}

	code, out, stderr := runCLI(t, append([]string{"resolve", "--include", "bash,zstd"}, common...)...)
	if code != 0 {
		t.Fatalf("resolve: exit %d: %s", code, stderr)
	}
	lines := strings.Split(strings.TrimSpace(out), "\n")
	if !sort.StringsAreSorted(lines) || !strings.HasPrefix(out, "base-files ") || !strings.Contains(out, "\nzstd ") {
		t.Fatalf("plan not sorted or incomplete:\n%s", out)
	}
	for _, l := range lines {
		if len(strings.Fields(l)) != 3 {
			t.Fatalf("plan line %q is not 'name version arch'", l)
		}
	}

	lock := filepath.Join(dir, "debatom.lock")
	if code, _, stderr = runCLI(t, append([]string{"lock", "--include", "bash,zstd", "-o", lock}, common...)...); code != 0 {
		t.Fatalf("lock: exit %d: %s", code, stderr)
	}
	code, _, stderr = runCLI(t, "fetch", "--lock", lock, "--cache", cache, "--offline")
	if code != 1 || !strings.Contains(stderr, "packages are not in the cache") || !strings.Contains(stderr, "bash ") {
		t.Fatalf("offline fetch of a cold cache: exit %d: %s", code, stderr)
	}
	if code, _, stderr = runCLI(t, "fetch", "--lock", lock, "--cache", cache); code != 0 {
		t.Fatalf("fetch: exit %d: %s", code, stderr)
	}
	if code, _, stderr = runCLI(t, "fetch", "--lock", lock, "--cache", cache, "--offline"); code != 0 {
		t.Fatalf("offline fetch of a warm cache: exit %d: %s", code, stderr)
	}

	bundle := filepath.Join(dir, "bundle")
	if code, _, stderr = runCLI(t, "mirror", "--lock", lock, "--cache", cache, "-o", bundle); code != 0 {
		t.Fatalf("mirror: exit %d: %s", code, stderr)
	}
	// The bundle is a signed mirror of its own: the same request resolves
	// to the same plan from it, with no cache to lean on.
	code, out2, stderr := runCLI(t, "resolve", "--include", "bash,zstd", "--mirror", "file://"+bundle,
		"--apt-root", hostRoot, "--cache", t.TempDir())
	if code != 0 || out2 != out {
		t.Fatalf("resolve from the bundle: exit %d: %s\n%s", code, stderr, out2)
	}
	// An air-gapped build fetches the locked packages from the bundle.
	code, out3, stderr := runCLI(t, "fetch", "--lock", lock, "--mirror", "file://"+bundle, "--cache", t.TempDir())
	if code != 0 {
		t.Fatalf("fetch from the bundle: exit %d: %s", code, stderr)
	}
	if n := len(lines); !strings.HasPrefix(out3, strconv.Itoa(n)+" packages, ") {
		t.Fatalf("fetch from the bundle says %q, want %d packages", out3, n)
	}
}
