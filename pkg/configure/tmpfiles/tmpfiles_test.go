package tmpfiles

import (
	"os"
	"strings"
	"testing"

	"github.com/debatom/debatom/pkg/configure/sysroot"
	"github.com/debatom/debatom/pkg/fstree"
)

func rootIDs(u, g string) (uint32, uint32, error) { return 0, 0, nil }

// systemd's own files, as its postinst applies them at installation: the
// reference installation has /etc/credstore 0700, /root/.ssh 0700 and the
// mtab, locale and vconsole links, and none of the boot-only lines.
func TestApplySystemdFiles(t *testing.T) {
	r := sysroot.New(fstree.New(), nil, nil)
	r.WriteFile("etc/motd", []byte("x"), 0o644, 0, 0)
	for _, f := range []string{"provision.conf", "legacy.conf", "credstore.conf"} {
		b, err := os.ReadFile("testdata/" + f)
		if err != nil {
			t.Fatal(err)
		}
		lines, err := Parse(f, b)
		if err != nil {
			t.Fatal(err)
		}
		if err := Apply(r, lines, rootIDs); err != nil {
			t.Fatal(err)
		}
	}
	for p, mode := range map[string]uint32{"etc/credstore": 0o700, "etc/credstore.encrypted": 0o700, "root/.ssh": 0o700} {
		if e := r.Tree.Get(p); e == nil || e.Kind != fstree.Dir || e.Mode != mode {
			t.Errorf("%s: %+v, want a %o directory", p, e, mode)
		}
	}
	for _, p := range []string{"etc/hosts", "root/.ssh/authorized_keys", "etc/resolv.conf", "var/log"} {
		if r.Tree.Get(p) != nil {
			t.Errorf("%s made, but its line is for boot or credentials only", p)
		}
	}
}

func TestParse(t *testing.T) {
	lines, err := Parse("t.conf", []byte("# c\nL+ /etc/mtab - - - - ../proc/self/mounts\nd /etc/x 0700 root root -\nf /etc/y 0600 - - - hello  world\n"))
	if err != nil {
		t.Fatal(err)
	}
	if len(lines) != 3 || lines[0].Type != 'L' || lines[0].Mods != "+" || lines[0].Argument != "../proc/self/mounts" ||
		lines[1].Mode != "0700" || lines[2].Argument != "hello  world" {
		t.Errorf("%+v", lines)
	}
	r := sysroot.New(fstree.New(), nil, nil)
	if err := Apply(r, lines, rootIDs); err != nil {
		t.Fatal(err)
	}
	if e := r.Tree.Get("etc/mtab"); e == nil || e.Target != "../proc/self/mounts" {
		t.Errorf("mtab %+v", e)
	}
	if e := r.Tree.Get("etc/y"); e == nil || string(e.Data) != "hello  world" || e.Mode != 0o600 {
		t.Errorf("y %+v", e)
	}
}

func TestBad(t *testing.T) {
	for _, in := range []string{"d\n", "d etc/relative\n"} {
		if _, err := Parse("t.conf", []byte(in)); err == nil || strings.Contains(err.Error(), "\n") {
			t.Errorf("%q: want a one-line error, got %v", in, err)
		}
	}
	lines, _ := Parse("t.conf", []byte("d /etc/x 9999 - - -\n"))
	if err := Apply(sysroot.New(fstree.New(), nil, nil), lines, rootIDs); err == nil {
		t.Error("bad mode accepted")
	}
}

func FuzzParse(f *testing.F) {
	b, _ := os.ReadFile("testdata/provision.conf")
	f.Add(b)
	f.Fuzz(func(t *testing.T, b []byte) {
		lines, err := Parse("fuzz", b)
		if err != nil {
			return
		}
		r := sysroot.New(fstree.New(), nil, nil)
		Apply(r, lines, rootIDs) // must not panic
	})
}
