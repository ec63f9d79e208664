package main

import (
	"bytes"
	"context"
	"os"
	"path/filepath"
	"strings"
	"testing"
)

// TestBuildConflictCLI: a package file conflict makes `debatom build` exit
// 1 with one line naming both packages and the path, and leaves the ref an
// earlier build wrote into the same output directory where it was. The
// archive is pkg/compose's small signed test repository.
func TestBuildConflictCLI(t *testing.T) {
	archive, err := filepath.Abs("../../pkg/compose/testdata/conflict-archive")
	if err != nil {
		t.Fatal(err)
	}
	dir := t.TempDir()
	out := filepath.Join(dir, "out")
	build := func(pkgs string, extra ...string) (int, string, string) {
		t.Helper()
		tf := filepath.Join(dir, "tree.yaml")
		if err := os.WriteFile(tf, []byte("ref: test/conflict\npackages: ["+pkgs+"]\n"), 0o644); err != nil {
			t.Fatal(err)
		}
		args := append([]string{"build", "-f", tf, "-o", out, "--cache", filepath.Join(dir, "cache"),
			"--mirror", "file://" + archive, "--keyring", filepath.Join(archive, "keyring.gpg"), "--no-initramfs"}, extra...)
		var stdout, stderr bytes.Buffer
		code := run(context.Background(), args, &stdout, &stderr)
		return code, stdout.String(), stderr.String()
	}
	code, commit, stderr := build("alpha, gamma", "--quiet")
	if code != 0 {
		t.Fatalf("good build: exit %d\n%s", code, stderr)
	}
	commit = strings.TrimSpace(commit)
	refFile := filepath.Join(out, "repo", "refs", "heads", "test", "conflict")
	if ref, err := os.ReadFile(refFile); err != nil || strings.TrimSpace(string(ref)) != commit {
		t.Fatalf("after the good build: ref %q (%v), build printed %q", ref, err, commit)
	}

	code, stdout, stderr := build("alpha, beta, gamma", "--quiet")
	if code != 1 {
		t.Errorf("conflict: exit %d, want 1", code)
	}
	if stdout != "" {
		t.Errorf("conflict: stdout %q", stdout)
	}
	lines := strings.Split(strings.TrimSuffix(stderr, "\n"), "\n")
	if len(lines) != 1 || !strings.HasPrefix(lines[0], "debatom build: ") {
		t.Fatalf("conflict: stderr is not one 'debatom build: ' line:\n%s", stderr)
	}
	for _, want := range []string{"alpha", "beta", "/usr/share/tiny/shared.conf", "does not Replace"} {
		if !strings.Contains(lines[0], want) {
			t.Errorf("conflict error %q does not say %q", lines[0], want)
		}
	}
	if ref, err := os.ReadFile(refFile); err != nil || strings.TrimSpace(string(ref)) != commit {
		t.Errorf("the failed build moved the ref to %q (%v), want %s", ref, err, commit)
	}

	// Without --quiet (progress is drawn only on a terminal) the error is
	// still the one "debatom build:" line, the last.
	code, _, stderr = build("alpha, beta, gamma")
	lines = strings.Split(strings.TrimSuffix(stderr, "\n"), "\n")
	last := lines[len(lines)-1]
	if code != 1 || !strings.HasPrefix(last, "debatom build: assemble: ") || strings.Count(stderr, "debatom build: ") != 1 {
		t.Errorf("conflict with progress: exit %d, stderr:\n%s", code, stderr)
	}
}
