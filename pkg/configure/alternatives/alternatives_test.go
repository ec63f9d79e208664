package alternatives

import (
	"crypto/sha256"
	"encoding/hex"
	"os"
	"strings"
	"testing"

	"github.com/debatom/debatom/pkg/configure/script"
	"github.com/debatom/debatom/pkg/configure/sysroot"
	"github.com/debatom/debatom/pkg/fstree"
)

// tree holds the packages' postinsts from testdata and every path their
// update-alternatives calls name, under a merged /usr (bin → usr/bin).
func tree(t *testing.T, pkgs ...string) *sysroot.Root {
	t.Helper()
	tr := fstree.New()
	r := sysroot.New(tr, nil, nil)
	for _, d := range []string{"bin", "sbin"} {
		if err := r.Symlink(d, "usr/"+d); err != nil {
			t.Fatal(err)
		}
	}
	if err := r.Mkdir("usr/bin", 0o755, 0, 0); err != nil {
		t.Fatal(err)
	}
	for _, p := range pkgs {
		src, err := os.ReadFile("testdata/" + p + ".postinst")
		if err != nil {
			t.Fatal(err)
		}
		r.Packages = append(r.Packages, &sysroot.Package{Name: p, Scripts: map[string][]byte{"postinst": src}})
		for _, c := range script.Calls(script.Parse(src), "update-alternatives") {
			_, _, ch, _, err := Install(c.Args)
			if err != nil {
				continue
			}
			for _, f := range append([]string{ch.Path}, values(ch.Slaves)...) {
				if err := r.WriteFile(f, []byte(f), 0o755, 0, 0); err != nil {
					t.Fatal(err)
				}
			}
		}
	}
	return r
}

func values(m map[string]string) []string {
	var out []string
	for _, v := range m {
		out = append(out, v)
	}
	return out
}

func sha16(b []byte) string {
	s := sha256.Sum256(b)
	return hex.EncodeToString(s[:])[:16]
}

// Sizes and SHA-256 prefixes of the state files update-alternatives wrote
// in the reference installation (shared/reference), which had util-linux
// but not less.
func TestStateFilesMatchReference(t *testing.T) {
	r := tree(t, "bash", "cpio", "debianutils", "mawk", "pinentry-curses", "tar", "util-linux")
	if _, err := Configure(r); err != nil {
		t.Fatal(err)
	}
	for _, tc := range []struct {
		name string
		size int
		sha  string
	}{
		{"awk", 207, "06c7cfca68d405ca"},
		{"builtins.7.gz", 83, "6cd368606c13e126"},
		{"mt", 106, "869fc6a781161864"},
		{"pager", 107, "2e9eefcd61abb2a2"},
		{"pinentry", 142, "0565fadf03128bc0"},
		{"rmt", 113, "cc31c88e6e9660da"},
		{"which", 787, "55a922644024cd95"},
	} {
		b, err := r.ReadFile("var/lib/dpkg/alternatives/" + tc.name)
		if err != nil {
			t.Fatal(err)
		}
		if len(b) != tc.size || sha16(b) != tc.sha {
			t.Errorf("%s: %d bytes %s, want %d bytes %s\n%s", tc.name, len(b), sha16(b), tc.size, tc.sha, b)
		}
	}
	for link, want := range map[string]string{
		"etc/alternatives/awk":             "/usr/bin/mawk",
		"etc/alternatives/pager":           "/bin/more",
		"etc/alternatives/which.de1.gz":    "/usr/share/man/de/man1/which.debianutils.1.gz",
		"usr/bin/awk":                      "/etc/alternatives/awk",
		"usr/bin/nawk":                     "/etc/alternatives/nawk",
		"usr/share/man/man7/builtins.7.gz": "/etc/alternatives/builtins.7.gz",
		"usr/sbin/rmt":                     "/etc/alternatives/rmt",
		"usr/share/man/pl/man1/which.1.gz": "/etc/alternatives/which.pl1.gz",
		"etc/alternatives/pinentry.1.gz":   "/usr/share/man/man1/pinentry-curses.1.gz",
	} {
		e := r.Tree.Get(link)
		if e == nil || e.Kind != fstree.Symlink || e.Target != want {
			t.Errorf("%s: %+v, want symlink to %s", link, e, want)
		}
	}
}

func TestHighestPriorityWins(t *testing.T) {
	r := tree(t, "util-linux", "less")
	gs, err := Configure(r)
	if err != nil {
		t.Fatal(err)
	}
	if len(gs) != 1 || len(gs[0].Choices) != 2 {
		t.Fatalf("groups %+v", gs)
	}
	if e := r.Tree.Get("etc/alternatives/pager"); e.Target != "/usr/bin/less" {
		t.Errorf("pager → %s, want less (77 beats more's 50)", e.Target)
	}
	b, _ := r.ReadFile("var/lib/dpkg/alternatives/pager")
	want := "auto\n/usr/bin/pager\npager.1.gz\n/usr/share/man/man1/pager.1.gz\n\n" +
		"/bin/more\n50\n/usr/share/man/man1/more.1.gz\n/usr/bin/less\n77\n/usr/share/man/man1/less.1.gz\n\n"
	if string(b) != want {
		t.Errorf("state file:\n%s\nwant\n%s", b, want)
	}
}

func TestMissingChoiceIsWarned(t *testing.T) {
	r := sysroot.New(fstree.New(), nil, []*sysroot.Package{{Name: "x", Scripts: map[string][]byte{
		"postinst": []byte("update-alternatives --install /usr/bin/x x /usr/bin/x-impl 10\n"),
	}}})
	gs, err := Configure(r)
	if err != nil || len(gs) != 0 || len(r.Report.Warnings) != 1 {
		t.Fatalf("groups %v err %v warnings %v", gs, err, r.Report.Warnings)
	}
}

func TestInstallBadArgs(t *testing.T) {
	for _, args := range [][]string{
		{"--install", "/usr/bin/x", "x"},
		{"--install", "/usr/bin/x", "x", "/usr/bin/y", "ten"},
		{"--install", "usr/bin/x", "x", "/usr/bin/y", "1"},
		{"--install", "/usr/bin/x", "x", "/usr/bin/y", "1", "--slave", "/a"},
		{"--install", "/usr/bin/x", "a/b", "/usr/bin/y", "1"},
	} {
		_, _, _, _, err := Install(args)
		if err == nil || strings.Contains(err.Error(), "\n") {
			t.Errorf("%q: want a one-line error, got %v", args, err)
		}
	}
}

func FuzzInstall(f *testing.F) {
	f.Add("--install /usr/bin/awk awk /usr/bin/mawk 5 --slave /usr/bin/nawk nawk /usr/bin/mawk")
	f.Fuzz(func(t *testing.T, s string) {
		link, name, c, slaves, err := Install(strings.Fields(s))
		if err != nil {
			return
		}
		g := &Group{Name: name, Link: link, Slaves: slaves, Choices: []Choice{c}}
		if len(g.StateFile()) == 0 {
			t.Fatal("empty state file")
		}
	})
}

// desktop-base (Debian 13) registers its themes from a here-document table,
// then wallpapers that exist only under the active-theme link the first
// group just made.
func TestChoiceUnderAnotherGroupsLink(t *testing.T) {
	const postinst = `#!/bin/sh
set -e
if [ "$1" = configure ]; then
    while read theme priority; do
        update-alternatives --install \
            /usr/share/desktop-base/active-theme \
            desktop-theme \
            /usr/share/desktop-base/$theme-theme $priority
    done << EOF
ceratopsian 50
emerald 40
EOF
    active_background=/usr/share/desktop-base/active-theme/wallpaper/1920x1080.svg
    if [ -e ${active_background} ]; then
        update-alternatives --install \
            /usr/share/images/desktop-base/desktop-background \
            desktop-background ${active_background} 70
    fi
fi
`
	r := sysroot.New(fstree.New(), nil, []*sysroot.Package{{Name: "desktop-base", Scripts: map[string][]byte{"postinst": []byte(postinst)}}})
	for _, f := range []string{
		"usr/share/desktop-base/ceratopsian-theme/wallpaper/1920x1080.svg",
		"usr/share/desktop-base/emerald-theme/wallpaper/1920x1080.svg",
	} {
		if err := r.WriteFile(f, nil, 0o644, 0, 0); err != nil {
			t.Fatal(err)
		}
	}
	if err := r.Mkdir("usr/share/images/desktop-base", 0o755, 0, 0); err != nil {
		t.Fatal(err)
	}
	gs, err := Configure(r)
	if err != nil {
		t.Fatal(err)
	}
	if len(gs) != 2 || len(gs[0].Choices) != 2 || len(r.Report.Warnings) != 0 {
		t.Fatalf("groups %+v, warnings %v", gs, r.Report.Warnings)
	}
	for link, want := range map[string]string{
		"etc/alternatives/desktop-theme":                   "/usr/share/desktop-base/ceratopsian-theme",
		"etc/alternatives/desktop-background":              "/usr/share/desktop-base/active-theme/wallpaper/1920x1080.svg",
		"usr/share/images/desktop-base/desktop-background": "/etc/alternatives/desktop-background",
	} {
		if e := r.Tree.Get(link); e == nil || e.Target != want {
			t.Errorf("%s → %v, want %s", link, e, want)
		}
	}
	if rp, e, err := r.Lookup("usr/share/images/desktop-base/desktop-background"); err != nil || e == nil ||
		rp != "usr/share/desktop-base/ceratopsian-theme/wallpaper/1920x1080.svg" {
		t.Errorf("the background resolves to %q (%v)", rp, err)
	}
}
