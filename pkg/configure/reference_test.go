package configure

import (
	"bufio"
	"crypto/sha256"
	"encoding/hex"
	"fmt"
	"os"
	"path"
	"strconv"
	"strings"
	"testing"

	"github.com/debatom/debatom/pkg/fstree"
)

// refEntry is one "+" or "~" line of shared/reference's
// maintscript-effects list: what dpkg's scripts left in the tree.
type refEntry struct {
	path, kind string // kind f, d, l
	mode       uint32
	uid, gid   uint32
	size       int64
	sha16      string // first 16 hex of SHA-256, files only
	target     string // links only
}

func parseRefFields(p string, f []string) (refEntry, error) {
	e := refEntry{path: p}
	if len(f) < 1 {
		return e, fmt.Errorf("%s: no type", p)
	}
	e.kind = f[0]
	if e.kind == "l" {
		if len(f) != 2 {
			return e, fmt.Errorf("%s: link without target", p)
		}
		e.target = f[1]
		return e, nil
	}
	if len(f) < 4 {
		return e, fmt.Errorf("%s: short line", p)
	}
	m, err := strconv.ParseUint(strings.TrimPrefix(f[1], "0o"), 8, 32)
	if err != nil {
		return e, fmt.Errorf("%s: mode %q", p, f[1])
	}
	uid, _ := strconv.Atoi(f[2])
	gid, _ := strconv.Atoi(f[3])
	e.mode, e.uid, e.gid = uint32(m), uint32(uid), uint32(gid)
	if e.kind == "f" {
		if len(f) != 6 {
			return e, fmt.Errorf("%s: file without size and hash", p)
		}
		e.size, _ = strconv.ParseInt(f[4], 10, 64)
		e.sha16 = f[5]
	}
	return e, nil
}

func readReference(t *testing.T) []refEntry {
	t.Helper()
	f, err := os.Open("/work/shared/reference/maintscript-effects-bootable-set.txt")
	if err != nil {
		t.Skipf("reference list not available: %v", err)
	}
	defer f.Close()
	var out []refEntry
	s := bufio.NewScanner(f)
	for s.Scan() {
		line := s.Text()
		var e refEntry
		switch {
		case strings.HasPrefix(line, "+ "):
			fs := strings.Fields(line[2:])
			e, err = parseRefFields(fs[0], fs[1:])
		case strings.HasPrefix(line, "~ "):
			p, rest, _ := strings.Cut(line[2:], " | ")
			_, now, ok := strings.Cut(rest, " => ")
			if !ok {
				t.Fatalf("bad ~ line %q", line)
			}
			e, err = parseRefFields(p, strings.Fields(now))
		default:
			continue
		}
		if err != nil {
			t.Fatal(err)
		}
		out = append(out, e)
	}
	return out
}

// allowRule is one line of testdata/allowlist.txt: a path pattern
// (path.Match, or a prefix ending in "/**") and why it is not produced.
type allowRule struct{ pattern, reason string }

func readAllowlist(t *testing.T) []allowRule {
	b, err := os.ReadFile("testdata/allowlist.txt")
	if err != nil {
		t.Fatal(err)
	}
	var out []allowRule
	for i, line := range strings.Split(string(b), "\n") {
		line = strings.TrimSpace(line)
		if line == "" || line[0] == '#' {
			continue
		}
		p, reason, ok := strings.Cut(line, " ")
		if !ok || strings.TrimSpace(reason) == "" {
			t.Fatalf("allowlist.txt:%d: want PATTERN REASON", i+1)
		}
		out = append(out, allowRule{p, strings.TrimSpace(reason)})
	}
	return out
}

func (a allowRule) match(p string) bool {
	if pre, ok := strings.CutSuffix(a.pattern, "/**"); ok {
		return p == pre || strings.HasPrefix(p, pre+"/")
	}
	ok, _ := path.Match(a.pattern, p)
	return ok
}

func sha16(b []byte) string {
	s := sha256.Sum256(b)
	return hex.EncodeToString(s[:])[:16]
}

// compare reports how the tree's entry at e.path differs from e, or "".
func compareEntry(tr *fstree.Tree, e refEntry) string {
	got := tr.Get(e.path)
	if got == nil {
		return "missing"
	}
	kinds := map[string]fstree.Kind{"f": fstree.File, "d": fstree.Dir, "l": fstree.Symlink}
	if got.Kind != kinds[e.kind] {
		return fmt.Sprintf("is a %s, want %s", got.Kind, e.kind)
	}
	switch e.kind {
	case "l":
		if got.Target != e.target {
			return fmt.Sprintf("links to %s, want %s", got.Target, e.target)
		}
		return ""
	}
	if got.Mode != e.mode || got.UID != e.uid || got.GID != e.gid {
		return fmt.Sprintf("mode %o %d:%d, want %o %d:%d", got.Mode, got.UID, got.GID, e.mode, e.uid, e.gid)
	}
	if e.kind == "f" && (int64(len(got.Data)) != e.size || sha16(got.Data) != e.sha16) {
		return fmt.Sprintf("content %d bytes %s, want %d bytes %s", len(got.Data), sha16(got.Data), e.size, e.sha16)
	}
	return ""
}

// TestReferenceEffects checks every effect the reference installation's
// scripts had that is relevant to the archive's package set: it must be
// produced identically or be listed, with a reason, in the allowlist.
func TestReferenceEffects(t *testing.T) {
	tr, _ := configured(t, Options{})
	_, pkgs := archiveSet(t)
	have := map[string]bool{}
	for _, p := range pkgs {
		have[p.Name] = true
	}
	rules := readAllowlist(t)
	used := make([]int, len(rules))
	var same, allowed, irrelevant, diff int
	for _, e := range readReference(t) {
		if rest, ok := strings.CutPrefix(e.path, "var/lib/dpkg/info/"); ok {
			name, ok := "", false
			if k := strings.LastIndexByte(rest, '.'); k > 0 {
				name, ok = rest[:k], true // PKG[:ARCH].list; "format" is the database's own
			}
			name, _, _ = strings.Cut(name, ":")
			if ok && !have[name] {
				irrelevant++
				continue
			}
		}
		why := compareEntry(tr, e)
		if why == "" {
			same++
			continue
		}
		ok := false
		for i, r := range rules {
			if r.match(e.path) {
				used[i]++
				ok = true
				break
			}
		}
		if ok {
			allowed++
			continue
		}
		diff++
		t.Errorf("%s: %s", e.path, why)
	}
	for i, r := range rules {
		if used[i] == 0 {
			t.Logf("allowlist rule %q matched nothing", r.pattern)
		}
	}
	t.Logf("reference effects: %d identical, %d allowlisted, %d for packages not in the set, %d unexplained differences", same, allowed, irrelevant, diff)
}
