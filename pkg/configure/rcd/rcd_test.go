package rcd

import (
	"os"
	"reflect"
	"strings"
	"testing"

	"github.com/debatom/debatom/pkg/configure/sysroot"
	"github.com/debatom/debatom/pkg/fstree"
)

func TestParseHeader(t *testing.T) {
	for _, tc := range []struct {
		file        string
		start, stop []string
	}{
		{"procps.init", []string{"S"}, nil},
		{"ssh.init", []string{"2", "3", "4", "5"}, nil},
	} {
		b, err := os.ReadFile("testdata/" + tc.file)
		if err != nil {
			t.Fatal(err)
		}
		h, err := ParseHeader(tc.file, b)
		if err != nil {
			t.Fatal(err)
		}
		if strings.Join(h.Start, " ") != strings.Join(tc.start, " ") || strings.Join(h.Stop, " ") != strings.Join(tc.stop, " ") {
			t.Errorf("%s: start %q stop %q, want %q %q", tc.file, h.Start, h.Stop, tc.start, tc.stop)
		}
	}
}

func TestParseHeaderBad(t *testing.T) {
	for _, in := range []string{
		"",
		"#!/bin/sh\necho hi\n",
		"### BEGIN INIT INFO\n# Default-Start: 2 3\n",
		"### END INIT INFO\n",
		"### BEGIN INIT INFO\n# Default-Start: 2 7\n### END INIT INFO\n",
		"### BEGIN INIT INFO\n# Default-Stop: ../x\n### END INIT INFO\n",
	} {
		h, err := ParseHeader("x", []byte(in))
		if err == nil {
			t.Errorf("%q: got %+v, want an error", in, h)
			continue
		}
		if msg := err.Error(); strings.Contains(msg, "\n") || !strings.HasPrefix(msg, "x: ") {
			t.Errorf("%q: error %q is not one line naming the file", in, msg)
		}
	}
}

func FuzzParseHeader(f *testing.F) {
	for _, name := range []string{"procps.init", "ssh.init"} {
		b, err := os.ReadFile("testdata/" + name)
		if err != nil {
			f.Fatal(err)
		}
		f.Add(b)
	}
	f.Fuzz(func(t *testing.T, b []byte) {
		h, err := ParseHeader("fuzz", b)
		if err != nil {
			return
		}
		for _, l := range Links("x", h, false) {
			if !strings.HasPrefix(l[0], "etc/rc") || strings.Contains(l[0], "..") {
				t.Fatalf("link %q outside etc/rc?.d", l[0])
			}
		}
	})
}

func newRoot(t *testing.T, postinst string, scripts map[string]string) *sysroot.Root {
	t.Helper()
	r := sysroot.New(fstree.New(), nil, []*sysroot.Package{{Name: "p", Scripts: map[string][]byte{"postinst": []byte(postinst)}}})
	for name, file := range scripts {
		b, err := os.ReadFile("testdata/" + file)
		if err != nil {
			t.Fatal(err)
		}
		if err := r.WriteFile("etc/init.d/"+name, b, 0o755, 0, 0); err != nil {
			t.Fatal(err)
		}
	}
	return r
}

func links(r *sysroot.Root) map[string]string {
	out := map[string]string{}
	for _, p := range r.Tree.Paths() {
		if e := r.Tree.Get(p); e.Kind == fstree.Symlink && strings.HasPrefix(p, "etc/rc") {
			out[p] = e.Target
		}
	}
	return out
}

func TestConfigure(t *testing.T) {
	for _, tc := range []struct {
		name     string
		postinst string
		existing string // a link present before
		want     map[string]string
	}{
		{"ssh defaults", "#!/bin/sh\nif [ -z \"$DPKG_ROOT\" ] && [ -x \"/etc/init.d/ssh\" ]; then\n\tupdate-rc.d ssh defaults >/dev/null\nfi\n", "",
			map[string]string{"etc/rc2.d/S01ssh": "../init.d/ssh", "etc/rc3.d/S01ssh": "../init.d/ssh",
				"etc/rc4.d/S01ssh": "../init.d/ssh", "etc/rc5.d/S01ssh": "../init.d/ssh"}},
		{"rcS", "update-rc.d procps defaults >/dev/null || exit 1\n", "",
			map[string]string{"etc/rcS.d/S01procps": "../init.d/procps"}},
		{"upgrade only", "if dpkg --compare-versions \"$2\" lt 1; then\nupdate-rc.d ssh defaults\nfi\n", "", map[string]string{}},
		{"remove", "update-rc.d ssh remove\n", "", map[string]string{}},
		{"disabled", "update-rc.d procps defaults-disabled\n", "", map[string]string{"etc/rcS.d/K01procps": "../init.d/procps"}},
		{"script absent", "update-rc.d nosuch defaults\n", "", map[string]string{}},
		{"links exist", "update-rc.d ssh defaults\n", "etc/rc1.d/K20ssh", map[string]string{"etc/rc1.d/K20ssh": "../init.d/ssh"}},
	} {
		t.Run(tc.name, func(t *testing.T) {
			r := newRoot(t, tc.postinst, map[string]string{"ssh": "ssh.init", "procps": "procps.init"})
			if tc.existing != "" {
				r.Tree.Put("etc", &fstree.Entry{Kind: fstree.Dir, Meta: fstree.Meta{Mode: 0o755}})
				r.Tree.Put("etc/rc1.d", &fstree.Entry{Kind: fstree.Dir, Meta: fstree.Meta{Mode: 0o755}})
				if err := r.Symlink(tc.existing, "../init.d/ssh"); err != nil {
					t.Fatal(err)
				}
			}
			if err := Configure(r); err != nil {
				t.Fatal(err)
			}
			if got := links(r); !reflect.DeepEqual(got, tc.want) {
				t.Errorf("links %v, want %v", got, tc.want)
			}
		})
	}
}

func TestConfigureBadScript(t *testing.T) {
	r := newRoot(t, "update-rc.d bad defaults\n", nil)
	r.WriteFile("etc/init.d/bad", []byte("#!/bin/sh\n"), 0o755, 0, 0)
	err := Configure(r)
	if err == nil || !strings.Contains(err.Error(), "etc/init.d/bad") {
		t.Errorf("got %v, want an error naming etc/init.d/bad", err)
	}
}
