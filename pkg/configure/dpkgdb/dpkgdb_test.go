package dpkgdb

import (
	"bytes"
	"os"
	"strings"
	"testing"

	"github.com/debatom/debatom/pkg/configure/sysroot"
	"github.com/debatom/debatom/pkg/deb822"
	"github.com/debatom/debatom/pkg/fstree"
)

func control(t *testing.T, name string) *deb822.Paragraph {
	t.Helper()
	b, err := os.ReadFile("testdata/" + name + ".control")
	if err != nil {
		t.Fatal(err)
	}
	ps, err := deb822.ReadAll(bytes.NewReader(b), name)
	if err != nil || len(ps) != 1 {
		t.Fatal(err)
	}
	return ps[0]
}

// testdata/*.status are the stanzas dpkg itself wrote for these packages
// in an mmdebstrap installation; ours must be byte-identical.
func TestStanzaMatchesDpkg(t *testing.T) {
	r := sysroot.New(fstree.New(), nil, nil)
	for _, f := range []struct{ src, dst string }{
		{"bash.bashrc", "etc/bash.bashrc"}, {".bash_logout", "etc/skel/.bash_logout"},
		{".bashrc", "etc/skel/.bashrc"}, {".profile", "etc/skel/.profile"},
	} {
		b, err := os.ReadFile("testdata/bashfiles/" + f.src)
		if err != nil {
			t.Fatal(err)
		}
		r.WriteFile(f.dst, b, 0o644, 0, 0)
	}
	r.WriteFile("etc/ld.so.conf.d/x86_64-linux-gnu.conf", []byte("# Multiarch support\n/usr/local/lib/x86_64-linux-gnu\n/lib/x86_64-linux-gnu\n/usr/lib/x86_64-linux-gnu\n"), 0o644, 0, 0)
	for _, tc := range []struct {
		name      string
		conffiles []string
	}{
		{"bash", conffiles(t, "bash")},
		{"libc6", conffiles(t, "libc6")},
	} {
		p := &sysroot.Package{Name: tc.name, Control: control(t, tc.name), Conffiles: tc.conffiles}
		st, err := Stanza(p, func(c string) string {
			b, err := r.ReadFile(c)
			if err != nil {
				t.Fatal(err)
			}
			return md5hex(b)
		})
		if err != nil {
			t.Fatal(err)
		}
		var got bytes.Buffer
		st.WriteTo(&got)
		got.WriteString("\n")
		want, _ := os.ReadFile("testdata/" + tc.name + ".status")
		if got.String() != string(want) {
			t.Errorf("%s stanza:\n%s\nwant (dpkg's):\n%s", tc.name, got.String(), want)
		}
	}
}

func conffiles(t *testing.T, name string) []string {
	b, err := os.ReadFile("testdata/" + name + ".conffiles")
	if err != nil {
		t.Fatal(err)
	}
	return strings.Fields(string(b))
}

func TestConfigure(t *testing.T) {
	r := sysroot.New(fstree.New(), nil, []*sysroot.Package{
		{Name: "libc6", Version: "2.41", Architecture: "amd64", Control: control(t, "libc6"),
			Files: []string{"/.", "/usr"}, MD5Sums: []byte("d41d8cd98f00b204e9800998ecf8427e  usr/x\n"),
			Scripts: map[string][]byte{"postinst": []byte("#!/bin/sh\n"), "triggers": []byte("interest-noawait /usr/lib/x\nactivate-noawait ldconfig\n"), "shlibs": []byte("x\n")}},
		{Name: "dpkg", Version: "1", Architecture: "amd64", Control: &deb822.Paragraph{Fields: []deb822.Field{{Name: "Package", Value: "dpkg"}}},
			Scripts: map[string][]byte{"triggers": []byte("interest ldconfig\n")}},
	})
	if err := Configure(r); err != nil {
		t.Fatal(err)
	}
	for p, want := range map[string]string{
		"var/lib/dpkg/info/libc6:amd64.list":    "/.\n/usr\n", // Multi-Arch: same
		"var/lib/dpkg/info/libc6:amd64.md5sums": "d41d8cd98f00b204e9800998ecf8427e  usr/x\n",
		"var/lib/dpkg/info/format":              "1\n",
		"var/lib/dpkg/arch-native":              "amd64\n",
		"var/lib/dpkg/triggers/File":            "/usr/lib/x libc6:amd64/noawait\n", // Multi-Arch: same
		"var/lib/dpkg/triggers/ldconfig":        "dpkg\n",
	} {
		b, err := r.ReadFile(p)
		if err != nil || string(b) != want {
			t.Errorf("%s: %q (%v), want %q", p, b, err, want)
		}
	}
	if e := r.Tree.Get("var/lib/dpkg/info/libc6:amd64.postinst"); e == nil || e.Mode != 0o755 {
		t.Errorf("postinst %+v", e)
	}
	if e := r.Tree.Get("var/lib/dpkg/info/libc6:amd64.shlibs"); e == nil || e.Mode != 0o644 {
		t.Errorf("shlibs %+v", e)
	}
	st, _ := r.ReadFile("var/lib/dpkg/status")
	if !strings.HasPrefix(string(st), "Package: dpkg\nStatus: install ok installed\n\nPackage: libc6\n") {
		t.Errorf("status not sorted by name:\n%.200s", st)
	}
}

func TestBadInput(t *testing.T) {
	if _, err := Stanza(&sysroot.Package{Name: "x"}, nil); err == nil || strings.Contains(err.Error(), "\n") {
		t.Errorf("no control: %v", err)
	}
	r := sysroot.New(fstree.New(), nil, []*sysroot.Package{{Name: "x", Control: &deb822.Paragraph{Fields: []deb822.Field{{Name: "Package", Value: "x"}}},
		Scripts: map[string][]byte{"../evil": nil}}})
	if err := Configure(r); err == nil || strings.Contains(err.Error(), "\n") {
		t.Errorf("control member escaping info/: %v", err)
	}
}

func FuzzStanza(f *testing.F) {
	b, _ := os.ReadFile("testdata/bash.control")
	f.Add(b)
	f.Fuzz(func(t *testing.T, b []byte) {
		ps, err := deb822.ReadAll(bytes.NewReader(b), "fuzz")
		if err != nil || len(ps) != 1 {
			return
		}
		st, err := Stanza(&sysroot.Package{Name: "f", Control: ps[0], Conffiles: []string{"/etc/x"}}, func(string) string { return "0" })
		if err != nil {
			return
		}
		var out bytes.Buffer
		st.WriteTo(&out)
		again, err := deb822.ReadAll(&out, "again")
		if err != nil || len(again) != 1 || again[0].Get("Status") != "install ok installed" {
			t.Fatalf("status stanza does not read back: %v\n%s", err, out.String())
		}
	})
}
