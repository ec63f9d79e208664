package main

import (
	"bytes"
	"context"
	"errors"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"testing"

	"github.com/debatom/debatom/internal/testenv"
)

func TestCommitUsage(t *testing.T) {
	dir := t.TempDir()
	for _, tc := range []struct {
		name string
		args []string
	}{
		{"no tree", []string{"--repo", dir, "--branch", "b"}},
		{"no branch", []string{"--repo", dir, dir}},
		{"bad mode", []string{"--repo", dir, "--branch", "b", "--mode", "zip", dir}},
		{"bad timestamp", []string{"--repo", dir, "--branch", "b", "--timestamp", "yesterday", dir}},
		{"two timestamps", []string{"--repo", dir, "--branch", "b", "--timestamp", "2020-01-01T00:00:00Z", "--timestamp-epoch", "5", dir}},
		{"bad metadata", []string{"--repo", dir, "--branch", "b", "--add-metadata-string", "novalue", dir}},
	} {
		t.Run(tc.name, func(t *testing.T) {
			var out, errb bytes.Buffer
			err := runCommit(context.Background(), tc.args, &out, &errb)
			if !errors.Is(err, errUsage) {
				t.Fatalf("error %v, want a usage error", err)
			}
		})
	}
}

// TestCommitMatchesOstreeCLI runs `debatom commit` and `ostree commit`
// with the same flags on the same tree, twice (the second commit takes
// the branch head as parent in both), and compares the printed checksums.
func TestCommitMatchesOstreeCLI(t *testing.T) {
	ostree := testenv.Tool(t, "ostree")
	tree := t.TempDir()
	os.MkdirAll(filepath.Join(tree, "usr/lib/modules/6.12.0-1-amd64"), 0o755)
	os.WriteFile(filepath.Join(tree, "usr/lib/modules/6.12.0-1-amd64/vmlinuz"), []byte("kernel"), 0o644)
	os.WriteFile(filepath.Join(tree, "file"), []byte("content\n"), 0o640)
	os.Symlink("file", filepath.Join(tree, "link"))

	base := t.TempDir()
	oRepo, dRepo := filepath.Join(base, "o"), filepath.Join(base, "d")
	run := func(name string, args ...string) string {
		t.Helper()
		cmd := exec.Command(name, args...)
		out, err := cmd.Output()
		if err != nil {
			t.Fatalf("%s %v: %v", name, args, err)
		}
		return strings.TrimSpace(string(out))
	}
	run(ostree, "init", "--repo="+oRepo, "--mode=archive")
	for _, tc := range []struct {
		name   string
		common []string
		env    string
	}{
		{"plain", []string{"--subject=s", "--body=b", "--timestamp=2024-01-02T03:04:05Z"}, ""},
		{"parent and metadata", []string{"--subject=second", "--timestamp=2024-01-02T03:04:06Z", "--add-metadata-string=version=2", "--add-metadata-string=a=b"}, ""},
		{"bootable", []string{"--bootable", "--add-metadata-string=version=3", "--timestamp=2024-01-02T03:04:07Z"}, ""},
		{"no bindings", []string{"--no-bindings", "--timestamp=2024-01-02T03:04:08Z"}, ""},
		{"source date epoch", nil, "1704164649"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			oArgs := append([]string{"commit", "--repo=" + oRepo, "--branch=os/x"}, tc.common...)
			dArgs := append([]string{"--repo", dRepo, "--branch", "os/x"}, tc.common...)
			if tc.env != "" {
				t.Setenv("SOURCE_DATE_EPOCH", tc.env)
				oArgs = append(oArgs, "--timestamp=2024-01-02T03:04:09Z")
			}
			want := run(ostree, append(oArgs, tree)...)
			var out, errb bytes.Buffer
			if err := runCommit(context.Background(), append(dArgs, tree), &out, &errb); err != nil {
				t.Fatalf("debatom commit: %v\n%s", err, errb.String())
			}
			if got := strings.TrimSpace(out.String()); got != want {
				t.Errorf("debatom commit printed %s, ostree commit %s", got, want)
			}
		})
	}
	run(ostree, "fsck", "--repo="+dRepo)

	// An existing repository keeps its mode unless --mode contradicts it.
	bu := filepath.Join(base, "bu")
	var out, errb bytes.Buffer
	if err := runCommit(context.Background(), []string{"--repo", bu, "--mode", "bare-user", "--branch", "a", "--timestamp-epoch", "0", tree}, &out, &errb); err != nil {
		t.Fatal(err)
	}
	if err := runCommit(context.Background(), []string{"--repo", bu, "--branch", "b", "--timestamp-epoch", "0", tree}, &out, &errb); err != nil {
		t.Fatalf("second commit without --mode: %v", err)
	}
	if err := runCommit(context.Background(), []string{"--repo", bu, "--mode", "archive", "--branch", "c", tree}, &out, &errb); err == nil {
		t.Error("--mode archive on a bare-user repo succeeded")
	}
	if cfg, _ := os.ReadFile(filepath.Join(bu, "config")); !strings.Contains(string(cfg), "mode=bare-user") {
		t.Errorf("config: %s", cfg)
	}
}
