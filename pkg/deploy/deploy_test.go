package deploy

import (
	"bytes"
	"context"
	"crypto/sha256"
	"encoding/hex"
	"io"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/debatom/debatom/internal/testenv"
	"github.com/debatom/debatom/pkg/fstree"
	"github.com/debatom/debatom/pkg/ostreerepo"
)

const testKver = "6.12.0-test-amd64"

// testFiles is a small bootable-layout tree: kernel and initramfs where
// ostree looks, usr/etc with the account files, os-release.
func testFiles() map[string]string {
	return map[string]string{
		"usr/lib/modules/" + testKver + "/vmlinuz":       "kernel image bytes",
		"usr/lib/modules/" + testKver + "/initramfs.img": "initramfs bytes",
		"usr/lib/os-release":                             "PRETTY_NAME=\"Debian GNU/Linux 13 (trixie)\"\nID=debian\n",
		"usr/etc/passwd":                                 "root:x:0:0:root:/root:/bin/bash\nnobody:x:65534:65534:nobody:/nonexistent:/usr/sbin/nologin\n",
		"usr/etc/group":                                  "root:x:0:\nsudo:x:27:\nusers:x:100:\n",
		"usr/etc/shadow":                                 "root:*:19000:0:99999:7:::\nnobody:*:19000:0:99999:7:::\n",
		"usr/etc/gshadow":                                "root:*::\nsudo:*::\nusers:*::\n",
		"usr/etc/hostname":                               "debian\n",
		"usr/bin/true":                                   "\x7fELF not really",
		KargsDir + "/10-debatom.toml":                    "kargs = [\"console=ttyS0\"]\n",
		KargsDir + "/20-arm.toml":                        "kargs = [\"arm-only\"]\nmatch-architectures = [\"aarch64\"]\n",
	}
}

func makeCommit(t testing.TB, dir string, files map[string]string, kernel bool) (*ostreerepo.Repo, string) {
	t.Helper()
	ctx := context.Background()
	repo, err := ostreerepo.Create(dir, ostreerepo.ModeArchive)
	if err != nil {
		t.Fatal(err)
	}
	tree := fstree.New()
	for p, c := range files {
		if !kernel && strings.HasPrefix(p, "usr/lib/modules/") {
			continue
		}
		if err := tree.Put(p, &fstree.Entry{Kind: fstree.File, Meta: fstree.Meta{Mode: 0o644}, Size: int64(len(c)), Data: []byte(c)}); err != nil {
			t.Fatal(err)
		}
	}
	for _, d := range []string{"boot", "sysroot", "var", "etc"} {
		if err := tree.MkdirAll(d); err != nil {
			t.Fatal(err)
		}
	}
	tree.RemoveAll("etc")
	if err := tree.Put("usr/bin/sh", &fstree.Entry{Kind: fstree.Symlink, Meta: fstree.Meta{Mode: 0o777}, Target: "dash"}); err != nil {
		t.Fatal(err)
	}
	if err := tree.Put("usr/bin/su", &fstree.Entry{Kind: fstree.File, Meta: fstree.Meta{Mode: 0o4755}, Size: 2, Data: []byte("su")}); err != nil {
		t.Fatal(err)
	}
	if err := tree.Put("ostree", &fstree.Entry{Kind: fstree.Symlink, Meta: fstree.Meta{Mode: 0o777}, Target: "sysroot/ostree"}); err != nil {
		t.Fatal(err)
	}
	dt, dm, err := repo.WriteTree(ctx, tree)
	if err != nil {
		t.Fatal(err)
	}
	opts := ostreerepo.CommitOptions{Subject: "test", Timestamp: time.Unix(1700000000, 0), Ref: "debian/13/x86_64/test",
		Metadata: []ostreerepo.MetaItem{ostreerepo.MetaString("version", "13.1")}}
	if kernel {
		opts.KernelVersion = testKver
	}
	c, err := repo.Commit(ctx, dt, dm, opts)
	if err != nil {
		t.Fatal(err)
	}
	return repo, c
}

func run(t *testing.T, name string, args ...string) string {
	t.Helper()
	out, err := exec.Command(testenv.Tool(t, name), args...).CombinedOutput()
	if err != nil {
		t.Fatalf("%s %s: %v\n%s", name, strings.Join(args, " "), err, out)
	}
	return string(out)
}

// TestDeployOstreeOracle writes the sysroot to a directory and asks the
// real ostree about it: admin status must list the deployment of the commit
// with its origin, and fsck must find the bare repository whole.
func TestDeployOstreeOracle(t *testing.T) {
	testenv.Root(t)
	ctx := context.Background()
	work := t.TempDir()
	repo, commit := makeCommit(t, filepath.Join(work, "src"), testFiles(), true)
	s, err := Deploy(ctx, repo, commit, Options{
		Ref: "debian/13/x86_64/test", RemoteURL: "http://10.0.2.2:8080/repo",
		KernelArgs: []string{"root=LABEL=root", "rw"}, ExtraKernelArgs: []string{"quiet"},
		Customize: Customizations{Hostname: "box", Users: []User{
			{Name: "alice", PasswordHash: "$6$salt$hash", Keys: []string{"ssh-ed25519 AAAA alice@x"}, Groups: []string{"sudo"}},
			{Name: "root", PasswordHash: "$6$r$root"},
		}},
	})
	if err != nil {
		t.Fatal(err)
	}
	root := filepath.Join(work, "sysroot")
	if err := s.WriteDir(ctx, root); err != nil {
		t.Fatal(err)
	}
	status := run(t, "ostree", "admin", "status", "--sysroot="+root)
	if !strings.Contains(status, "debian "+commit+".0") {
		t.Errorf("ostree admin status does not list debian %s.0:\n%s", commit, status)
	}
	if !strings.Contains(status, "origin refspec: debatom:debian/13/x86_64/test") {
		t.Errorf("ostree admin status shows no origin:\n%s", status)
	}
	if !strings.Contains(status, "Version: 13.1") {
		t.Errorf("ostree admin status shows no version:\n%s", status)
	}
	fsck := run(t, "ostree", "fsck", "--repo="+filepath.Join(root, "ostree/repo"))
	if !strings.Contains(fsck, "no errors found") {
		t.Errorf("ostree fsck: %s", fsck)
	}
	// ostree's own view of the boot entry and the remote.
	rev := run(t, "ostree", "rev-parse", "--repo="+filepath.Join(root, "ostree/repo"), "debatom:debian/13/x86_64/test")
	if strings.TrimSpace(rev) != commit {
		t.Errorf("remote ref = %q, want %s", rev, commit)
	}
	url := run(t, "ostree", "remote", "show-url", "--repo="+filepath.Join(root, "ostree/repo"), "debatom")
	if strings.TrimSpace(url) != "http://10.0.2.2:8080/repo" {
		t.Errorf("remote url %q", url)
	}

	dep := filepath.Join(root, "ostree/deploy/debian/deploy", commit+".0")
	// Deployment files are the repo's objects (same inode); etc is a copy.
	var st1, st2 os.FileInfo
	if st1, err = os.Stat(filepath.Join(dep, "usr/bin/true")); err != nil {
		t.Fatal(err)
	}
	csum, err := ostreerepo.FileChecksum(fstree.Meta{Mode: 0o644}, strings.NewReader(testFiles()["usr/bin/true"]))
	if err != nil {
		t.Fatal(err)
	}
	if st2, err = os.Stat(filepath.Join(root, "ostree/repo/objects", csum[:2], csum[2:]+".file")); err != nil {
		t.Fatal(err)
	}
	if !os.SameFile(st1, st2) {
		t.Error("usr/bin/true is not a hard link of its object")
	}
	if st, err := os.Stat(filepath.Join(dep, "usr/bin/su")); err != nil || st.Mode()&os.ModeSetuid == 0 {
		t.Errorf("usr/bin/su lost setuid: %v %v", st.Mode(), err)
	}
	wantFile(t, filepath.Join(dep, "etc/hostname"), "box\n")
	passwd := readFile(t, filepath.Join(dep, "etc/passwd"))
	if !strings.Contains(passwd, "alice:x:1000:1000::/home/alice:/bin/bash") {
		t.Errorf("passwd:\n%s", passwd)
	}
	shadow := readFile(t, filepath.Join(dep, "etc/shadow"))
	if !strings.Contains(shadow, "alice:$6$salt$hash:") || !strings.Contains(shadow, "root:$6$r$root:") {
		t.Errorf("shadow:\n%s", shadow)
	}
	if g := readFile(t, filepath.Join(dep, "etc/group")); !strings.Contains(g, "sudo:x:27:alice\n") || !strings.Contains(g, "alice:x:1000:\n") {
		t.Errorf("group:\n%s", g)
	}
	// usr/etc keeps the commit's content (the merge base).
	wantFile(t, filepath.Join(dep, "usr/etc/hostname"), "debian\n")
	wantFile(t, filepath.Join(root, "ostree/deploy/debian/var/home/alice/.ssh/authorized_keys"), "ssh-ed25519 AAAA alice@x\n")
	if st, err := os.Stat(filepath.Join(root, "ostree/deploy/debian/var/home/alice")); err != nil || st.Mode().Perm() != 0o700 {
		t.Errorf("home: %v %v", st, err)
	}

	// Boot side: bootcsum, entry, links.
	h := sha256.Sum256([]byte(testFiles()["usr/lib/modules/"+testKver+"/vmlinuz"] + testFiles()["usr/lib/modules/"+testKver+"/initramfs.img"]))
	bootcsum := hex.EncodeToString(h[:])
	if s.BootCsum != bootcsum {
		t.Errorf("bootcsum %s, want %s", s.BootCsum, bootcsum)
	}
	entry := readFile(t, filepath.Join(root, "boot/loader/entries/ostree-1.conf"))
	want := "title Debian GNU/Linux 13 (trixie) 13.1 (ostree:0)\nversion 1\noptions root=LABEL=root rw console=ttyS0 quiet ostree=/ostree/boot.1/debian/" + bootcsum + "/0\n" +
		"linux /ostree/debian-" + bootcsum + "/vmlinuz-" + testKver + "\ninitrd /ostree/debian-" + bootcsum + "/initramfs-" + testKver + ".img\n"
	if entry != want {
		t.Errorf("entry:\n%s\nwant:\n%s", entry, want)
	}
	wantFile(t, filepath.Join(root, "boot/ostree/debian-"+bootcsum+"/vmlinuz-"+testKver), "kernel image bytes")
	if target, err := filepath.EvalSymlinks(filepath.Join(root, "ostree/boot.1/debian", bootcsum, "0")); err != nil || target != dep {
		t.Errorf("boot.1 link resolves to %q (%v), want %s", target, err, dep)
	}
}

func readFile(t *testing.T, p string) string {
	t.Helper()
	b, err := os.ReadFile(p)
	if err != nil {
		t.Fatal(err)
	}
	return string(b)
}

func wantFile(t *testing.T, p, want string) {
	t.Helper()
	if got := readFile(t, p); got != want {
		t.Errorf("%s = %q, want %q", p, got, want)
	}
}

func TestDeployErrors(t *testing.T) {
	ctx := context.Background()
	tests := []struct {
		name   string
		kernel bool
		opts   Options
		want   string
	}{
		{"no kernel", false, Options{Ref: "r"}, "no kernel"},
		{"no ref", true, Options{}, "no ref"},
		{"bad user", true, Options{Ref: "r", Customize: Customizations{Users: []User{{Name: "Bad:Name"}}}}, "not a valid user name"},
		{"unknown group", true, Options{Ref: "r", Customize: Customizations{Users: []User{{Name: "bob", Groups: []string{"wheel"}}}}}, `group "wheel" does not exist`},
		{"bad hostname", true, Options{Ref: "r", Customize: Customizations{Hostname: "a b"}}, "not a valid host name"},
		{"hash with colon", true, Options{Ref: "r", Customize: Customizations{Users: []User{{Name: "bob", PasswordHash: "a:b"}}}}, "holds ':'"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			repo, commit := makeCommit(t, t.TempDir(), testFiles(), tt.kernel)
			_, err := Deploy(ctx, repo, commit, tt.opts)
			if err == nil || !strings.Contains(err.Error(), tt.want) || strings.Contains(err.Error(), "\n") {
				t.Errorf("err = %v, want one line containing %q", err, tt.want)
			}
		})
	}
}

// TestDeployDeterministic: two deployments of one commit give the same
// nodes with the same contents.
func TestDeployDeterministic(t *testing.T) {
	ctx := context.Background()
	repo, commit := makeCommit(t, t.TempDir(), testFiles(), true)
	dump := func() string {
		s, err := Deploy(ctx, repo, commit, Options{Ref: "x", Customize: Customizations{Users: []User{{Name: "a"}, {Name: "b"}}}})
		if err != nil {
			t.Fatal(err)
		}
		var b bytes.Buffer
		for _, n := range s.Nodes() {
			b.WriteString(n.Path + " " + n.Target + n.Link + "\n")
			if n.Kind == File {
				rc, err := n.Open()
				if err != nil {
					t.Fatal(err)
				}
				io.Copy(&b, rc)
				rc.Close()
			}
		}
		return b.String()
	}
	if a, b := dump(), dump(); a != b {
		t.Error("two deployments of one commit differ")
	}
}

func TestParseKargs(t *testing.T) {
	for _, tt := range []struct {
		in, arch string
		want     string
		err      string
	}{
		{"kargs = [\"a=1\", \"b\"]\n", "x86_64", "a=1 b", ""},
		{"kargs = [\"a\"]\nmatch-architectures = [\"x86_64\"]\n", "x86_64", "a", ""},
		{"kargs = [\"a\"]\nmatch-architectures = [\"aarch64\"]\n", "x86_64", "", ""},
		{"kargs = [\"a b\"]\n", "x86_64", "", "holds a blank"},
		{"kargs = \"a\"\n", "x86_64", "", "not valid TOML"},
		{"karg = [\"a\"]\n", "x86_64", "", "unknown key"},
		{"kargs = [\n", "x86_64", "", "not valid TOML"},
	} {
		got, err := ParseKargs([]byte(tt.in), tt.arch)
		if tt.err != "" {
			if err == nil || !strings.Contains(err.Error(), tt.err) || strings.Contains(err.Error(), "\n") {
				t.Errorf("%q: err = %v, want one line with %q", tt.in, err, tt.err)
			}
			continue
		}
		if err != nil || strings.Join(got, " ") != tt.want {
			t.Errorf("%q: %q, %v; want %q", tt.in, got, err, tt.want)
		}
	}
}

func FuzzParseKargs(f *testing.F) {
	f.Add([]byte("kargs = [\"console=ttyS0\"]\nmatch-architectures = [\"x86_64\"]\n"))
	f.Fuzz(func(t *testing.T, b []byte) {
		k, err := ParseKargs(b, "x86_64")
		if err != nil && strings.Contains(err.Error(), "\n") {
			t.Errorf("multi-line error %q", err)
		}
		for _, a := range k {
			if a == "" || strings.ContainsAny(a, " \n\t") {
				t.Errorf("bad argument %q accepted", a)
			}
		}
	})
}

// FuzzAddUser feeds arbitrary account files (they come from the commit) to
// the user editor: it must not panic, and what it accepts keeps one line
// per entry.
func FuzzAddUser(f *testing.F) {
	f.Add("root:x:0:0:root:/root:/bin/bash\nalice:x:1000:1000::/home/alice:/bin/sh", "root:x:0:\nsudo:x:27:", "alice")
	f.Add("alice:x:1:2", "sudo:x:27:a,b", "root")
	f.Fuzz(func(t *testing.T, passwd, group, name string) {
		s := &Sysroot{index: map[string]*Node{}}
		files := map[string][]string{
			"passwd": strings.Split(passwd, "\n"), "group": strings.Split(group, "\n"),
			"shadow": {"root:*:1:0:99999:7:::"}, "gshadow": strings.Split(group, "\n"),
		}
		err := addUser(s, files, User{Name: name, PasswordHash: "$6$s$h", Groups: []string{"sudo"}, Keys: []string{"ssh-ed25519 AAAA"}}, "var")
		if err != nil {
			if strings.Contains(err.Error(), "\n") {
				t.Errorf("multi-line error %q", err)
			}
			return
		}
		for _, l := range files["passwd"] {
			if strings.Contains(l, "\n") {
				t.Errorf("passwd line with a newline: %q", l)
			}
		}
	})
}
