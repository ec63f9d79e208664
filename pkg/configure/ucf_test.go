package configure

import (
	"strings"
	"testing"

	"github.com/debatom/debatom/pkg/configure/sysroot"
	"github.com/debatom/debatom/pkg/fstree"
)

// openssh-server's postinst, as in Debian 13: ucf installs sshd_config
// (three-way, so a copy is cached) and ucfr registers it. The expected
// bytes are those of a real installation's /var/lib/ucf.
func TestUcfState(t *testing.T) {
	const postinst = `#!/bin/sh
create_sshdconfig() {
	new_config="$(mktemp)"
	cp -aZ /usr/share/openssh/sshd_config "$new_config"
	ucf --three-way --debconf-ok \
		--sum-file /usr/share/openssh/sshd_config.md5sum \
		"$new_config" /etc/ssh/sshd_config
	ucfr openssh-server /etc/ssh/sshd_config
}
ucfr other /etc/not-installed
`
	r := sysroot.New(fstree.New(), nil, []*sysroot.Package{{Name: "openssh-server", Scripts: map[string][]byte{"postinst": []byte(postinst)}}})
	if err := r.WriteFile("etc/ssh/sshd_config", []byte("hello\n"), 0o644, 0, 0); err != nil {
		t.Fatal(err)
	}
	if err := ucfState(r); err != nil {
		t.Fatal(err)
	}
	for p, want := range map[string]string{
		"var/lib/ucf/registry":                   "openssh-server \t /etc/ssh/sshd_config\n",
		"var/lib/ucf/registry.0":                 "",
		"var/lib/ucf/hashfile":                   "b1946ac92492d2347c6235b4d2611184  /etc/ssh/sshd_config\n",
		"var/lib/ucf/hashfile.0":                 "",
		"var/lib/ucf/cache/:etc:ssh:sshd_config": "hello\n",
	} {
		b, err := r.ReadFile(p)
		if err != nil {
			t.Errorf("%s: %v", p, err)
			continue
		}
		if string(b) != want {
			t.Errorf("%s: %q, want %q", p, b, want)
		}
	}
	if len(r.Report.Warnings) != 1 {
		t.Errorf("warnings %v, want one for /etc/not-installed", r.Report.Warnings)
	}
}

// gdm3's postinst names both files: the shipped default becomes the
// configuration file, is registered, and an existing one is kept.
func TestUcfInstallsLiteralSource(t *testing.T) {
	const postinst = `#!/bin/sh
ucf --debconf-ok --three-way /usr/share/gdm/greeter.dconf-defaults /etc/gdm3/greeter.dconf-defaults
ucfr gdm3 /etc/gdm3/greeter.dconf-defaults
ucf /usr/share/x/kept /etc/kept
ucf "$tmp" /etc/runtime
`
	r := sysroot.New(fstree.New(), nil, []*sysroot.Package{{Name: "gdm3", Scripts: map[string][]byte{"postinst": []byte(postinst)}}})
	for p, content := range map[string]string{
		"usr/share/gdm/greeter.dconf-defaults": "[org/gnome]\n",
		"usr/share/x/kept":                     "new\n",
		"etc/kept":                             "old\n",
	} {
		if err := r.WriteFile(p, []byte(content), 0o644, 0, 0); err != nil {
			t.Fatal(err)
		}
	}
	if err := ucfState(r); err != nil {
		t.Fatal(err)
	}
	for p, want := range map[string]string{
		"etc/gdm3/greeter.dconf-defaults": "[org/gnome]\n",
		"etc/kept":                        "old\n",
		"var/lib/ucf/registry":            "gdm3 \t /etc/gdm3/greeter.dconf-defaults\n",
		"var/lib/ucf/cache/:etc:gdm3:greeter.dconf-defaults": "[org/gnome]\n",
	} {
		if b, err := r.ReadFile(p); err != nil || string(b) != want {
			t.Errorf("%s: %q, %v; want %q", p, b, err, want)
		}
	}
	if r.Exists("etc/runtime") {
		t.Error("a source named at run time was installed")
	}
	reportNotDerived(r)
	if len(r.Report.Warnings) != 1 || !strings.Contains(r.Report.Warnings[0].String(), "line 5") {
		t.Errorf("warnings %v, want one for line 5's run-time source", r.Report.Warnings)
	}
}
