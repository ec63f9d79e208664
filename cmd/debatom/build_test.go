package main

import (
	"bytes"
	"context"
	"os"
	"path/filepath"
	"strings"
	"testing"
)

// TestBuildBadInputCLI: bad input (a package file conflict first) makes
// `debatom build` exit 1 with one "debatom build:" line saying what is
// wrong, and leaves the ref an earlier build wrote into the same output
// directory where it was. The archive is pkg/compose's small signed test
// repository, in which beta ships a file of alpha's without Replaces.
func TestBuildBadInputCLI(t *testing.T) {
	archive, err := filepath.Abs("../../pkg/compose/testdata/conflict-archive")
	if err != nil {
		t.Fatal(err)
	}
	dir := t.TempDir()
	out := filepath.Join(dir, "out")
	write := func(name, text string) string {
		p := filepath.Join(dir, name)
		if err := os.WriteFile(p, []byte(text), 0o644); err != nil {
			t.Fatal(err)
		}
		return p
	}
	tree := func(pkgs string) string { return "ref: test/conflict\npackages: [" + pkgs + "]\n" }
	// build runs debatom build with the treefile text (or, for "", none)
	// and extra flags.
	build := func(treefile string, extra ...string) (int, string, string) {
		t.Helper()
		args := []string{"build", "-o", out, "--cache", filepath.Join(dir, "cache"),
			"--mirror", "file://" + archive, "--keyring", filepath.Join(archive, "keyring.gpg"), "--no-initramfs"}
		if treefile != "" {
			args = append(args, "-f", write("tree.yaml", treefile))
		}
		var stdout, stderr bytes.Buffer
		code := run(context.Background(), append(args, extra...), &stdout, &stderr)
		return code, stdout.String(), stderr.String()
	}
	code, commit, stderr := build(tree("alpha, gamma"), "--quiet")
	if code != 0 {
		t.Fatalf("good build: exit %d\n%s", code, stderr)
	}
	commit = strings.TrimSpace(commit)
	refFile := filepath.Join(out, "repo", "refs", "heads", "test", "conflict")
	if ref, err := os.ReadFile(refFile); err != nil || strings.TrimSpace(string(ref)) != commit {
		t.Fatalf("after the good build: ref %q (%v), build printed %q", ref, err, commit)
	}

	write("cycle.yaml", "include: tree.yaml\n")
	tests := []struct {
		name     string
		treefile string
		extra    []string
		want     []string
	}{
		{"file conflict", tree("alpha, beta, gamma"), nil, []string{"assemble:", "alpha", "beta", "/usr/share/tiny/shared.conf", "does not Replace"}},
		{"unknown package", tree("alpha, no-such-package-xyz"), nil, []string{"plan:", "no-such-package-xyz"}},
		{"typo'd key", "ref: test/conflict\npakages: [alpha]\n", nil, []string{"tree.yaml:2", `unknown key "pakages"`}},
		{"include cycle", "include: cycle.yaml\n" + tree("alpha"), nil, []string{"include cycle", "cycle.yaml"}},
		{"unknown variant", "", []string{"--variant", "no-such-variant"}, []string{`unknown variant "no-such-variant"`}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			code, stdout, stderr := build(tt.treefile, append([]string{"--quiet"}, tt.extra...)...)
			if code != 1 {
				t.Errorf("exit %d, want 1", code)
			}
			if stdout != "" {
				t.Errorf("stdout %q", stdout)
			}
			lines := strings.Split(strings.TrimSuffix(stderr, "\n"), "\n")
			if len(lines) != 1 || !strings.HasPrefix(lines[0], "debatom build: ") {
				t.Fatalf("stderr is not one 'debatom build: ' line:\n%s", stderr)
			}
			for _, want := range tt.want {
				if !strings.Contains(lines[0], want) {
					t.Errorf("error %q does not say %q", lines[0], want)
				}
			}
			if ref, err := os.ReadFile(refFile); err != nil || strings.TrimSpace(string(ref)) != commit {
				t.Errorf("the failed build moved the ref to %q (%v), want %s", ref, err, commit)
			}
		})
	}

	// Without --quiet (progress is drawn only on a terminal) the error is
	// still the one "debatom build:" line, the last.
	code, _, stderr = build(tree("alpha, beta, gamma"))
	lines := strings.Split(strings.TrimSuffix(stderr, "\n"), "\n")
	last := lines[len(lines)-1]
	if code != 1 || !strings.HasPrefix(last, "debatom build: assemble: ") || strings.Count(stderr, "debatom build: ") != 1 {
		t.Errorf("conflict without --quiet: exit %d, stderr:\n%s", code, stderr)
	}
}
