package main

import (
	"bytes"
	"context"
	"io"
	"log"
	"net/http/httptest"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/google/go-containerregistry/pkg/registry"

	"github.com/debatom/debatom/pkg/compose"
	"github.com/debatom/debatom/pkg/ociwriter"
	"github.com/debatom/debatom/pkg/ostreerepo"
)

// TestOCICommands commits a small tree, writes it with the build hook in
// both formats, pushes the layout to an in-process registry and imports it
// back to the same commit.
func TestOCICommands(t *testing.T) {
	ctx := context.Background()
	work := t.TempDir()
	tree := filepath.Join(work, "tree")
	for p, c := range map[string]string{"usr/bin/hello": "hi\n", "usr/etc/motd": "welcome\n"} {
		if err := os.MkdirAll(filepath.Dir(filepath.Join(tree, p)), 0o755); err != nil {
			t.Fatal(err)
		}
		if err := os.WriteFile(filepath.Join(tree, p), []byte(c), 0o644); err != nil {
			t.Fatal(err)
		}
	}
	repoDir := filepath.Join(work, "repo")
	var out, errb bytes.Buffer
	if code := run(ctx, []string{"commit", "--repo", repoDir, "--branch", "test", "--timestamp-epoch", "1700000000", tree}, &out, &errb); code != 0 {
		t.Fatalf("commit: %d %s", code, errb.String())
	}
	commit := strings.TrimSpace(out.String())
	repo, err := ostreerepo.Open(repoDir)
	if err != nil {
		t.Fatal(err)
	}
	res := &compose.Result{Repo: repo, Commit: commit}
	layout := filepath.Join(work, "oci")
	if err := writeOCI(ctx, res, layout, "oci", ociDefaults(t)); err != nil {
		t.Fatal(err)
	}
	archive := filepath.Join(work, "img.tar")
	if err := writeOCI(ctx, res, archive, "oci-archive", ociDefaults(t)); err != nil {
		t.Fatal(err)
	}
	if st, err := os.Stat(archive); err != nil || st.Size() < 1024 {
		t.Errorf("oci-archive: %v", err)
	}
	if err := writeOCI(ctx, res, layout, "docker", ociDefaults(t)); err == nil {
		t.Error("unknown format accepted")
	}

	out.Reset()
	if code := run(ctx, []string{"import", "--repo", filepath.Join(work, "repo2"), "--ref", "back", layout}, &out, &errb); code != 0 {
		t.Fatalf("import: %d %s", code, errb.String())
	}
	if got := strings.TrimSpace(out.String()); got != commit {
		t.Errorf("import gave %s, want %s", got, commit)
	}

	srv := httptest.NewServer(registry.New(registry.Logger(log.New(io.Discard, "", 0))))
	defer srv.Close()
	ref := strings.TrimPrefix(srv.URL, "http://") + "/test/os:1"
	out.Reset()
	if code := run(ctx, []string{"push", layout, ref}, &out, &errb); code != 0 {
		t.Fatalf("push: %d %s", code, errb.String())
	}
	if !strings.HasPrefix(out.String(), ref+"@sha256:") {
		t.Errorf("push printed %q", out.String())
	}
	if code := run(ctx, []string{"push", layout}, io.Discard, io.Discard); code != 2 {
		t.Errorf("push without a reference: exit %d, want 2", code)
	}
}

func ociDefaults(t *testing.T) ociwriter.Options {
	t.Helper()
	return ociwriter.Options{}
}
