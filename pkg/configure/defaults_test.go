package configure

import (
	"testing"

	"github.com/debatom/debatom/pkg/configure/sysroot"
	"github.com/debatom/debatom/pkg/deb822"
	"github.com/debatom/debatom/pkg/fstree"
)

func TestLiteralCopies(t *testing.T) {
	const postinst = `#!/bin/sh
set -e
if [ "$1" = configure ]; then
    if [ ! -r /etc/cups/cupsd.conf ]; then
        cp /usr/share/cups/cupsd.conf.default /etc/cups/cupsd.conf
    fi
    cp /usr/share/x/kept /etc/kept
    cp /usr/share/x/run /run/x
    cp "$tmp" /etc/runtime
    cp /usr/share/x/nodir /etc/nodir/file
fi
`
	r := sysroot.New(fstree.New(), nil, []*sysroot.Package{{Name: "cups-daemon", Scripts: map[string][]byte{"postinst": []byte(postinst)}}})
	for p, content := range map[string]string{
		"usr/share/cups/cupsd.conf.default": "Listen localhost:631\n",
		"usr/share/x/kept":                  "new\n",
		"usr/share/x/run":                   "run\n",
		"usr/share/x/nodir":                 "x\n",
		"etc/kept":                          "old\n",
		"etc/cups/.placeholder":             "",
	} {
		if err := r.WriteFile(p, []byte(content), 0o644, 0, 0); err != nil {
			t.Fatal(err)
		}
	}
	if err := r.Mkdir("run", 0o755, 0, 0); err != nil {
		t.Fatal(err)
	}
	if err := literalCopies(r); err != nil {
		t.Fatal(err)
	}
	for p, want := range map[string]string{"etc/cups/cupsd.conf": "Listen localhost:631\n", "etc/kept": "old\n"} {
		if b, err := r.ReadFile(p); err != nil || string(b) != want {
			t.Errorf("%s: %q %v, want %q", p, b, err, want)
		}
	}
	for _, p := range []string{"run/x", "etc/runtime", "etc/nodir/file"} {
		if r.Exists(p) {
			t.Errorf("%s was made", p)
		}
	}
}

func TestDisplayManager(t *testing.T) {
	const templates = "Template: shared/default-x-display-manager\nType: select\nDescription: x\n\n" +
		"Template: gdm3/daemon_name\nType: string\nDefault: /usr/sbin/gdm3\nDescription: for internal use only\n"
	dm := func(name, tmpl string) *sysroot.Package {
		c := &deb822.Paragraph{}
		c.Set("Package", name)
		c.Set("Provides", "x-display-manager, other (= 1)")
		return &sysroot.Package{Name: name, Control: c, Scripts: map[string][]byte{"templates": []byte(tmpl)}}
	}
	for _, tc := range []struct {
		name     string
		pkgs     []*sysroot.Package
		file     string // want /etc/X11/default-display-manager
		link     string // want display-manager.service's target
		warnings int
	}{
		{"gdm3", []*sysroot.Package{dm("gdm3", templates)}, "/usr/sbin/gdm3\n", "/lib/systemd/system/gdm3.service", 0},
		{"two", []*sysroot.Package{dm("gdm3", templates), dm("lightdm", "Template: lightdm/daemon_name\nDefault: /usr/sbin/lightdm\n")},
			"/usr/sbin/gdm3\n", "/lib/systemd/system/gdm3.service", 1},
		{"no template", []*sysroot.Package{dm("xdm", "")}, "", "", 1},
		{"none", nil, "", "", 0},
	} {
		t.Run(tc.name, func(t *testing.T) {
			r := sysroot.New(fstree.New(), nil, tc.pkgs)
			for _, f := range []string{"usr/lib/systemd/system/gdm.service", "usr/lib/systemd/system/lightdm.service"} {
				if err := r.WriteFile(f, []byte("[Unit]\n"), 0o644, 0, 0); err != nil {
					t.Fatal(err)
				}
			}
			if err := r.Symlink("usr/lib/systemd/system/gdm3.service", "gdm.service"); err != nil {
				t.Fatal(err)
			}
			if err := displayManager(r); err != nil {
				t.Fatal(err)
			}
			b, _ := r.ReadFile("etc/X11/default-display-manager")
			link := ""
			if e := r.Tree.Get("etc/systemd/system/display-manager.service"); e != nil {
				link = e.Target
			}
			if string(b) != tc.file || link != tc.link || len(r.Report.Warnings) != tc.warnings {
				t.Errorf("file %q link %q warnings %v; want %q %q %d", b, link, r.Report.Warnings, tc.file, tc.link, tc.warnings)
			}
		})
	}
}
