package script

import (
	"os"
	"reflect"
	"strings"
	"testing"
)

func TestParse(t *testing.T) {
	for _, tc := range []struct {
		name, src string
		want      [][]string
	}{
		{"continuation", "update-alternatives --install /usr/bin/a a \\\n  /usr/bin/b 10\n",
			[][]string{{"update-alternatives", "--install", "/usr/bin/a", "a", "/usr/bin/b", "10"}}},
		{"variables", "U=messagebus\nL=/usr/lib/x\ndpkg-statoverride --add root \"$U\" 4754 ${L}\n",
			[][]string{{"dpkg-statoverride", "--add", "root", "messagebus", "4754", "/usr/lib/x"}}},
		{"unknown variable kept", "adduser $1\n", [][]string{{"adduser", "$1"}}},
		{"dpkg root empty", "systemd-sysusers ${DPKG_ROOT:+--root=\"$DPKG_ROOT\"} a.conf\n",
			[][]string{{"systemd-sysusers", "a.conf"}}},
		{"if and redirections", "if deb-systemd-helper --quiet was-enabled 'x.timer'; then\n\tdeb-systemd-helper enable 'x.timer' >/dev/null || true\nfi\n",
			[][]string{{"deb-systemd-helper", "--quiet", "was-enabled", "x.timer"}, {"deb-systemd-helper", "enable", "x.timer"}, {"true"}}},
		{"comments", "# adduser x\nls # adduser y\n", [][]string{{"ls"}}},
		{"2>&1 stays one word", "ldconfig 2>&1 && echo ok\n", [][]string{{"ldconfig"}, {"echo", "ok"}}},
		{"single quotes", "echo 'a b' \"c $X\"\n", [][]string{{"echo", "a b", "c $X"}}},
	} {
		t.Run(tc.name, func(t *testing.T) {
			var got [][]string
			for _, c := range Parse([]byte(tc.src)) {
				got = append(got, c.Args)
			}
			if !reflect.DeepEqual(got, tc.want) {
				t.Errorf("got %q, want %q", got, tc.want)
			}
		})
	}
}

func TestHeredocRedirectConds(t *testing.T) {
	src := "if [ ! -e /etc/x ]; then\n" +
		"\tcat > /etc/x <<'EOF'\n# not a command\nadduser nobody-here\nEOF\nfi\n" +
		"if deb-systemd-helper debian-installed 'a.socket'; then\n" +
		"\tdeb-systemd-helper enable 'a.socket' >/dev/null 2>&1\nelse\n\techo no >> /var/log/x\nfi\n" +
		"cat <<-END >/etc/y\n\tline\n\tEND\n"
	cmds := Parse([]byte(src))
	if len(Calls(cmds, "adduser")) != 0 {
		t.Error("a here-document line was taken for a command")
	}
	cat := Calls(cmds, "cat")
	if len(cat) != 2 || cat[0].Stdout != "/etc/x" || cat[0].Heredoc != "# not a command\nadduser nobody-here\n" ||
		cat[1].Stdout != "/etc/y" || cat[1].Heredoc != "line\n" {
		t.Errorf("cat calls %+v", cat)
	}
	if !reflect.DeepEqual(cat[0].Conds, []string{"[ ! -e /etc/x ]"}) || len(cat[1].Conds) != 0 {
		t.Errorf("conditions %q %q", cat[0].Conds, cat[1].Conds)
	}
	en := Calls(cmds, "deb-systemd-helper")
	if len(en) != 2 || !reflect.DeepEqual(en[1].Conds, []string{"deb-systemd-helper debian-installed a.socket"}) || en[1].Stdout != "/dev/null" {
		t.Errorf("enable %+v", en)
	}
	echo := Calls(cmds, "echo")
	if len(echo) != 1 || !reflect.DeepEqual(echo[0].Conds, []string{"!deb-systemd-helper debian-installed a.socket"}) {
		t.Errorf("else branch %+v", echo)
	}
}

// The real dbus postinst: the statoverride call and its variables.
func TestRealScript(t *testing.T) {
	src, err := os.ReadFile("testdata/dbus.postinst")
	if err != nil {
		t.Fatal(err)
	}
	calls := Calls(Parse(src), "dpkg-statoverride")
	want := []string{"--update", "--add", "root", "messagebus", "4754", "/usr/lib/dbus-1.0/dbus-daemon-launch-helper"}
	found := false
	for _, c := range calls {
		if reflect.DeepEqual(c.Args, want) {
			found = true
			if c.Line != 28 {
				t.Errorf("line %d, want 28", c.Line)
			}
		}
	}
	if !found {
		t.Errorf("statoverride call not found in %v", calls)
	}
	src, _ = os.ReadFile("testdata/apt.postinst")
	if n := len(Calls(Parse(src), "deb-systemd-helper")); n < 8 {
		t.Errorf("apt postinst: %d deb-systemd-helper calls", n)
	}
}

func FuzzParse(f *testing.F) {
	for _, p := range []string{"testdata/dbus.postinst", "testdata/apt.postinst"} {
		b, _ := os.ReadFile(p)
		f.Add(b)
	}
	f.Add([]byte("a=${b:-$(c)}\n\"unterminated 'q \\"))
	f.Add([]byte("while read a b; do\n x $a $b\n while read c; do y $c; done <<E\n1\n2\nE\ndone <<EOF\n1 2\n3 4\nEOF\n"))
	f.Fuzz(func(t *testing.T, b []byte) {
		for _, c := range Parse(b) {
			if len(c.Args) == 0 || c.Line < 1 {
				t.Fatalf("bad command %+v", c)
			}
			if strings.Contains(strings.Join(c.Args, ""), "\n") && !strings.Contains(string(b), "\n") {
				t.Fatal("newline invented")
			}
		}
	})
}

func BenchmarkParse(b *testing.B) {
	src, _ := os.ReadFile("testdata/apt.postinst")
	b.SetBytes(int64(len(src)))
	for b.Loop() {
		Parse(src)
	}
}

func TestReadLoopUnrolled(t *testing.T) {
	src := "A=/usr/share/a\n" +
		"while read theme priority; do\n" +
		"\tupdate-alternatives --install /x/active desktop-theme \"$A/${theme}-theme\" $priority\n" +
		"done << EOF\nceratopsian 50\n\nemerald 40 extra words\nEOF\n" +
		"cmd | while read x; do\n\tadduser $x\ndone\n" +
		"ls\n"
	var got [][]string
	for _, c := range Parse([]byte(src)) {
		got = append(got, c.Args)
	}
	want := [][]string{
		{"read", "theme", "priority"},
		{"update-alternatives", "--install", "/x/active", "desktop-theme", "/usr/share/a/ceratopsian-theme", "50"},
		{"update-alternatives", "--install", "/x/active", "desktop-theme", "/usr/share/a/emerald-theme", "40 extra words"},
		{"cmd"}, {"read", "x"}, {"adduser", "$x"}, {"ls"},
	}
	if !reflect.DeepEqual(got, want) {
		t.Errorf("got %q\nwant %q", got, want)
	}
}
