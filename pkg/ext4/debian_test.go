package ext4

import (
	"context"
	"crypto/sha256"
	"encoding/hex"
	"io"
	"io/fs"
	"os"
	"os/exec"
	"path/filepath"
	"sort"
	"strings"
	"sync"
	"syscall"
	"testing"

	"github.com/debatom/debatom/internal/testenv"
	"golang.org/x/sync/errgroup"
)

// extractDebs unpacks every .deb of the test archive with dpkg-deb -x.
func extractDebs(t *testing.T) string {
	t.Helper()
	archive := testenv.Archive(t)
	dpkgDeb := testenv.Tool(t, "dpkg-deb")
	var debs []string
	filepath.WalkDir(filepath.Join(archive, "pool"), func(p string, d fs.DirEntry, err error) error {
		if err == nil && strings.HasSuffix(p, ".deb") {
			debs = append(debs, p)
		}
		return nil
	})
	if len(debs) == 0 {
		t.Fatalf("no .deb files under %s/pool", archive)
	}
	dir := t.TempDir()
	var mu sync.Mutex // dpkg-deb -x into one directory must not race on shared parents
	var g errgroup.Group
	g.SetLimit(2)
	for _, deb := range debs {
		g.Go(func() error {
			tmp, err := os.MkdirTemp(dir, ".x")
			if err != nil {
				return err
			}
			defer os.RemoveAll(tmp)
			if out, err := exec.Command(dpkgDeb, "-x", deb, tmp).CombinedOutput(); err != nil {
				t.Errorf("dpkg-deb -x %s: %v\n%s", deb, err, out)
				return nil
			}
			mu.Lock()
			defer mu.Unlock()
			return mergeInto(tmp, filepath.Join(dir, "root"))
		})
	}
	if err := g.Wait(); err != nil {
		t.Fatal(err)
	}
	return filepath.Join(dir, "root")
}

// mergeInto moves the extracted tree src into dst, later packages
// replacing files of earlier ones as dpkg would.
func mergeInto(src, dst string) error {
	return filepath.WalkDir(src, func(p string, d fs.DirEntry, err error) error {
		if err != nil {
			return err
		}
		rel, _ := filepath.Rel(src, p)
		target := filepath.Join(dst, rel)
		if d.IsDir() {
			info, err := d.Info()
			if err != nil {
				return err
			}
			if st, err := os.Lstat(target); err == nil && st.IsDir() {
				return nil
			}
			if err := os.MkdirAll(target, 0o755); err != nil {
				return err
			}
			os.Chmod(target, info.Mode().Perm()|info.Mode()&(fs.ModeSetuid|fs.ModeSetgid|fs.ModeSticky))
			st := info.Sys().(*syscall.Stat_t)
			return os.Lchown(target, int(st.Uid), int(st.Gid))
		}
		os.Remove(target)
		return os.Rename(p, target)
	})
}

func fileSum(t *testing.T, p string) string {
	t.Helper()
	f, err := os.Open(p)
	if err != nil {
		t.Fatal(err)
	}
	defer f.Close()
	h := sha256.New()
	io.Copy(h, f)
	return hex.EncodeToString(h.Sum(nil))
}

// TestDebianTree writes the unpacked Debian 13 test archive as an image,
// checks it with e2fsck and reads every file back.
func TestDebianTree(t *testing.T) {
	if testing.Short() {
		t.Skip("unpacks 213 packages")
	}
	root := extractDebs(t)
	b := NewBuilder(testOptions())
	files, _, err := testenv.AddTree(b, root, "")
	if err != nil {
		t.Fatal(err)
	}
	img := filepath.Join(t.TempDir(), "debian.img")
	if err := b.WriteFile(context.Background(), img); err != nil {
		t.Fatal(err)
	}
	e2fsck(t, img)

	f, err := os.Open(img)
	if err != nil {
		t.Fatal(err)
	}
	defer f.Close()
	r, err := NewReader(f)
	if err != nil {
		t.Fatal(err)
	}
	checked := 0
	err = filepath.WalkDir(root, func(p string, d fs.DirEntry, err error) error {
		if err != nil {
			return err
		}
		rel, _ := filepath.Rel(root, p)
		in, err := r.Lookup(rel)
		if err != nil {
			t.Errorf("reader: %v", err)
			return nil
		}
		info, _ := d.Info()
		st := info.Sys().(*syscall.Stat_t)
		if in.Mode&0o7777 != st.Mode&0o7777 || in.UID != st.Uid || in.GID != st.Gid {
			t.Errorf("%s: mode %#o %d:%d, want %#o %d:%d", rel, in.Mode, in.UID, in.GID, st.Mode&0o7777, st.Uid, st.Gid)
		}
		switch {
		case d.IsDir():
			if !in.IsDir() {
				t.Errorf("%s: not a directory", rel)
			}
		case info.Mode()&fs.ModeSymlink != 0:
			want, _ := os.Readlink(p)
			if got, err := r.Readlink(in); got != want || err != nil {
				t.Errorf("%s: target %q, %v; want %q", rel, got, err, want)
			}
		case info.Mode().IsRegular():
			if uint64(in.Links) != uint64(st.Nlink) {
				t.Errorf("%s: %d links, want %d", rel, in.Links, st.Nlink)
			}
			h := sha256.New()
			if err := r.ReadFile(in, h); err != nil {
				t.Fatal(err)
			}
			if hex.EncodeToString(h.Sum(nil)) != fileSum(t, p) {
				t.Errorf("%s: content differs", rel)
			}
		}
		checked++
		return nil
	})
	if err != nil {
		t.Fatal(err)
	}
	t.Logf("%d paths checked through the reader, %d files", checked, len(files))

	// debugfs: the largest files dumped and compared.
	sort.Slice(files, func(i, j int) bool {
		a, _ := os.Stat(filepath.Join(root, files[i]))
		b, _ := os.Stat(filepath.Join(root, files[j]))
		return a.Size() > b.Size()
	})
	dump := t.TempDir()
	var cmds []string
	for i, rel := range files[:10] {
		cmds = append(cmds, "dump /"+rel+" "+filepath.Join(dump, strings.Repeat("x", i+1)))
	}
	debugfs(t, img, cmds...)
	for i, rel := range files[:10] {
		if fileSum(t, filepath.Join(dump, strings.Repeat("x", i+1))) != fileSum(t, filepath.Join(root, rel)) {
			t.Errorf("debugfs dump /%s differs", rel)
		}
	}
}
