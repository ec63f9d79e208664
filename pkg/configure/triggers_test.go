package configure

import (
	"path"
	"strings"
	"testing"

	"github.com/debatom/debatom/pkg/configure/sysroot"
	"github.com/debatom/debatom/pkg/fstree"
)

func TestReportFileTriggers(t *testing.T) {
	glib := &sysroot.Package{Name: "libglib2.0-0t64", Scripts: map[string][]byte{"triggers": []byte(
		"interest-noawait /usr/lib/x86_64-linux-gnu/gio/modules\ninterest-await /usr/share/glib-2.0/schemas\n" +
			"# Triggers added by dh_makeshlibs\nactivate-noawait ldconfig\n")},
		Files: []string{"/usr", "/usr/share/glib-2.0/schemas", "/usr/lib/x86_64-linux-gnu/gio/modules"}}
	mime := &sysroot.Package{Name: "shared-mime-info", Scripts: map[string][]byte{"triggers": []byte("interest-noawait /usr/share/mime/packages\n")},
		Files: []string{"/usr/share/mime/packages/freedesktop.org.xml"}}
	sysctl := &sysroot.Package{Name: "procps", Scripts: map[string][]byte{"triggers": []byte("interest-noawait /usr/lib/sysctl.d\n")},
		Files: []string{"/usr/lib/sysctl.d/10-x.conf"}}
	schemas := &sysroot.Package{Name: "gsettings-desktop-schemas", Files: []string{"/usr/share/glib-2.0/schemas/org.gnome.desktop.gschema.xml"}}
	for _, tc := range []struct {
		name     string
		pkgs     []*sysroot.Package
		compiled bool
		want     []string // substrings, one per warning
	}{
		{"directories only", []*sysroot.Package{glib, sysctl}, false, nil},
		{"schemas and mime", []*sysroot.Package{glib, mime, schemas, sysctl}, false,
			[]string{"libglib2.0-0t64: file trigger on /usr/share/glib-2.0/schemas, activated by 1 files: not derived (no /usr/share/glib-2.0/schemas/gschemas.compiled)",
				"shared-mime-info: file trigger on /usr/share/mime/packages, activated by 1 files: not derived"}},
		{"schemas compiled", []*sysroot.Package{glib, schemas}, true, nil},
	} {
		t.Run(tc.name, func(t *testing.T) {
			r := sysroot.New(fstree.New(), nil, tc.pkgs)
			for _, p := range tc.pkgs {
				for _, f := range p.Files {
					var err error
					if strings.Contains(path.Base(f), ".") {
						err = r.WriteFile(f[1:], nil, 0o644, 0, 0)
					} else {
						err = r.Mkdir(f[1:], 0o755, 0, 0)
					}
					if err != nil {
						t.Fatal(err)
					}
				}
			}
			if tc.compiled {
				if err := r.WriteFile("usr/share/glib-2.0/schemas/gschemas.compiled", []byte("GVariant"), 0o644, 0, 0); err != nil {
					t.Fatal(err)
				}
			}
			reportFileTriggers(r)
			if len(r.Report.Warnings) != len(tc.want) {
				t.Fatalf("warnings %v, want %d", r.Report.Warnings, len(tc.want))
			}
			for i, w := range tc.want {
				if got := r.Report.Warnings[i].String(); !strings.Contains(got, w) {
					t.Errorf("warning %q, want %q", got, w)
				}
			}
		})
	}
}
