package compose

import (
	"bufio"
	"context"
	"crypto/sha256"
	"encoding/hex"
	"fmt"
	"io"
	"io/fs"
	"os"
	"path"
	"path/filepath"
	"sort"
	"strings"
	"syscall"
	"testing"

	"github.com/debatom/debatom/internal/testenv"
	"github.com/debatom/debatom/pkg/configure/ostreelayout"
	"github.com/debatom/debatom/pkg/configure/sysroot"
	"github.com/debatom/debatom/pkg/fstree"
	"github.com/debatom/debatom/pkg/ostreerepo"
)

// loadDir reads a real root filesystem into a tree with inline contents,
// the form ostreelayout works on. Device nodes, sockets and FIFOs are left
// out: OSTree cannot hold them.
func loadDir(t *testing.T, root string) *fstree.Tree {
	t.Helper()
	tr := fstree.New()
	err := filepath.WalkDir(root, func(p string, d fs.DirEntry, err error) error {
		if err != nil {
			return err
		}
		rel, _ := filepath.Rel(root, p)
		if rel == "." {
			rel = ""
		}
		fi, err := os.Lstat(p)
		if err != nil {
			return err
		}
		st := fi.Sys().(*syscall.Stat_t)
		e := &fstree.Entry{Meta: fstree.Meta{Mode: st.Mode & 0o7777, UID: st.Uid, GID: st.Gid}}
		switch fi.Mode().Type() {
		case fs.ModeDir:
			e.Kind = fstree.Dir
		case fs.ModeSymlink:
			e.Kind = fstree.Symlink
			e.Target, err = os.Readlink(p)
			if err != nil {
				return err
			}
		case 0:
			e.Kind = fstree.File
			e.Data, err = os.ReadFile(p)
			if err != nil {
				return err
			}
			if e.Data == nil {
				e.Data = []byte{}
			}
			e.Size = int64(len(e.Data))
		default:
			return nil
		}
		if rel == "" {
			return tr.Put("", e)
		}
		return tr.Put(rel, e)
	})
	if err != nil {
		t.Fatal(err)
	}
	return tr
}

type diffEntry struct {
	path, what string
}

// describe gives an entry's comparable identity: type, mode, owner, and
// content digest or link target.
func describe(t *testing.T, e *fstree.Entry, open func(*fstree.Entry) (io.ReadCloser, error)) string {
	switch e.Kind {
	case fstree.Dir:
		return fmt.Sprintf("d %04o %d:%d", e.Mode, e.UID, e.GID)
	case fstree.Symlink:
		return fmt.Sprintf("l %s", e.Target)
	}
	h := sha256.New()
	if e.Data != nil || e.Object == "" {
		h.Write(e.Data)
	} else {
		rc, err := open(e)
		if err != nil {
			t.Fatal(err)
		}
		io.Copy(h, rc)
		rc.Close()
	}
	return fmt.Sprintf("f %04o %d:%d %.16s", e.Mode, e.UID, e.GID, hex.EncodeToString(h.Sum(nil)))
}

func diffTrees(t *testing.T, want, got *fstree.Tree, openGot func(*fstree.Entry) (io.ReadCloser, error)) []diffEntry {
	var out []diffEntry
	seen := map[string]bool{}
	for _, p := range want.Paths() {
		seen[p] = true
		we := want.Get(p)
		ge := got.Get(p)
		if ge == nil {
			out = append(out, diffEntry{p, "only in mmdebstrap: " + describe(t, we, nil)})
			continue
		}
		ws, gs := describe(t, we, nil), describe(t, ge, openGot)
		if ws != gs {
			out = append(out, diffEntry{p, fmt.Sprintf("mmdebstrap %s, debatom %s", ws, gs)})
		}
	}
	for _, p := range got.Paths() {
		if !seen[p] {
			out = append(out, diffEntry{p, "only in debatom: " + describe(t, got.Get(p), openGot)})
		}
	}
	sort.Slice(out, func(i, j int) bool { return out[i].path < out[j].path })
	return out
}

// allowRule is one line of testdata/mmdebstrap-allowlist.txt: a path
// pattern (path.Match syntax; a trailing "/**" also matches the whole
// subtree) and the reason the difference is accepted.
type allowRule struct {
	pattern, reason string
	used            int
}

func readAllowlist(t *testing.T) []*allowRule {
	f, err := os.Open("testdata/mmdebstrap-allowlist.txt")
	if err != nil {
		t.Fatal(err)
	}
	defer f.Close()
	var rules []*allowRule
	s := bufio.NewScanner(f)
	for s.Scan() {
		line := strings.TrimSpace(s.Text())
		if line == "" || strings.HasPrefix(line, "#") {
			continue
		}
		pat, reason, ok := strings.Cut(line, " ")
		if !ok || strings.TrimSpace(reason) == "" {
			t.Fatalf("allowlist line %q has no reason", line)
		}
		rules = append(rules, &allowRule{pattern: pat, reason: strings.TrimSpace(reason)})
	}
	return rules
}

func (r *allowRule) match(p string) bool {
	if sub, ok := strings.CutSuffix(r.pattern, "/**"); ok {
		for q := p; q != "." && q != ""; q = path.Dir(q) {
			if ok, _ := path.Match(sub, q); ok {
				return true
			}
		}
		return false
	}
	ok, _ := path.Match(r.pattern, p)
	return ok
}

// TestMatchesMmdebstrap is the configure stage's oracle: the 213 packages
// installed by mmdebstrap in root mode (dpkg runs every maintainer script),
// put through the same OSTree layout transform, against debatom's commit,
// path by path. Every difference must be fixed or allowlisted with a reason.
func TestMatchesMmdebstrap(t *testing.T) {
	if testing.Short() {
		t.Skip("slow: installs 213 packages with mmdebstrap")
	}
	srcs := archiveSources(t)
	testenv.Tool(t, "ostree")
	ctx := context.Background()
	tf := loadTestTreefile(t, "oracle.yaml")
	// The shared output and cache make this build warm when
	// TestBuildArchive ran first: only the configure stage differs.
	res, err := Build(ctx, Options{Treefile: tf, Sources: srcs, OutDir: sharedOut, CacheDir: sharedCache})
	if err != nil {
		t.Fatal(err)
	}
	rootDir := os.Getenv("DEBATOM_TEST_MMDEBSTRAP_ROOT") // a ready install, for development
	if rootDir == "" {
		rootDir = testenv.Mmdebstrap(t, "minbase", tf.Request())
	}
	want := loadDir(t, rootDir)
	r := sysroot.New(want, sysroot.Inline{}, nil)
	if _, err := ostreelayout.Apply(r); err != nil {
		t.Fatalf("layout on the mmdebstrap tree: %v", err)
	}
	repo, err := ostreerepo.Open(res.RepoDir)
	if err != nil {
		t.Fatal(err)
	}
	got, err := repo.Checkout(ctx, res.Commit)
	if err != nil {
		t.Fatal(err)
	}
	open := func(e *fstree.Entry) (io.ReadCloser, error) {
		rc, _, err := repo.OpenFile(e.Object)
		return rc, err
	}
	diffs := diffTrees(t, want, got, open)
	rules := readAllowlist(t)
	var unlisted []diffEntry
	outsideVar := 0
	for _, d := range diffs {
		var hit *allowRule
		for _, r := range rules {
			if r.match(d.path) {
				hit = r
				break
			}
		}
		if hit == nil {
			unlisted = append(unlisted, d)
			continue
		}
		hit.used++
		// The layout moved /var's content to usr/share/factory/var.
		if !strings.HasPrefix(d.path+"/", "usr/share/factory/var/") {
			outsideVar++
		}
	}
	t.Logf("%d differences: %d allowlisted (%d outside /var), %d not listed", len(diffs), len(diffs)-len(unlisted), outsideVar, len(unlisted))
	for _, r := range rules {
		if r.used == 0 {
			t.Errorf("allowlist rule %q matches nothing: remove it", r.pattern)
		}
	}
	if len(unlisted) > 0 {
		var b strings.Builder
		for i, d := range unlisted {
			if i == 200 {
				fmt.Fprintf(&b, "... and %d more\n", len(unlisted)-i)
				break
			}
			fmt.Fprintf(&b, "  /%s: %s\n", d.path, d.what)
		}
		t.Errorf("%d differences from mmdebstrap are neither fixed nor allowlisted:\n%s", len(unlisted), b.String())
	}
}
