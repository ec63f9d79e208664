package accounts

import (
	"os"
	"strings"
	"testing"
	"time"

	"github.com/debatom/debatom/pkg/configure/sysroot"
	"github.com/debatom/debatom/pkg/fstree"
)

// base returns a tree holding base-passwd's master files and the given
// sysusers.d files from testdata, and packages whose postinsts are given.
func base(t *testing.T, sysusers []string, postinsts map[string]string) *sysroot.Root {
	t.Helper()
	r := sysroot.New(fstree.New(), nil, nil)
	for _, f := range []string{"passwd.master", "group.master"} {
		b, err := os.ReadFile("testdata/" + f)
		if err != nil {
			t.Fatal(err)
		}
		r.WriteFile("usr/share/base-passwd/"+f, b, 0o644, 0, 0)
	}
	for _, f := range sysusers {
		b, err := os.ReadFile("testdata/" + f)
		if err != nil {
			t.Fatal(err)
		}
		r.WriteFile("usr/lib/sysusers.d/"+f, b, 0o644, 0, 0)
	}
	for _, name := range []string{"a", "b", "c", "d"} {
		if src, ok := postinsts[name]; ok {
			r.Packages = append(r.Packages, &sysroot.Package{Name: name, Scripts: map[string][]byte{"postinst": []byte(src)}})
		}
	}
	return r
}

func row(rows [][]string, name string) string {
	if r := find(rows, name); r != nil {
		return strings.Join(r, ":")
	}
	return ""
}

// The IDs systemd-sysusers would give: groups of g lines first, searched
// down from 999; a user takes its group's number when free.
func TestSysusersAllocation(t *testing.T) {
	r := base(t, []string{"basic.conf", "systemd-journal.conf", "systemd-network.conf", "dbus.conf", "openssh-server.conf", "debian-udev.conf"}, map[string]string{
		"a": "systemd-sysusers basic.conf systemd-journal.conf systemd-network.conf\n",
		"b": "if command -v systemd-sysusers; then systemd-sysusers dbus.conf; else adduser --system --group messagebus; fi\n",
		"c": "addgroup --system --quiet --force-badname _ssh\ngroupadd -g 42 shadow\n",
	})
	d, err := Configure(r, Options{Now: time.Unix(20000*86400, 0)})
	if err != nil {
		t.Fatal(err)
	}
	for _, want := range []string{
		"systemd-journal:x:999:",
		"systemd-network:x:998:",
		"messagebus:x:997:",
		"_ssh:x:101:",
		"shadow:x:42:",
		// Files no script named are applied at the end, in name order.
		"input:x:996:", "render:x:992:",
	} {
		name := want[:strings.IndexByte(want, ':')]
		if got := row(d.Group, name); got != want {
			t.Errorf("group %s: %q, want %q", name, got, want)
		}
	}
	for _, want := range []string{
		"systemd-network:x:998:998:systemd Network Management:/:/usr/sbin/nologin",
		"messagebus:x:997:997:System Message Bus:/nonexistent:/usr/sbin/nologin",
		// -:nogroup: the group is nogroup; 65534 is nobody's, so search.
		"sshd:x:991:65534:sshd user:/run/sshd:/usr/sbin/nologin",
		"root:x:0:0:root:/root:/bin/bash",
	} {
		name := want[:strings.IndexByte(want, ':')]
		if got := row(d.Passwd, name); got != want {
			t.Errorf("user %s: %q, want %q", name, got, want)
		}
	}
	if got := row(d.Shadow, "root"); got != "root:*:20000:0:99999:7:::" {
		t.Errorf("root shadow %q (pwconv's)", got)
	}
	if got := row(d.Shadow, "messagebus"); got != "messagebus:!*:20000::::::" {
		t.Errorf("messagebus shadow %q (sysusers')", got)
	}
	if got := row(d.GShadow, "_ssh"); got != "_ssh:!::" {
		t.Errorf("_ssh gshadow %q", got)
	}
	e := r.Tree.Get("etc/shadow")
	if e.Mode != 0o640 || e.GID != 42 {
		t.Errorf("etc/shadow mode %o gid %d", e.Mode, e.GID)
	}
}

func TestDeclared(t *testing.T) {
	r := base(t, nil, nil)
	d, err := Configure(r, Options{
		Users: []User{
			{Name: "root", PasswordHash: "$6$x$y"},
			{Name: "alice", Groups: []string{"sudo", "ops"}, AuthorizedKeys: []string{"ssh-ed25519 AAAA a@b"}},
			{Name: "bob", UID: 1500, Shell: "/bin/sh", Home: "/srv/bob"},
		},
		Groups: []Group{{Name: "ops"}, {Name: "fixed", GID: 1200}},
	})
	if err != nil {
		t.Fatal(err)
	}
	for _, want := range []string{"alice:x:1000:1000::/home/alice:/bin/bash", "bob:x:1500:1500::/srv/bob:/bin/sh"} {
		if got := row(d.Passwd, want[:strings.IndexByte(want, ':')]); got != want {
			t.Errorf("%q, want %q", got, want)
		}
	}
	for _, want := range []string{"ops:x:1001:alice", "fixed:x:1200:", "sudo:x:27:alice"} {
		if got := row(d.Group, want[:strings.IndexByte(want, ':')]); got != want {
			t.Errorf("%q, want %q", got, want)
		}
	}
	if got := find(d.Shadow, "root")[1]; got != "$6$x$y" {
		t.Errorf("root hash %q", got)
	}
	if e := r.Tree.Get("home/alice/.ssh/authorized_keys"); e == nil || string(e.Data) != "ssh-ed25519 AAAA a@b\n" || e.UID != 1000 {
		t.Errorf("authorized_keys %+v", e)
	}
	if e := r.Tree.Get("srv/bob"); e == nil || e.Mode != 0o700 || e.UID != 1500 {
		t.Errorf("bob's home %+v", e)
	}
}

func TestDeclaredErrors(t *testing.T) {
	for _, tc := range []struct {
		name string
		opts Options
	}{
		{"bad name", Options{Users: []User{{Name: "a:b"}}}},
		{"uid taken", Options{Users: []User{{Name: "x", UID: 65534}}}},
		{"no such group", Options{Users: []User{{Name: "x", Groups: []string{"nope"}}}}},
		{"hash with colon", Options{Users: []User{{Name: "x", PasswordHash: "a:b"}}}},
		{"multi-line key", Options{Users: []User{{Name: "x", AuthorizedKeys: []string{"a\nb"}}}}},
		{"gid clash", Options{Groups: []Group{{Name: "sudo", GID: 5}}}},
		{"relative home", Options{Users: []User{{Name: "x", Home: "home/x"}}}},
	} {
		t.Run(tc.name, func(t *testing.T) {
			_, err := Configure(base(t, nil, nil), tc.opts)
			if err == nil || strings.Contains(err.Error(), "\n") {
				t.Fatalf("want a one-line error, got %v", err)
			}
		})
	}
}

func TestParseTableBad(t *testing.T) {
	for _, tc := range []struct{ kind, in string }{
		{"passwd", "root:x:0:0:root:/root\n"},
		{"passwd", "root:x:zero:0:root:/root:/bin/sh\n"},
		{"group", ":x:0:\n"},
		{"shadow", "a:b\n"},
		{"nope", "a\n"},
	} {
		if _, err := ParseTable(tc.kind, []byte(tc.in)); err == nil || strings.Contains(err.Error(), "\n") {
			t.Errorf("%s %q: want a one-line error, got %v", tc.kind, tc.in, err)
		}
	}
}

func TestParseSysusersBad(t *testing.T) {
	for _, in := range []string{"x foo\n", "u\n", "u \"unterminated\n", "u a:b -\n"} {
		if _, err := ParseSysusers("t.conf", []byte(in)); err == nil || strings.Contains(err.Error(), "\n") {
			t.Errorf("%q: want a one-line error, got %v", in, err)
		}
	}
}

func FuzzParseSysusers(f *testing.F) {
	for _, n := range []string{"basic.conf", "dbus.conf", "openssh-server.conf"} {
		b, _ := os.ReadFile("testdata/" + n)
		f.Add(b)
	}
	f.Fuzz(func(t *testing.T, b []byte) {
		lines, err := ParseSysusers("fuzz.conf", b)
		if err != nil {
			return
		}
		d := &DB{}
		d.sysusersRun(lines, "1", func(string, ...any) {})
		out := FormatTable(d.Passwd)
		if _, err := ParseTable("passwd", out); err != nil {
			t.Fatalf("wrote an unreadable passwd: %v\n%s", err, out)
		}
	})
}

func FuzzParseTable(f *testing.F) {
	b, _ := os.ReadFile("testdata/passwd.master")
	f.Add("passwd", b)
	b, _ = os.ReadFile("testdata/group.master")
	f.Add("group", b)
	f.Fuzz(func(t *testing.T, kind string, b []byte) {
		rows, err := ParseTable(kind, b)
		if err != nil {
			return
		}
		again, err := ParseTable(kind, FormatTable(rows))
		if err != nil || len(again) != len(rows) {
			t.Fatalf("round trip: %v", err)
		}
	})
}

// As in a real installation: systemd-sysusers runs before passwd's
// postinst converts to shadow passwords, so its rows head the shadow
// files; "u!" users expire on day 1; each "-" backup is its file before
// the last tool run that changed it.
func TestShadowConversionOrderAndBackups(t *testing.T) {
	r := base(t, []string{"basic.conf", "systemd-journal.conf", "systemd-network.conf", "openssh-server.conf"}, map[string]string{
		"a": "systemd-sysusers basic.conf systemd-journal.conf systemd-network.conf\n",
		"b": "[ -z \"$2\" ] && shadowconfig on\n",
		"c": "addgroup --system --quiet _ssh\n",
		"d": "systemd-sysusers openssh-server.conf\n",
	})
	d, err := Configure(r, Options{Now: time.Unix(20000*86400, 0)})
	if err != nil {
		t.Fatal(err)
	}
	if got := strings.Join(d.Shadow[0], ":"); got != "systemd-network:!*:20000:::::1:" {
		t.Errorf("first shadow row %q, want systemd-network's, locked and expired", got)
	}
	if d.Shadow[1][0] != "root" || d.Shadow[len(d.Shadow)-1][0] != "sshd" {
		t.Errorf("shadow order %v..., want sysusers' rows, pwconv's (root first), then sshd", d.Shadow[:2])
	}
	if d.GShadow[0][0] != "systemd-journal" {
		t.Errorf("first gshadow row %v, want systemd-journal", d.GShadow[0])
	}
	for _, tc := range []struct{ file, lastLine string }{
		{"etc/passwd", "sshd:"}, {"etc/shadow", "sshd:"}, {"etc/group", "_ssh:"}, {"etc/gshadow", "_ssh:"},
	} {
		cur, _ := r.ReadFile(tc.file)
		bak, _ := r.ReadFile(tc.file + "-")
		lines := strings.Split(strings.TrimSuffix(string(cur), "\n"), "\n")
		last := lines[len(lines)-1]
		if !strings.HasPrefix(last, tc.lastLine) || string(bak)+last+"\n" != string(cur) {
			t.Errorf("%s-: %q, want %s without its last row %q", tc.file, bak, tc.file, last)
		}
		if be, fe := r.Tree.Get(tc.file+"-"), r.Tree.Get(tc.file); be.Mode != fe.Mode || be.GID != fe.GID {
			t.Errorf("%s- mode %o gid %d, want the file's %o %d", tc.file, be.Mode, be.GID, fe.Mode, fe.GID)
		}
	}
}
