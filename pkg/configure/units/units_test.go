package units

import (
	"os"
	"strings"
	"testing"

	"github.com/debatom/debatom/pkg/configure/sysroot"
	"github.com/debatom/debatom/pkg/fstree"
)

func tree(t *testing.T, pkgs map[string]string) *sysroot.Root {
	t.Helper()
	r := sysroot.New(fstree.New(), nil, nil)
	r.Symlink("lib", "usr/lib")
	for _, f := range []string{"getty@.service", "apt-daily.timer", "remote-fs.target", "systemd-time-wait-sync.service"} {
		b, err := os.ReadFile("testdata/" + f)
		if err != nil {
			t.Fatal(err)
		}
		r.WriteFile("usr/lib/systemd/system/"+f, b, 0o644, 0, 0)
	}
	b, _ := os.ReadFile("testdata/90-systemd.preset")
	r.WriteFile("usr/lib/systemd/system-preset/90-systemd.preset", b, 0o644, 0, 0)
	r.WriteFile("usr/lib/systemd/user/x.socket", []byte("[Install]\nWantedBy=sockets.target\nAlias=y.socket\n"), 0o644, 0, 0)
	for _, n := range []string{"early", "systemd", "late"} {
		if src, ok := pkgs[n]; ok {
			r.Packages = append(r.Packages, &sysroot.Package{Name: n, Scripts: map[string][]byte{"postinst": []byte(src)}})
		}
	}
	return r
}

func link(t *testing.T, r *sysroot.Root, p string) string {
	t.Helper()
	e := r.Tree.Get(p)
	if e == nil || e.Kind != fstree.Symlink {
		return ""
	}
	return e.Target
}

func TestEnable(t *testing.T) {
	r := tree(t, map[string]string{
		"early":   "deb-systemd-helper enable 'apt-daily.timer' >/dev/null || true\n",
		"systemd": "systemctl ${DPKG_ROOT:+--root=\"$DPKG_ROOT\"} enable getty@tty1.service remote-fs.target || true\n",
		"late": "deb-systemd-helper enable 'systemd-time-wait-sync.service'\n" +
			"deb-systemd-helper --user enable 'x.socket'\n",
	})
	// Before systemd is installed deb-systemd-helper links /lib paths
	// itself; after, systemctl preset links /usr/lib paths and obeys the
	// presets (systemd-time-wait-sync.service is "disable").
	if err := Configure(r, Options{DefaultTarget: "multi-user.target"}, func(p string) bool { return p == "late" }); err == nil {
		t.Fatal("default target that does not exist: want an error")
	}
	r.WriteFile("usr/lib/systemd/system/multi-user.target", []byte("[Unit]\n"), 0o644, 0, 0)
	r.Tree.RemoveAll("etc")
	r.Tree.RemoveAll("var")
	if err := Configure(r, Options{DefaultTarget: "multi-user.target", Mask: []string{"apt-daily.timer"}}, func(p string) bool { return p == "late" }); err != nil {
		t.Fatal(err)
	}
	for p, want := range map[string]string{
		"etc/systemd/system/timers.target.wants/apt-daily.timer":                 "/lib/systemd/system/apt-daily.timer",
		"etc/systemd/system/getty.target.wants/getty@tty1.service":               "/usr/lib/systemd/system/getty@.service",
		"etc/systemd/system/multi-user.target.wants/remote-fs.target":            "/usr/lib/systemd/system/remote-fs.target",
		"etc/systemd/user/sockets.target.wants/x.socket":                         "/usr/lib/systemd/user/x.socket",
		"etc/systemd/user/y.socket":                                              "/usr/lib/systemd/user/x.socket",
		"etc/systemd/system/default.target":                                      "/usr/lib/systemd/system/multi-user.target",
		"etc/systemd/system/apt-daily.timer":                                     "/dev/null",
		"etc/systemd/system/sysinit.target.wants/systemd-time-wait-sync.service": "",
	} {
		if got := link(t, r, p); got != want {
			t.Errorf("%s → %q, want %q", p, got, want)
		}
	}
	// deb-systemd-helper's state, as the reference installation has it.
	b, err := r.ReadFile("var/lib/systemd/deb-systemd-helper-enabled/apt-daily.timer.dsh-also")
	if err != nil || string(b) != "/etc/systemd/system/timers.target.wants/apt-daily.timer\n" {
		t.Errorf("dsh-also %q %v", b, err)
	}
	if r.Tree.Get("var/lib/systemd/deb-systemd-helper-enabled/timers.target.wants/apt-daily.timer") == nil {
		t.Error("enabled-state file missing")
	}
}

func TestDisable(t *testing.T) {
	r := tree(t, map[string]string{"systemd": "systemctl enable remote-fs.target\n"})
	if err := Configure(r, Options{Disable: []string{"remote-fs.target"}}, func(string) bool { return true }); err != nil {
		t.Fatal(err)
	}
	if r.Tree.Get("etc/systemd/system/multi-user.target.wants/remote-fs.target") != nil {
		t.Error("still enabled")
	}
}

func TestMissingUnitWarns(t *testing.T) {
	r := tree(t, map[string]string{"late": "deb-systemd-helper enable nope.service\n"})
	if err := Configure(r, Options{}, func(string) bool { return true }); err != nil {
		t.Fatal(err)
	}
	if len(r.Report.Warnings) != 1 || !strings.Contains(r.Report.Warnings[0].Message, "nope.service") {
		t.Errorf("warnings %v", r.Report.Warnings)
	}
	if err := Configure(r, Options{Enable: []string{"nope.service"}}, func(string) bool { return true }); err == nil || strings.Contains(err.Error(), "\n") {
		t.Errorf("declared unit missing: want a one-line error, got %v", err)
	}
}

func TestParseInstallBad(t *testing.T) {
	for _, in := range []string{"[Install\nWantedBy=x\n", "[Install]\nWantedBy\n"} {
		if _, err := ParseInstall("u.service", []byte(in)); err == nil || strings.Contains(err.Error(), "\n") {
			t.Errorf("%q: want a one-line error, got %v", in, err)
		}
	}
}

func FuzzParseInstall(f *testing.F) {
	for _, n := range []string{"getty@.service", "apt-daily.timer"} {
		b, _ := os.ReadFile("testdata/" + n)
		f.Add(b)
	}
	f.Fuzz(func(t *testing.T, b []byte) {
		in, err := ParseInstall("fuzz", b)
		if err != nil {
			return
		}
		for _, v := range append(append(in.WantedBy, in.Alias...), in.Also...) {
			if v == "" || strings.ContainsAny(v, " \t\n") {
				t.Fatalf("bad unit name %q", v)
			}
		}
	})
}
