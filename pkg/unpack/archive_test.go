package unpack

import (
	"archive/tar"
	"bufio"
	"bytes"
	"context"
	"crypto/sha256"
	"encoding/hex"
	"fmt"
	"io"
	"os"
	"os/exec"
	"path/filepath"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/debatom/debatom/internal/testenv"
	"github.com/debatom/debatom/pkg/fstree"
	"github.com/debatom/debatom/pkg/ostreerepo"
)

func archiveInputs(t testing.TB) []Input {
	t.Helper()
	debs, err := filepath.Glob(filepath.Join(testenv.Archive(t), "pool", "*", "*", "*", "*.deb"))
	if err != nil || len(debs) == 0 {
		t.Fatalf("no .debs in the archive: %v", err)
	}
	in := make([]Input, len(debs))
	for i, d := range debs {
		in[i] = Input{Path: d}
	}
	return in
}

// TestArchive unpacks every package of the frozen Debian 13 archive into
// an archive-mode repository, cold and then warm, and checks a spread of
// packages against dpkg-deb and ostree.
func TestArchive(t *testing.T) {
	if testing.Short() {
		t.Skip("unpacks all packages of the archive")
	}
	inputs := archiveInputs(t)
	dpkgDeb := testenv.Tool(t, "dpkg-deb")
	ostree := testenv.Tool(t, "ostree")
	repo := newRepo(t, ostreerepo.ModeArchive)
	cache := t.TempDir()
	u := New(repo, Options{CacheDir: cache})
	ctx := context.Background()

	start := time.Now()
	cold, err := u.UnpackAll(ctx, inputs)
	if err != nil {
		t.Fatal(err)
	}
	coldTime := time.Since(start)
	var entries int
	var bytes int64
	for i, r := range cold {
		if r.Cached {
			t.Errorf("%s: cached on a cold run", inputs[i].Path)
		}
		entries += len(r.Manifest.Entries)
		bytes += r.Manifest.Bytes
		if !strings.HasPrefix(filepath.Base(inputs[i].Path), r.Manifest.Package.Name+"_") {
			t.Errorf("result %d is %s, input is %s: results out of order", i, r.Manifest.Package.Name, inputs[i].Path)
		}
	}
	t.Logf("cold: %d packages, %d entries, %d MB in %v", len(cold), entries, bytes>>20, coldTime)

	start = time.Now()
	warm, err := u.UnpackAll(ctx, inputs)
	if err != nil {
		t.Fatal(err)
	}
	t.Logf("warm: %v", time.Since(start))
	for i, r := range warm {
		if !r.Cached {
			t.Errorf("%s: not cached on the warm run", inputs[i].Path)
		}
	}

	for _, r := range cold {
		m := r.Manifest
		switch m.Package.Name {
		case "coreutils", "passwd", "perl-base", "base-files", "util-linux", "libc6":
		default:
			continue
		}
		t.Run(m.Package.Name, func(t *testing.T) {
			path := ""
			for _, in := range inputs {
				if strings.HasPrefix(filepath.Base(in.Path), m.Package.Name+"_") {
					path = in.Path
				}
			}
			checkListing(t, dpkgDeb, path, m)
			ref := checkOstree(t, ostree, repo, m)
			checkContent(t, ostree, dpkgDeb, repo.Dir(), ref, path)
		})
	}
	out, err := exec.Command(ostree, "fsck", "--repo="+repo.Dir()).CombinedOutput()
	if err != nil {
		t.Fatalf("ostree fsck: %v\n%s", err, out)
	}
}

// debianIDs are the fixed uids/gids of base-passwd that packages use in
// their tar headers.
var debianIDs = map[string]uint32{"root": 0, "daemon": 1, "tty": 5, "disk": 6, "man": 6, "mail": 8, "shadow": 42, "utmp": 43, "staff": 50, "games": 60}

// checkListing compares the manifest with `dpkg-deb -c`: every path in
// order, type, permissions, owner, size, and link targets.
func checkListing(t *testing.T, dpkgDeb, path string, m *Manifest) {
	out, err := exec.Command(dpkgDeb, "-c", path).Output()
	if err != nil {
		t.Fatalf("dpkg-deb -c: %v", err)
	}
	lines := strings.Split(strings.TrimSuffix(string(out), "\n"), "\n")
	if len(lines) != len(m.Entries) {
		t.Fatalf("%d entries, dpkg-deb -c lists %d", len(m.Entries), len(lines))
	}
	for i, line := range lines {
		f := strings.Fields(line)
		if len(f) < 6 {
			t.Fatalf("dpkg-deb -c line %q", line)
		}
		perm, owner, size := f[0], f[1], f[2]
		rest := strings.Join(f[5:], " ")
		user, group, _ := strings.Cut(owner, "/")
		uid, ok1 := debianIDs[user]
		gid, ok2 := debianIDs[group]
		if !ok1 || !ok2 {
			t.Fatalf("unknown owner %s in %q", owner, line)
		}
		e := m.Entries[i]
		name, target := rest, ""
		switch perm[0] {
		case 'l':
			name, target, _ = strings.Cut(rest, " -> ")
		case 'h':
			name, target, _ = strings.Cut(rest, " link to ")
		}
		want := fmt.Sprintf("%c %o %d:%d %s %q %q", perm[0], permBits(perm), uid, gid, size, name, target)
		got := fmt.Sprintf("%c %o %d:%d %d %q %q", kindChar(e), e.Mode, e.UID, e.GID, listSize(e), tarName(e), linkName(e))
		if got != want {
			t.Errorf("entry %d: got %s, dpkg-deb -c %s", i, got, want)
		}
	}
}

func kindChar(e Entry) byte {
	switch {
	case e.Hardlink != "":
		return 'h'
	case e.Kind == fstree.Dir:
		return 'd'
	case e.Kind == fstree.Symlink:
		return 'l'
	}
	return '-'
}

func listSize(e Entry) int64 {
	if e.Hardlink != "" {
		return 0
	}
	return e.Size
}

func tarName(e Entry) string {
	if e.Kind == fstree.Dir {
		if e.Path == "" {
			return "./"
		}
		return "./" + e.Path + "/"
	}
	return "./" + e.Path
}

func linkName(e Entry) string {
	if e.Hardlink != "" {
		return "./" + e.Hardlink
	}
	return e.Target
}

// permBits parses "-rwsr-xr-x" into 04755.
func permBits(s string) uint32 {
	var m uint32
	for i, c := range s[1:10] {
		bit := uint32(1) << (8 - i)
		switch c {
		case 'r', 'w', 'x':
			m |= bit
		case 's', 't':
			m |= bit
			fallthrough
		case 'S', 'T':
			m |= []uint32{0o4000, 0o2000, 0o1000}[i/3]
		}
	}
	return m
}

// checkOstree commits the package's tree and compares `ostree ls -R`
// (libostree reading our objects) with the manifest.
func checkOstree(t *testing.T, ostree string, repo *ostreerepo.Repo, m *Manifest) string {
	tree, err := m.Tree()
	if err != nil {
		t.Fatal(err)
	}
	ctx := context.Background()
	dt, dm, err := repo.WriteTree(ctx, tree)
	if err != nil {
		t.Fatal(err)
	}
	ref := "pkg/" + m.Package.Name
	if _, err := repo.Commit(ctx, dt, dm, ostreerepo.CommitOptions{Subject: m.Package.Name, Timestamp: time.Unix(1700000000, 0), Ref: ref}); err != nil {
		t.Fatal(err)
	}
	out, err := exec.Command(ostree, "ls", "-R", "--repo="+repo.Dir(), ref).Output()
	if err != nil {
		t.Fatalf("ostree ls: %v", err)
	}
	want := map[string]string{}
	for _, e := range m.Entries {
		c := map[fstree.Kind]byte{fstree.Dir: 'd', fstree.File: '-', fstree.Symlink: 'l'}[e.Kind]
		s := fmt.Sprintf("%c0%04o %d %d %d /%s", c, e.Mode, e.UID, e.GID, e.Size, e.Path)
		if e.Kind == fstree.Dir {
			s = fmt.Sprintf("d0%04o %d %d 0 /%s", e.Mode, e.UID, e.GID, e.Path)
		}
		if e.Kind == fstree.Symlink {
			s = fmt.Sprintf("l00777 %d %d 0 /%s -> %s", e.UID, e.GID, e.Path, e.Target)
		}
		want["/"+e.Path] = s
	}
	n := 0
	sc := bufio.NewScanner(bytes.NewReader(out))
	for sc.Scan() {
		f := strings.Fields(sc.Text())
		if len(f) < 5 {
			continue
		}
		line := strings.Join(f, " ")
		p := f[4]
		if p == "/" {
			p = "/"
			line = strings.Replace(line, " /", " /", 1)
		}
		key := p
		if p == "/" {
			key = "/"
		}
		w, ok := want[key]
		if !ok {
			t.Errorf("ostree lists %s, not in the manifest", p)
			continue
		}
		n++
		if line != w {
			t.Errorf("ostree ls: %s\n       manifest: %s", line, w)
		}
	}
	if n != len(want) {
		t.Errorf("ostree ls lists %d paths, manifest has %d", n, len(want))
	}
	return ref
}

// checkContent checks out the commit with ostree and compares every
// regular file with the same file of `dpkg-deb --fsys-tarfile`.
func checkContent(t *testing.T, ostree, dpkgDeb, repoDir, ref, debPath string) {
	dir := filepath.Join(t.TempDir(), "co")
	if out, err := exec.Command(ostree, "checkout", "-U", "--repo="+repoDir, ref, dir).CombinedOutput(); err != nil {
		t.Fatalf("ostree checkout: %v\n%s", err, out)
	}
	cmd := exec.Command(dpkgDeb, "--fsys-tarfile", debPath)
	stdout, err := cmd.StdoutPipe()
	if err != nil {
		t.Fatal(err)
	}
	if err := cmd.Start(); err != nil {
		t.Fatal(err)
	}
	defer cmd.Wait()
	files := 0
	err = testenv.TarFiles(stdout, func(h *tar.Header, body io.Reader) error {
		files++
		want := sha256.New()
		if _, err := io.Copy(want, body); err != nil {
			return err
		}
		f, err := os.Open(filepath.Join(dir, h.Name))
		if err != nil {
			t.Errorf("checkout lacks %s: %v", h.Name, err)
			return nil
		}
		got := sha256.New()
		io.Copy(got, f)
		f.Close()
		if !bytes.Equal(got.Sum(nil), want.Sum(nil)) {
			t.Errorf("%s: content differs from dpkg-deb --fsys-tarfile", h.Name)
		}
		return nil
	})
	if err != nil {
		t.Fatalf("dpkg-deb --fsys-tarfile %s: %v", debPath, err)
	}
	if files == 0 {
		t.Error("no regular files compared")
	}
	_ = strconv.Itoa
	_ = hex.EncodeToString
}
