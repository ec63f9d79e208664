package configure

import (
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/debatom/debatom/internal/testenv"
	"github.com/debatom/debatom/pkg/configure/ostreelayout"
	"github.com/debatom/debatom/pkg/fstree"
)

// TestOSTreeLayout checks the bootable layout DESIGN.md describes on the
// full archive set, and that dpkg still reads the database through the
// /var/lib/dpkg link the tmpfiles.d file makes.
func TestOSTreeLayout(t *testing.T) {
	tr, rep := configured(t, Options{OSTree: true})
	const kver = "6.12.117+deb13-cloud-amd64"
	if rep.KernelVersion != kver {
		t.Fatalf("kernel version %q, want %s", rep.KernelVersion, kver)
	}
	want := map[string]fstree.Kind{
		"usr/lib/modules/" + kver + "/vmlinuz": fstree.File,
		"usr/lib/modules/" + kver + "/config":  fstree.File,
		"usr/etc/passwd":                       fstree.File,
		"usr/etc/machine-id":                   fstree.File,
		"usr/etc/pam.d/common-auth":            fstree.File,
		"usr/lib/sysimage/dpkg/status":         fstree.File,
		ostreelayout.TmpfilesPath:              fstree.File,
		"boot":                                 fstree.Dir,
		"efi":                                  fstree.Dir,
		"sysroot":                              fstree.Dir,
		"dev":                                  fstree.Dir,
		"proc":                                 fstree.Dir,
		"sys":                                  fstree.Dir,
		"run":                                  fstree.Dir,
		"tmp":                                  fstree.Dir,
		"var":                                  fstree.Dir,
	}
	for p, k := range want {
		if e := tr.Get(p); e == nil || e.Kind != k {
			t.Errorf("%s: %v, want a %s", p, e, k)
		}
	}
	links := map[string]string{
		"ostree": "sysroot/ostree", "home": "var/home", "root": "var/roothome", "opt": "var/opt",
		"srv": "var/srv", "mnt": "var/mnt", "media": "run/media",
	}
	for p, target := range links {
		if e := tr.Get(p); e == nil || e.Kind != fstree.Symlink || e.Target != target {
			t.Errorf("%s: %+v, want a link to %s", p, e, target)
		}
	}
	for _, empty := range []string{"boot", "var", "etc", "dev", "run", "tmp", "sysroot"} {
		if c := tr.Children(empty); len(c) != 0 {
			t.Errorf("%s not empty: %v", empty, c)
		}
	}
	if tr.Get("etc") != nil {
		t.Error("/etc still exists")
	}
	if e := tr.Get("tmp"); e.Mode != 0o1777 {
		t.Errorf("tmp mode %o", e.Mode)
	}
	fstab := string(tr.Get("usr/etc/fstab").Data)
	if !strings.Contains(fstab, " /efi vfat ") {
		t.Errorf("fstab lacks the /efi line:\n%s", fstab)
	}
	conf := string(tr.Get(ostreelayout.TmpfilesPath).Data)
	for _, line := range []string{
		"L /var/lib/dpkg - - - - ../../usr/lib/sysimage/dpkg\n",
		"d /var/roothome 0700 0 0 -\n",
		"C /var/roothome/.bashrc - - - - /usr/share/factory/var/roothome/.bashrc\n",
		"d /var/mail 2775 0 8 -\n",
		"L /var/run - - - - /run\n",
		"d /var/home 0755 0 0 -\n",
	} {
		if !strings.Contains(conf, line) {
			t.Errorf("%s lacks %q", ostreelayout.TmpfilesPath, line)
		}
	}
	if tr.Get("usr/share/factory/var/roothome/.bashrc") == nil {
		t.Error("root's .bashrc not in the factory directory")
	}

	// dpkg on the booted system: materialise, recreate the link as
	// systemd-tmpfiles would, and list.
	testenv.Root(t)
	dpkg := testenv.Tool(t, "dpkg")
	dir := t.TempDir()
	materialise(t, tr, dir, under("usr/lib/sysimage/dpkg/", "usr/etc/dpkg/"))
	if err := os.MkdirAll(filepath.Join(dir, "var/lib"), 0o755); err != nil {
		t.Fatal(err)
	}
	if err := os.Symlink("../../usr/lib/sysimage/dpkg", filepath.Join(dir, "var/lib/dpkg")); err != nil {
		t.Fatal(err)
	}
	out := run(t, dpkg, "--root="+dir, "-l", "systemd")
	if !strings.Contains(out, "ii  systemd ") {
		t.Errorf("dpkg -l systemd on the booted layout:\n%s", out)
	}
}
