package ostreerepo

import (
	"bytes"
	"context"
	"crypto/sha256"
	"encoding/hex"
	"fmt"
	"io"
	"math/rand/v2"
	"os"
	"os/exec"
	"path/filepath"
	"sort"
	"strings"
	"testing"
	"time"

	"golang.org/x/sys/unix"

	"github.com/debatom/debatom/internal/testenv"
	"github.com/debatom/debatom/pkg/fstree"
)

// runOstree runs the real ostree and returns its trimmed stdout.
func runOstree(t testing.TB, args ...string) string {
	t.Helper()
	cmd := exec.Command(testenv.Tool(t, "ostree"), args...)
	var out, errb bytes.Buffer
	cmd.Stdout, cmd.Stderr = &out, &errb
	if err := cmd.Run(); err != nil {
		t.Fatalf("ostree %s: %v\n%s", strings.Join(args, " "), err, errb.String())
	}
	return strings.TrimSpace(out.String())
}

var testStamp = time.Date(2024, 5, 6, 7, 8, 9, 0, time.UTC)

// syntheticFile describes one entry of the synthetic tree.
type syntheticFile struct {
	path   string
	kind   fstree.Kind
	mode   uint32
	uid    int
	gid    int
	data   []byte
	target string
	xattrs map[string]string
	link   string // hard link to this earlier path
}

// syntheticTree lists every case the commit writer must get right: all
// file types, odd modes, owners, xattrs in every namespace root may
// write, unicode names, hard links, big and empty files and a crowded
// directory (4-byte GVariant framing offsets in its dirtree).
func syntheticTree(root bool) []syntheticFile {
	rng := rand.New(rand.NewPCG(1, 2))
	big := make([]byte, 3<<20+17)
	for i := range big {
		big[i] = byte(rng.IntN(7)) // compressible but not trivially
	}
	files := []syntheticFile{
		{path: "empty", kind: fstree.File, mode: 0o644},
		{path: "small", kind: fstree.File, mode: 0o644, data: []byte("hello\n"), xattrs: map[string]string{"user.comment": "hi", "user.empty": ""}},
		{path: "setuid", kind: fstree.File, mode: 0o4755, data: []byte("#!/bin/sh\n")},
		{path: "setgid", kind: fstree.File, mode: 0o2711, data: []byte("x")},
		{path: "nomode", kind: fstree.File, mode: 0o000, data: []byte("secret")},
		{path: "exec", kind: fstree.File, mode: 0o755, data: []byte("\x7fELF")},
		{path: "big", kind: fstree.File, mode: 0o644, data: big},
		{path: "sticky", kind: fstree.Dir, mode: 0o1777},
		{path: "private", kind: fstree.Dir, mode: 0o700, xattrs: map[string]string{"user.dir": "yes"}},
		{path: "private/f", kind: fstree.File, mode: 0o600, data: []byte("p")},
		{path: "uni", kind: fstree.Dir, mode: 0o755},
		{path: "uni/ünïcødé-文件 name", kind: fstree.File, mode: 0o644, data: []byte("u")},
		{path: "uni/link-ü", kind: fstree.Symlink, target: "../small"},
		{path: "link-rel", kind: fstree.Symlink, target: "small"},
		{path: "link-abs", kind: fstree.Symlink, target: "/etc/passwd"},
		{path: "link-dangling", kind: fstree.Symlink, target: "nowhere/at/all"},
		{path: "hard-small", kind: fstree.File, link: "small"},
		{path: "uni/hard-exec", kind: fstree.File, link: "exec"},
		{path: "many", kind: fstree.Dir, mode: 0o755},
	}
	for i := range 1200 {
		files = append(files, syntheticFile{path: fmt.Sprintf("many/entry-with-a-long-name-%05d", i), kind: fstree.File, mode: 0o644, data: []byte(fmt.Sprint(i % 50))})
	}
	if root {
		files = append(files,
			syntheticFile{path: "owned", kind: fstree.File, mode: 0o640, uid: 1234, gid: 42, data: []byte("owned")},
			syntheticFile{path: "owned-suid", kind: fstree.File, mode: 0o4750, uid: 0, gid: 5, data: []byte("suid")},
			syntheticFile{path: "owned-dir", kind: fstree.Dir, mode: 0o2775, uid: 1000, gid: 1000},
			syntheticFile{path: "owned-dir/link", kind: fstree.Symlink, target: "..", uid: 7, gid: 8, xattrs: map[string]string{"trusted.lnk": "v"}},
			syntheticFile{path: "labelled", kind: fstree.File, mode: 0o755, data: []byte("l"),
				xattrs: map[string]string{"security.selinux": "system_u:object_r:bin_t:s0\x00", "trusted.overlay.opaque": "y", "user.z": "last"}},
		)
	}
	return files
}

// writeSynthetic creates the synthetic tree under dir.
func writeSynthetic(t testing.TB, dir string, files []syntheticFile) {
	t.Helper()
	if err := os.Chmod(dir, 0o755); err != nil {
		t.Fatal(err)
	}
	for _, f := range files {
		p := filepath.Join(dir, f.path)
		var err error
		switch {
		case f.link != "":
			err = os.Link(filepath.Join(dir, f.link), p)
		case f.kind == fstree.Dir:
			err = os.Mkdir(p, 0o755)
		case f.kind == fstree.Symlink:
			err = os.Symlink(f.target, p)
		default:
			err = os.WriteFile(p, f.data, 0o644)
		}
		if err != nil {
			t.Fatal(err)
		}
		if f.link != "" {
			continue
		}
		if f.uid != 0 || f.gid != 0 {
			if err := os.Lchown(p, f.uid, f.gid); err != nil {
				t.Fatal(err)
			}
		}
		keys := make([]string, 0, len(f.xattrs))
		for k := range f.xattrs {
			keys = append(keys, k)
		}
		sort.Strings(keys)
		for _, k := range keys {
			if err := unix.Lsetxattr(p, k, []byte(f.xattrs[k]), 0); err != nil {
				t.Fatalf("setxattr %s on %s: %v", k, p, err)
			}
		}
		if f.kind != fstree.Symlink {
			if err := os.Chmod(p, os.FileMode(f.mode&0o777)|modeBits(f.mode)); err != nil {
				t.Fatal(err)
			}
		}
	}
}

func modeBits(m uint32) os.FileMode {
	var fm os.FileMode
	if m&0o4000 != 0 {
		fm |= os.ModeSetuid
	}
	if m&0o2000 != 0 {
		fm |= os.ModeSetgid
	}
	if m&0o1000 != 0 {
		fm |= os.ModeSticky
	}
	return fm
}

// diskEntry is what a test compares between a directory and a commit.
type diskEntry struct {
	kind   fstree.Kind
	meta   fstree.Meta
	target string
	sum    string // SHA-256 of a regular file's content
}

func (d diskEntry) String() string {
	return fmt.Sprintf("%s %o %d:%d %v %q %s", d.kind, d.meta.Mode, d.meta.UID, d.meta.GID, d.meta.Xattrs, d.target, d.sum)
}

// scanDisk reads a real directory into comparable entries.
func scanDisk(t testing.TB, dir string) map[string]string {
	t.Helper()
	out := map[string]string{}
	err := filepath.Walk(dir, func(p string, _ os.FileInfo, err error) error {
		if err != nil {
			return err
		}
		rel, _ := filepath.Rel(dir, p)
		if rel == "." {
			rel = ""
		}
		var st unix.Stat_t
		if err := unix.Lstat(p, &st); err != nil {
			return err
		}
		xs, err := readXattrs(p, -1)
		if err != nil {
			return err
		}
		e := diskEntry{meta: fstree.Meta{UID: st.Uid, GID: st.Gid, Mode: st.Mode & 0o7777, Xattrs: xs}}
		switch st.Mode & sIFMT {
		case sIFDIR:
			e.kind = fstree.Dir
		case sIFLNK:
			e.kind = fstree.Symlink
			e.target, _ = os.Readlink(p)
		default:
			e.kind = fstree.File
			data, err := os.ReadFile(p)
			if err != nil {
				return err
			}
			s := sha256.Sum256(data)
			e.sum = hex.EncodeToString(s[:])
		}
		out[rel] = e.String()
		return nil
	})
	if err != nil {
		t.Fatal(err)
	}
	return out
}

// scanCommit reads a commit through this package into comparable entries.
func scanCommit(t testing.TB, r *Repo, ref string) map[string]string {
	t.Helper()
	out := map[string]string{}
	err := r.Walk(context.Background(), ref, func(p string, e *fstree.Entry) error {
		d := diskEntry{kind: e.Kind, meta: e.Meta, target: e.Target}
		if d.meta.Xattrs == nil {
			d.meta.Xattrs = nil
		}
		if e.Kind == fstree.File {
			rc, _, err := r.OpenFile(e.Object)
			if err != nil {
				return err
			}
			h := sha256.New()
			_, err = io.Copy(h, rc)
			rc.Close()
			if err != nil {
				return fmt.Errorf("%s: %w", p, err)
			}
			d.sum = hex.EncodeToString(h.Sum(nil))
		}
		out[p] = d.String()
		return nil
	})
	if err != nil {
		t.Fatal(err)
	}
	return out
}

func diffMaps(t testing.TB, what string, got, want map[string]string) {
	t.Helper()
	n := 0
	for k, w := range want {
		if g, ok := got[k]; !ok || g != w {
			if n++; n <= 10 {
				t.Errorf("%s: %q:\n got %s\nwant %s", what, k, g, w)
			}
		}
	}
	for k, g := range got {
		if _, ok := want[k]; !ok {
			if n++; n <= 10 {
				t.Errorf("%s: extra %q: %s", what, k, g)
			}
		}
	}
	if n > 10 {
		t.Errorf("%s: %d differences in all", what, n)
	}
}
