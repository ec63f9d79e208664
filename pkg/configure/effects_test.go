package configure

import (
	"strings"
	"testing"

	"github.com/debatom/debatom/pkg/fstree"
)

// TestArchiveEffects checks effects of this package set's scripts that the
// reference set (which lacks these packages) cannot show.
func TestArchiveEffects(t *testing.T) {
	tr, rep := configured(t, Options{Timezone: "Europe/Paris"})
	file := func(p string) *fstree.Entry {
		e := tr.Get(p)
		if e == nil || e.Kind != fstree.File {
			t.Errorf("%s: %+v, want a file", p, e)
			return &fstree.Entry{}
		}
		return e
	}
	gid := func(group string) uint32 {
		for _, l := range strings.Split(string(file("etc/group").Data), "\n") {
			if f := strings.Split(l, ":"); len(f) == 4 && f[0] == group {
				var n uint32
				for _, c := range f[2] {
					n = n*10 + uint32(c-'0')
				}
				return n
			}
		}
		t.Fatalf("no group %s", group)
		return 0
	}
	// dbus: dpkg-statoverride --add root messagebus 4754 ...
	if e := file("usr/lib/dbus-1.0/dbus-daemon-launch-helper"); e.Mode != 0o4754 || e.UID != 0 || e.GID != gid("messagebus") {
		t.Errorf("dbus launch helper: mode %o %d:%d", e.Mode, e.UID, e.GID)
	}
	if got := string(file("var/lib/dpkg/statoverride").Data); got != "root messagebus 4754 /usr/lib/dbus-1.0/dbus-daemon-launch-helper\n" {
		t.Errorf("statoverride %q", got)
	}
	// openssh-client: addgroup _ssh; chgrp _ssh ssh-agent; chmod 2755.
	if e := file("usr/bin/ssh-agent"); e.Mode != 0o2755 || e.GID != gid("_ssh") {
		t.Errorf("ssh-agent: mode %o gid %d", e.Mode, e.GID)
	}
	if len(file("etc/ssh/sshd_config").Data) < 1000 {
		t.Error("sshd_config not installed from /usr/share/openssh")
	}
	if tr.Get("etc/ssh/ssh_host_ed25519_key") != nil {
		t.Error("a host key was baked into the image")
	}
	links := map[string]string{
		"etc/resolv.conf": "../run/systemd/resolve/stub-resolv.conf",
		"etc/localtime":   "/usr/share/zoneinfo/Europe/Paris",
		"etc/mtab":        "../proc/self/mounts",
		"etc/systemd/system/multi-user.target.wants/ssh.service":            "/usr/lib/systemd/system/ssh.service",
		"etc/systemd/system/sysinit.target.wants/systemd-timesyncd.service": "/usr/lib/systemd/system/systemd-timesyncd.service",
		"etc/systemd/system/dbus-org.freedesktop.resolve1.service":          "/usr/lib/systemd/system/systemd-resolved.service",
		"etc/alternatives/editor":                                           "/bin/nano",
		"etc/alternatives/pager":                                            "/usr/bin/less",
	}
	for p, want := range links {
		if e := tr.Get(p); e == nil || e.Kind != fstree.Symlink || e.Target != want {
			t.Errorf("%s: %+v, want → %s", p, e, want)
		}
	}
	if tr.Get("etc/systemd/system/sysinit.target.wants/systemd-time-wait-sync.service") != nil {
		t.Error("systemd-time-wait-sync enabled although its preset is disable")
	}
	if s := string(file("etc/nsswitch.conf").Data); !strings.Contains(s, "passwd:         files systemd\n") {
		t.Errorf("nsswitch.conf lacks systemd:\n%s", s)
	}
	if s := string(file("etc/pam.d/common-session").Data); !strings.Contains(s, "pam_systemd.so") {
		t.Error("common-session lacks pam_systemd")
	}
	if e := file("etc/machine-id"); len(e.Data) != 0 || e.Mode != 0o644 {
		t.Errorf("machine-id %+v", e)
	}
	for _, w := range rep.Warnings {
		t.Log("warning:", w)
	}
	if _, err := Configure(t.Context(), fstree.New(), nil, nil, Options{}); err == nil {
		t.Error("an empty tree configured without error")
	}
}
