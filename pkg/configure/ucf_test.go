package configure

import (
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
