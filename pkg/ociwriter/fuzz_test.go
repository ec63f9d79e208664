package ociwriter

import (
	"bytes"
	"context"
	"strings"
	"testing"

	"github.com/debatom/debatom/pkg/fstree"
)

// FuzzImportLayer feeds arbitrary tar streams to the importer: it must
// return an error or nil, never panic, and never hold more than its
// bounds.
func FuzzImportLayer(f *testing.F) {
	obj := "sysroot/ostree/repo/objects/ab/" + strings.Repeat("c", 62)
	f.Add(makeTar(f, []tarEntry{{name: obj + ".file-xattrs-link"}, {name: obj + ".file", body: "x"}}))
	f.Add(makeTar(f, []tarEntry{{name: obj + ".dirtree", body: "\x00"}, {name: obj + ".commit", body: "c"}}))
	f.Add(makeTar(f, []tarEntry{{name: obj + ".file-xattrs-link", link: obj + ".file-xattrs-link"}}))
	f.Add(makeTar(f, []tarEntry{{name: "usr/bin/x", body: "x"}, {name: obj + ".commitmeta", body: "\x00"}}))
	repo := newRepo(f)
	f.Fuzz(func(t *testing.T, data []byte) {
		im := &importer{repo: repo, xattrs: map[string][]fstree.Xattr{}}
		if err := im.layer(context.Background(), bytes.NewReader(data)); err != nil && strings.Contains(err.Error(), "\n") {
			t.Errorf("multi-line error: %v", err)
		}
	})
}

// FuzzParseManifest checks the reader of --previous manifests.
func FuzzParseManifest(f *testing.F) {
	f.Add([]byte(`{"schemaVersion":2,"layers":[{"digest":"sha256:` + strings.Repeat("a", 64) + `","annotations":{"ostree.components":"a,b","org.debatom.chunk":"packages"}}]}`))
	f.Add([]byte(`{"schemaVersion":2,"layers":[{"digest":"sha256:x"}]}`))
	f.Add([]byte(`{}`))
	f.Fuzz(func(t *testing.T, data []byte) {
		m, err := parseManifest(data)
		if err != nil {
			return
		}
		for _, g := range packingOf(m) {
			if len(g) == 0 {
				t.Errorf("empty group from %q", data)
			}
			for _, p := range g {
				if p == "" || strings.Contains(p, ",") {
					t.Errorf("bad package name %q", p)
				}
			}
		}
	})
}
