package main

import (
	"bytes"
	"context"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/debatom/debatom/pkg/deb/debtest"
)

func TestUnpackCommand(t *testing.T) {
	dir := t.TempDir()
	var debs []string
	for _, name := range []string{"a", "b"} {
		p := filepath.Join(dir, name+".deb")
		b := debtest.Build(debtest.Package{
			Control: "Package: " + name + "\nVersion: 1.0\nArchitecture: all\n",
			Data:    []debtest.Entry{debtest.Dir("./", 0o755), debtest.File("./usr/"+name, 0o644, "hello "+name)},
		})
		if err := os.WriteFile(p, b, 0o644); err != nil {
			t.Fatal(err)
		}
		debs = append(debs, p)
	}
	repo, cache := filepath.Join(dir, "repo"), filepath.Join(dir, "cache")
	unpackCLI := func(args ...string) (int, string, string) {
		var out, errb bytes.Buffer
		code := run(context.Background(), append([]string{"unpack"}, args...), &out, &errb)
		return code, out.String(), errb.String()
	}
	code, out, stderr := unpackCLI(append([]string{"--repo", repo, "--cache", cache, "--workers", "2"}, debs...)...)
	if code != 0 {
		t.Fatalf("exit %d: %s", code, stderr)
	}
	if !strings.Contains(out, "a:all") || !strings.Contains(out, "total: 2 packages (0 cached), 4 entries, 14 bytes") {
		t.Errorf("output:\n%s", out)
	}
	if _, err := os.Stat(filepath.Join(repo, "config")); err != nil {
		t.Error(err)
	}
	code, out, _ = unpackCLI(append([]string{"--repo", repo, "--cache", cache}, debs...)...)
	if code != 0 || !strings.Contains(out, "(2 cached)") {
		t.Errorf("warm run: exit %d\n%s", code, out)
	}

	for _, tt := range []struct {
		args []string
		code int
		want string
	}{
		{[]string{debs[0]}, 2, "need --repo"},
		{[]string{"--repo", repo}, 2, "need --repo and at least one .deb"},
		{[]string{"--repo", repo, "--workers", "0", debs[0]}, 2, "--workers must be at least 1"},
		{[]string{"--repo", filepath.Join(dir, "r2"), "--mode", "weird", debs[0]}, 2, "unknown repository mode"},
		{[]string{"--repo", repo, filepath.Join(dir, "missing.deb")}, 1, "missing.deb"},
	} {
		code, _, stderr := unpackCLI(tt.args...)
		if code != tt.code || !strings.Contains(stderr, tt.want) {
			t.Errorf("unpack %v: exit %d, stderr %q; want exit %d and %q", tt.args, code, stderr, tt.code, tt.want)
		}
	}
}
