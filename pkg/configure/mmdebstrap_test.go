package configure

import (
	"bytes"
	"context"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/debatom/debatom/internal/testenv"
	"github.com/debatom/debatom/pkg/configure/internal/debtest"
	"github.com/debatom/debatom/pkg/fstree"
)

// minbaseExpected are the differences between an mmdebstrap installation
// (dpkg running every script) and ours that are not ours to remove.
var minbaseExpected = []allowRule{
	{"etc/apt/sources.list", "mmdebstrap writes the mirror it used"},
	{"etc/fstab", "mmdebstrap writes a placeholder"},
	{"etc/hostname", "mmdebstrap copies the host's"},
	{"etc/resolv.conf", "mmdebstrap copies the host's"},
	{"etc/shadow", "last-change day: the install day there, SOURCE_DATE_EPOCH here"},
	{"etc/passwd-", "backup of an intermediate state"},
	{"etc/group-", "backup of an intermediate state"},
	{"etc/shadow-", "we write backups equal to the files"},
	{"etc/gshadow-", "we write backups equal to the files"},
	{"var/cache/apt/**", "apt's run-time cache"},
	{"var/lib/apt/**", "apt's lists and auto-installed marks"},
	{"var/cache/debconf/**", "debconf's answer cache"},
	{"var/lib/dpkg/diversions", "diversions are not derived (reported)"},
	{"var/lib/dpkg/diversions-old", "dpkg's backup"},
	{"var/lib/dpkg/status-old", "dpkg's backup"},
	{"var/log/**", "logs of the installation"},
}

// TestMmdebstrapMinbase installs Debian's minbase with mmdebstrap (dpkg
// runs every maintainer script) and configures the same packages with no
// script: /etc, /root, /usr/local and the dpkg database must match path
// for path, with owners, modes and contents, except minbaseExpected.
func TestMmdebstrapMinbase(t *testing.T) {
	if testing.Short() {
		t.Skip("installs a system with mmdebstrap")
	}
	archive := testenv.Archive(t)
	// Shared with the resolver's oracle, which installs the same set.
	real := testenv.Mmdebstrap(t, "minbase", nil)
	status, err := os.ReadFile(filepath.Join(real, "var/lib/dpkg/status"))
	if err != nil {
		t.Fatal(err)
	}
	var debs []string
	for _, l := range strings.Split(string(status), "\n") {
		if name, ok := strings.CutPrefix(l, "Package: "); ok {
			m, _ := filepath.Glob(filepath.Join(archive, "pool/main/*/*", name+"_*.deb"))
			if len(m) != 1 {
				t.Fatalf("package %s: %d .debs in the archive", name, len(m))
			}
			debs = append(debs, m[0])
		}
	}
	tr, pkgs, err := debtest.LoadFiles(context.Background(), debs)
	if err != nil {
		t.Fatal(err)
	}
	if _, err := Configure(context.Background(), tr, nil, pkgs, Options{}); err != nil {
		t.Fatal(err)
	}
	compared := []string{"etc", "root", "usr/local", "var"}
	inScope := func(p string) bool {
		for _, c := range compared {
			if p == c || strings.HasPrefix(p, c+"/") {
				return true
			}
		}
		return false
	}
	expected := func(p string) bool {
		for _, r := range minbaseExpected {
			if r.match(p) {
				return true
			}
		}
		return false
	}
	seen := map[string]bool{}
	n := 0
	for _, top := range compared {
		filepath.Walk(filepath.Join(real, top), func(full string, fi os.FileInfo, err error) error {
			if err != nil {
				return nil
			}
			p, _ := filepath.Rel(real, full)
			seen[p] = true
			n++
			if expected(p) {
				return nil
			}
			e := tr.Get(p)
			if e == nil {
				t.Errorf("%s: only in the mmdebstrap installation", p)
				return nil
			}
			if why := compareFile(full, fi, e); why != "" {
				t.Errorf("%s: %s", p, why)
			}
			return nil
		})
	}
	tr.Walk(func(p string, e *fstree.Entry) error {
		if inScope(p) && !seen[p] && !expected(p) {
			t.Errorf("%s: only in ours", p)
		}
		return nil
	})
	t.Logf("%d paths compared under /%s", n, strings.Join(compared, ", /"))
}

func compareFile(full string, fi os.FileInfo, e *fstree.Entry) string {
	var uid, gid uint32
	if s, ok := statOwner(full); ok {
		uid, gid = s[0], s[1]
	}
	mode := uint32(fi.Mode().Perm())
	if fi.Mode()&os.ModeSetuid != 0 {
		mode |= 0o4000
	}
	if fi.Mode()&os.ModeSetgid != 0 {
		mode |= 0o2000
	}
	if fi.Mode()&os.ModeSticky != 0 {
		mode |= 0o1000
	}
	switch {
	case fi.Mode()&os.ModeSymlink != 0:
		l, _ := os.Readlink(full)
		if e.Kind != fstree.Symlink || e.Target != l {
			return "link to " + l + ", ours is a " + e.Kind.String() + " " + e.Target
		}
		return ""
	case fi.IsDir():
		if e.Kind != fstree.Dir {
			return "a directory, ours is a " + e.Kind.String()
		}
	default:
		if e.Kind != fstree.File {
			return "a file, ours is a " + e.Kind.String()
		}
		b, _ := os.ReadFile(full)
		if e.Data != nil && !bytes.Equal(b, e.Data) {
			return "content differs"
		}
	}
	if e.Mode != mode || e.UID != uid || e.GID != gid {
		return "metadata differs"
	}
	return ""
}
