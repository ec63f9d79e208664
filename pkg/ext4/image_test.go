package ext4

import (
	"bytes"
	"context"
	"crypto/sha256"
	"encoding/binary"
	"encoding/hex"
	"fmt"
	"os"
	"path/filepath"
	"regexp"
	"strconv"
	"strings"
	"syscall"
	"testing"
)

// expect is what a path must read back as.
type expect struct {
	path   string
	kind   nodeKind
	mode   uint32
	uid    uint32
	gid    uint32
	links  uint16
	sha    string // regular files
	size   int64
	target string
	xattrs []Xattr
}

type synthetic struct {
	b     *Builder
	want  []expect
	huge  string // path of the big generated file
	sizes map[string]int64
}

// testACL is user::rwx user:1000:r-x group::r-x group:50:rwx mask::rwx other::---.
var testACL = func() []byte {
	b := binary.LittleEndian.AppendUint32(nil, 2)
	for _, e := range [][3]uint32{{1, 7, ^uint32(0)}, {2, 5, 1000}, {4, 5, ^uint32(0)}, {8, 7, 50}, {0x10, 7, ^uint32(0)}, {0x20, 0, ^uint32(0)}} {
		b = binary.LittleEndian.AppendUint16(b, uint16(e[0]))
		b = binary.LittleEndian.AppendUint16(b, uint16(e[1]))
		b = binary.LittleEndian.AppendUint32(b, e[2])
	}
	return b
}()

// hugeSize is the size of the big generated file: 600 MB, so that it
// needs five extents and so a one-level extent tree.
const hugeSize = 600 << 20

// buildSynthetic makes a tree with every feature the writer supports.
func buildSynthetic(t testing.TB, opts Options, huge bool) *synthetic {
	t.Helper()
	s := &synthetic{b: NewBuilder(opts), sizes: map[string]int64{}}
	b := s.b
	must := func(err error) {
		t.Helper()
		if err != nil {
			t.Fatal(err)
		}
	}
	add := func(e expect, xs []Xattr, open func() ([]byte, error)) {
		t.Helper()
		e.xattrs = xs
		switch e.kind {
		case kindDir:
			must(b.Mkdir(e.path, e.mode, e.uid, e.gid, xs))
		case kindSymlink:
			e.mode = 0o777
			must(b.Symlink(e.path, e.target, e.uid, e.gid, xs))
		}
		s.want = append(s.want, e)
	}
	file := func(p string, mode, uid, gid uint32, xs []Xattr, content []byte, links uint16) {
		t.Helper()
		must(b.AddFile(p, mode, uid, gid, xs, int64(len(content)), bytesOpen(content)))
		s.want = append(s.want, expect{path: p, kind: kindFile, mode: mode, uid: uid, gid: gid, links: links,
			sha: sum(content), size: int64(len(content)), xattrs: xs})
	}

	must(b.Mkdir("", 0o755, 0, 0, []Xattr{{"security.selinux", []byte("system_u:object_r:root_t:s0\x00")}}))
	add(expect{path: "etc", kind: kindDir, mode: 0o755, links: 2}, nil, nil)
	file("etc/hostname", 0o644, 0, 0, nil, []byte("debatom\n"), 1)
	file("etc/empty", 0o600, 0, 0, nil, nil, 1)
	file("etc/shadow", 0o640, 0, 42, []Xattr{{"user.note", []byte("secret")}}, []byte("root:*:19000:0:99999:7:::\n"), 1)
	add(expect{path: "tmp", kind: kindDir, mode: 0o1777, links: 2}, nil, nil)
	add(expect{path: "srv", kind: kindDir, mode: 0o755, links: 4}, nil, nil)
	add(expect{path: "srv/shared", kind: kindDir, mode: 0o2775, uid: 1000, gid: 100000, links: 2},
		[]Xattr{{"trusted.overlay.opaque", []byte("y")}}, nil)
	file("srv/shared/odd", 0o4711, 70000, 4294967294, nil, []byte("#!/bin/sh\nexit 0\n"), 1)
	file("srv/shared/none", 0, 1, 1, nil, []byte("x"), 1)
	caps := []byte{0, 0, 0, 2, 0, 0x20, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0}
	file("srv/shared/ping", 0o755, 0, 0, []Xattr{{"security.capability", caps}}, bytes.Repeat([]byte{0x7f, 'E', 'L', 'F'}, 3000), 1)

	// POSIX ACLs, given in xattr form (ids of the *_OBJ, MASK and OTHER
	// entries undefined, as the kernel reports them).
	add(expect{path: "srv/acl", kind: kindDir, mode: 0o770, links: 2}, []Xattr{
		{"system.posix_acl_access", testACL},
		{"system.posix_acl_default", testACL},
	}, nil)

	// Symlinks: fast (< 60 bytes, in the inode) and slow (a block).
	add(expect{path: "bin", kind: kindSymlink, target: "usr/bin"}, nil, nil)
	add(expect{path: "etc/slow", kind: kindSymlink, target: strings.Repeat("long/", 40) + "target"},
		[]Xattr{{"security.selinux", []byte("system_u:object_r:etc_t:s0\x00")}}, nil)
	add(expect{path: "etc/edge59", kind: kindSymlink, target: strings.Repeat("e", 59)}, nil, nil)
	add(expect{path: "etc/edge60", kind: kindSymlink, target: strings.Repeat("f", 60)}, nil, nil)

	// A large attribute set goes to a block, shared by every file that
	// has the same set.
	bigX := []Xattr{
		{"security.selinux", []byte("system_u:object_r:usr_t:s0\x00")},
		{"trusted.md5", bytes.Repeat([]byte("m"), 150)},
		{"user.comment", bytes.Repeat([]byte("c"), 300)},
		{"user.empty", nil},
	}
	add(expect{path: "usr", kind: kindDir, mode: 0o755, links: 5}, nil, nil)
	add(expect{path: "usr/share", kind: kindDir, mode: 0o755, links: 2}, nil, nil)
	for i := range 20 {
		file(fmt.Sprintf("usr/share/x%02d", i), 0o644, 0, 0, bigX, []byte(fmt.Sprint(i)), 1)
	}

	// A medium file of dense data, and the big sparse-ish one.
	add(expect{path: "usr/lib", kind: kindDir, mode: 0o755, links: 2}, nil, nil)
	must(b.AddFile("usr/lib/dense.bin", 0o644, 0, 0, nil, 5<<20+123, gen(5<<20+123, 7, 1)))
	s.want = append(s.want, expect{path: "usr/lib/dense.bin", kind: kindFile, mode: 0o644, links: 1, size: 5<<20 + 123, sha: genSum(5<<20+123, 7, 1)})
	if huge {
		s.huge = "usr/lib/huge.img"
		must(b.AddFile(s.huge, 0o644, 0, 0, nil, hugeSize, gen(hugeSize, 9, 256)))
		s.want = append(s.want, expect{path: s.huge, kind: kindFile, mode: 0o644, links: 1, size: hugeSize, sha: genSum(hugeSize, 9, 256)})
	}

	// Hard links: an OSTree-like object store checked out by hard
	// links, and one file with 3000 names.
	add(expect{path: "usr/objects", kind: kindDir, mode: 0o755, links: 2}, nil, nil)
	add(expect{path: "deploy", kind: kindDir, mode: 0o755, links: 2}, nil, nil)
	for i := range 300 {
		content := []byte(fmt.Sprintf("object %d\n", i))
		obj := fmt.Sprintf("usr/objects/%02x%062x.file", i%256, i)
		file(obj, 0o644, 0, 0, []Xattr{{"user.ostreemeta", []byte{byte(i), 1, 2, 3}}}, content, 3)
		must(b.Hardlink(fmt.Sprintf("deploy/f%03d", i), obj))
		must(b.Hardlink(fmt.Sprintf("deploy/g%03d", i), "/"+obj))
	}
	add(expect{path: "links", kind: kindDir, mode: 0o755, links: 2}, nil, nil)
	file("links/one", 0o444, 0, 0, nil, []byte("many names\n"), 3000)
	for i := 1; i < 3000; i++ {
		must(b.Hardlink(fmt.Sprintf("links/n%04d", i), "links/one"))
	}
	must(b.Hardlink("links/sym", "bin")) // a hard link to a symlink

	// Directories of many entries: 5000 names (a one-level htree) and
	// 10000 long names (a two-level htree), some not ASCII.
	add(expect{path: "many", kind: kindDir, mode: 0o755, links: 2}, nil, nil)
	for i := range 5000 {
		name := fmt.Sprintf("many/entry-%05d", i)
		if i%100 == 0 {
			name = fmt.Sprintf("many/näme-ü-%05d-日本", i)
		}
		must(b.AddFile(name, 0o644, uint32(i), uint32(i), nil, 0, nil))
		if i%997 == 0 {
			s.want = append(s.want, expect{path: name, kind: kindFile, mode: 0o644, uid: uint32(i), gid: uint32(i), links: 1, sha: sum(nil)})
		}
	}
	add(expect{path: "wide", kind: kindDir, mode: 0o755, links: 2}, nil, nil)
	for i := range 10000 {
		must(b.Symlink(fmt.Sprintf("wide/%s-%05d", strings.Repeat("w", 240), i), "x", 0, 0, nil))
	}
	// Deep nesting, parents made implicitly.
	file("a/b/c/d/e/f/g/h/leaf", 0o644, 0, 0, nil, []byte("deep"), 1)
	return s
}

func statFields(t *testing.T, out string) (mode uint32, uid, gid uint64, links uint16) {
	t.Helper()
	m := regexp.MustCompile(`Mode:\s+0?([0-7]+)`).FindStringSubmatch(out)
	u := regexp.MustCompile(`User:\s+(-?\d+)\s+Group:\s+(-?\d+)`).FindStringSubmatch(out)
	l := regexp.MustCompile(`Links:\s+(\d+)`).FindStringSubmatch(out)
	if m == nil || u == nil || l == nil {
		t.Fatalf("cannot parse debugfs stat output:\n%s", out)
	}
	mv, _ := strconv.ParseUint(m[1], 8, 32)
	// debugfs prints ids as signed 32-bit numbers.
	u1, _ := strconv.ParseInt(u[1], 10, 64)
	u2, _ := strconv.ParseInt(u[2], 10, 64)
	uid, gid = uint64(uint32(u1)), uint64(uint32(u2))
	lv, _ := strconv.ParseUint(l[1], 10, 16)
	return uint32(mv), uid, gid, uint16(lv)
}

// TestSyntheticTree builds the full-feature tree and checks it with
// e2fsck, debugfs and the package's own reader.
func TestSyntheticTree(t *testing.T) {
	if testing.Short() {
		t.Skip("writes a 600 MB file")
	}
	s := buildSynthetic(t, testOptions(), true)
	img := filepath.Join(t.TempDir(), "synthetic.img")
	if err := s.b.WriteFile(context.Background(), img); err != nil {
		t.Fatal(err)
	}
	e2fsck(t, img)

	// The image is sparse: the huge file's zero blocks were not written.
	var st syscall.Stat_t
	if err := syscall.Stat(img, &st); err != nil {
		t.Fatal(err)
	}
	if used := st.Blocks * 512; used > 120<<20 {
		t.Errorf("image uses %d MiB on disk for %d MiB apparent; zero blocks were written", used>>20, st.Size>>20)
	}

	// debugfs: stat, attributes, symlink targets, contents.
	var cmds []string
	dumpDir := t.TempDir()
	for i, e := range s.want {
		cmds = append(cmds, "stat /"+e.path, "ea_list /"+e.path)
		if e.kind == kindFile && e.size < 64<<20 {
			cmds = append(cmds, fmt.Sprintf("dump /%s %s/%d", e.path, dumpDir, i))
		} else {
			cmds = append(cmds, "cat /"+e.path)
		}
	}
	outs := debugfs(t, img, cmds...)
	for i, e := range s.want {
		stat, ea, third := outs[3*i], outs[3*i+1], outs[3*i+2]
		mode, uid, gid, links := statFields(t, stat)
		if mode != e.mode || uid != uint64(e.uid) || gid != uint64(e.gid) {
			t.Errorf("%s: debugfs mode %#o uid %d gid %d, want %#o %d %d", e.path, mode, uid, gid, e.mode, e.uid, e.gid)
		}
		if e.links != 0 && links != e.links {
			t.Errorf("%s: debugfs links %d, want %d", e.path, links, e.links)
		}
		for _, x := range e.xattrs {
			if !strings.Contains(ea, "  "+x.Name+" (") {
				t.Errorf("%s: debugfs ea_list lacks %s:\n%s", e.path, x.Name, ea)
			}
		}
		switch e.kind {
		case kindFile:
			if e.size >= 64<<20 {
				continue
			}
			got, err := os.ReadFile(fmt.Sprintf("%s/%d", dumpDir, i))
			if err != nil {
				t.Fatal(err)
			}
			if sum(got) != e.sha {
				t.Errorf("%s: debugfs dump differs (%d bytes, want %d)", e.path, len(got), e.size)
			}
		case kindSymlink:
			if len(e.target) < 60 {
				if !strings.Contains(stat, "Fast link dest: \""+e.target+"\"") {
					t.Errorf("%s: debugfs stat lacks fast link dest %q:\n%s", e.path, e.target, stat)
				}
			} else if !strings.HasPrefix(third, "cat /"+e.path+"\n"+e.target) {
				t.Errorf("%s: debugfs cat: %q, want target %q", e.path, third, e.target)
			}
		}
	}
	// The trees the test means to build: a two-level htree for /wide, a
	// one-level one for /many, and an extent tree of depth 1 for the
	// huge file.
	outs = debugfs(t, img, "htree /wide", "htree /many", "ex /"+s.huge)
	if !strings.Contains(outs[0], "Indirect levels: 1") || !strings.Contains(outs[1], "Indirect levels: 0") {
		t.Errorf("htree levels of /wide and /many not 1 and 0:\n%.400s\n%.400s", outs[0], outs[1])
	}
	if !regexp.MustCompile(`(?m)^\s*0/ 1\s+1/\s*1`).MatchString(outs[2]) || !strings.Contains(outs[2], " 1/ 1 ") {
		t.Errorf("huge file's extent tree is not of depth 1:\n%s", outs[2])
	}
	if t.Failed() {
		return
	}
	checkWithReader(t, img, s)
}

// checkWithReader reads everything back through Reader.
func checkWithReader(t *testing.T, img string, s *synthetic) {
	f, err := os.Open(img)
	if err != nil {
		t.Fatal(err)
	}
	defer f.Close()
	r, err := NewReader(f)
	if err != nil {
		t.Fatal(err)
	}
	if r.Label != "root" || r.UUID != testOptions().UUID {
		t.Errorf("label %q uuid %x", r.Label, r.UUID)
	}
	for _, e := range s.want {
		in, err := r.Lookup(e.path)
		if err != nil {
			t.Errorf("reader: %v", err)
			continue
		}
		if in.Mode&0o7777 != e.mode || in.UID != e.uid || in.GID != e.gid || (e.links != 0 && in.Links != e.links) {
			t.Errorf("reader %s: mode %#o uid %d gid %d links %d, want %#o %d %d %d", e.path, in.Mode, in.UID, in.GID, in.Links, e.mode, e.uid, e.gid, e.links)
		}
		xs, err := r.Xattrs(in)
		if err != nil {
			t.Errorf("reader %s: %v", e.path, err)
		}
		if fmt.Sprint(sortedX(xs)) != fmt.Sprint(sortedX(e.xattrs)) {
			t.Errorf("reader %s: xattrs %q, want %q", e.path, xs, e.xattrs)
		}
		switch e.kind {
		case kindFile:
			h := sha256.New()
			if err := r.ReadFile(in, h); err != nil {
				t.Fatal(err)
			}
			if got := hex.EncodeToString(h.Sum(nil)); got != e.sha {
				t.Errorf("reader %s: content differs", e.path)
			}
		case kindSymlink:
			if got, err := r.Readlink(in); err != nil || got != e.target {
				t.Errorf("reader %s: target %q, %v; want %q", e.path, got, err, e.target)
			}
		}
	}
	for _, dir := range []struct {
		path string
		n    int
	}{{"many", 5002}, {"wide", 10002}, {"links", 3003}, {"deploy", 602}, {"lost+found", 2}} {
		in, err := r.Lookup(dir.path)
		if err != nil {
			t.Fatal(err)
		}
		ents, err := r.ReadDir(in)
		if err != nil {
			t.Fatal(err)
		}
		if len(ents) != dir.n {
			t.Errorf("reader: %s has %d entries, want %d", dir.path, len(ents), dir.n)
		}
	}
}

func sortedX(xs []Xattr) []string {
	var out []string
	for _, x := range xs {
		out = append(out, x.Name+"="+string(x.Value))
	}
	for i := range out {
		for j := i + 1; j < len(out); j++ {
			if out[j] < out[i] {
				out[i], out[j] = out[j], out[i]
			}
		}
	}
	return out
}
