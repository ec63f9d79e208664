package configure

import (
	"os"
	"strings"
	"testing"

	"github.com/debatom/debatom/pkg/configure/sysroot"
)

// TestConfigureOrderMatchesMmdebstrap compares the order configure takes
// the packages in with the order dpkg configured them in during a real
// mmdebstrap installation (testdata/mmdebstrap-configure-order.txt).
// The Essential phase, where dpkg --install's own deferrals decide, is
// only checked as a set; the apt phase, whose order decides the IDs
// systemd-sysusers hands out and the order of the account files, exactly
// for the packages whose postinsts create accounts.
func TestConfigureOrderMatchesMmdebstrap(t *testing.T) {
	b, err := os.ReadFile("testdata/mmdebstrap-configure-order.txt")
	if err != nil {
		t.Fatal(err)
	}
	var want []string
	for _, l := range strings.Split(string(b), "\n") {
		if l != "" && !strings.HasPrefix(l, "#") {
			want = append(want, l)
		}
	}
	_, pkgs := archiveSet(t)
	essential, _ := sysroot.Phases(pkgs)
	var got []string
	for _, p := range sysroot.ConfigureOrder(pkgs) {
		got = append(got, p.Name)
	}
	if len(got) != len(want) {
		t.Fatalf("%d packages, reference has %d", len(got), len(want))
	}
	pos := func(list []string) map[string]int {
		m := map[string]int{}
		for i, n := range list {
			m[n] = i
		}
		return m
	}
	gp, wp := pos(got), pos(want)
	ne := len(essential)
	for _, n := range want[:ne] {
		if gp[n] >= ne {
			t.Errorf("%s: configured in the apt phase, reference has it in the Essential phase", n)
		}
	}
	mismatch := 0
	for i := ne; i < len(want); i++ {
		if got[i] != want[i] {
			mismatch++
		}
	}
	t.Logf("apt phase: %d of %d positions differ from the reference", mismatch, len(want)-ne)
	accounts := []string{"systemd", "systemd-timesyncd", "dbus-system-bus-common", "udev", "passwd", "systemd-resolved", "apt", "openssh-client", "openssh-server"}
	for i := 1; i < len(accounts); i++ {
		a, b := accounts[i-1], accounts[i]
		if (gp[a] < gp[b]) != (wp[a] < wp[b]) {
			t.Errorf("%s and %s configured in the other order than the reference", a, b)
		}
	}
}
