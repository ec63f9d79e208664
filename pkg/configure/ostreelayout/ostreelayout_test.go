package ostreelayout

import (
	"strings"
	"testing"

	"github.com/debatom/debatom/pkg/configure/sysroot"
	"github.com/debatom/debatom/pkg/fstree"
)

func tree(t *testing.T) *sysroot.Root {
	t.Helper()
	r := sysroot.New(fstree.New(), nil, nil)
	for p, data := range map[string]string{
		"boot/vmlinuz-6.1.0-1-amd64":     "old kernel",
		"boot/vmlinuz-6.12.0-1-amd64":    "kernel",
		"boot/config-6.12.0-1-amd64":     "config",
		"boot/initrd.img-6.12.0-1-amd64": "initrd",
		"etc/fstab":                      "# UNCONFIGURED FSTAB FOR BASE SYSTEM\n",
		"etc/passwd":                     "root:x:0:0:root:/root:/bin/bash\n",
		"var/lib/dpkg/status":            "Package: x\n",
		"var/log/wtmp":                   "",
		"root/.bashrc":                   "# bashrc\n",
		"home/alice/.profile":            "# profile\n",
	} {
		if err := r.WriteFile(p, []byte(data), 0o644, 0, 0); err != nil {
			t.Fatal(err)
		}
	}
	r.Mkdir("root", 0o700, 0, 0)
	r.Mkdir("var/mail", 0o2775, 0, 8)
	r.Mkdir("home/alice", 0o700, 1000, 1000)
	r.Symlink("vmlinuz", "boot/vmlinuz-6.12.0-1-amd64")
	r.Symlink("var/run", "/run")
	r.Mkdir("var/opt", 0o755, 0, 0)
	r.Mkdir("opt", 0o755, 0, 0)
	r.Mkdir("media", 0o755, 0, 0)
	return r
}

func TestApply(t *testing.T) {
	r := tree(t)
	kver, err := ApplyWith(r, Options{ESP: "PARTLABEL=esp"})
	if err != nil {
		t.Fatal(err)
	}
	if kver != "6.12.0-1-amd64" {
		t.Errorf("kernel %q, want the newest", kver)
	}
	tr := r.Tree
	for p, data := range map[string]string{
		"usr/lib/modules/6.12.0-1-amd64/vmlinuz":       "kernel",
		"usr/lib/modules/6.12.0-1-amd64/config":        "config",
		"usr/lib/modules/6.12.0-1-amd64/initramfs.img": "initrd",
		"usr/etc/passwd":                            "root:x:0:0:root:/root:/bin/bash\n",
		"usr/etc/fstab":                             "# UNCONFIGURED FSTAB FOR BASE SYSTEM\nPARTLABEL=esp /efi vfat umask=0077,shortname=winnt,nofail 0 2\n",
		"usr/lib/sysimage/dpkg/status":              "Package: x\n",
		"usr/share/factory/var/roothome/.bashrc":    "# bashrc\n",
		"usr/share/factory/var/home/alice/.profile": "# profile\n",
	} {
		e := tr.Get(p)
		if e == nil || string(e.Data) != data {
			t.Errorf("%s: %+v, want %q", p, e, data)
		}
	}
	if tr.Get("vmlinuz") != nil || len(tr.Children("boot")) != 0 || len(tr.Children("var")) != 0 {
		t.Error("/vmlinuz, /boot or /var not emptied")
	}
	conf := string(tr.Get(TmpfilesPath).Data)
	for _, l := range []string{
		"d /var/home/alice 0700 1000 1000 -\n",
		"C /var/home/alice/.profile - - - - /usr/share/factory/var/home/alice/.profile\n",
		"d /var/roothome 0700 0 0 -\n",
		"d /var/mail 2775 0 8 -\n",
		"L /var/run - - - - /run\n",
		"L /var/lib/dpkg - - - - ../../usr/lib/sysimage/dpkg\n",
		"C /var/log/wtmp - - - - /usr/share/factory/var/log/wtmp\n",
		"d /var/opt 0755 0 0 -\n",
	} {
		if !strings.Contains(conf, l) {
			t.Errorf("tmpfiles.d lacks %q:\n%s", l, conf)
		}
	}
	for p, target := range map[string]string{"home": "var/home", "root": "var/roothome", "opt": "var/opt", "media": "run/media", "ostree": "sysroot/ostree"} {
		if e := tr.Get(p); e == nil || e.Target != target {
			t.Errorf("%s: %+v, want → %s", p, e, target)
		}
	}
}

func TestErrors(t *testing.T) {
	r := sysroot.New(fstree.New(), nil, nil)
	r.Mkdir("etc", 0o755, 0, 0)
	if _, err := Apply(r); err == nil || strings.Contains(err.Error(), "\n") {
		t.Errorf("no kernel: want a one-line error, got %v", err)
	}
	r = tree(t)
	r.Mkdir("usr/etc", 0o755, 0, 0)
	if _, err := Apply(r); err == nil {
		t.Error("existing usr/etc accepted")
	}
	if _, err := ApplyWith(tree(t), Options{ESP: "LABEL=a b"}); err == nil {
		t.Error("ESP with a blank accepted")
	}
}

func TestEscape(t *testing.T) {
	if got := escape("/var/a b\\c"); got != `/var/a\x20b\x5cc` {
		t.Errorf("escape: %s", got)
	}
}
