package configure

import (
	"bytes"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"syscall"
	"testing"

	"github.com/debatom/debatom/internal/testenv"
	"github.com/debatom/debatom/pkg/configure/sysroot"
	"github.com/debatom/debatom/pkg/fstree"
)

// The attribute bytes are those the real setcap writes for the same text.
func TestFileCapsMatchesSetcap(t *testing.T) {
	setcap := testenv.Tool(t, "setcap")
	if os.Geteuid() != 0 {
		t.Skip("setcap needs root")
	}
	for _, text := range []string{
		"cap_sys_nice,cap_net_bind_service,cap_net_admin+ep",
		"cap_net_raw+p",
		"cap_dac_override,cap_bpf,cap_net_admin=ep",
		"cap_checkpoint_restore,cap_perfmon+eip",
		"=ep cap_sys_admin-ep",
	} {
		f := filepath.Join(t.TempDir(), "f")
		if err := os.WriteFile(f, nil, 0o755); err != nil {
			t.Fatal(err)
		}
		if out, err := exec.Command(setcap, text, f).CombinedOutput(); err != nil {
			t.Fatalf("setcap %s: %v\n%s", text, err, out)
		}
		want := make([]byte, 64)
		n, err := syscall.Getxattr(f, "security.capability", want)
		if err != nil {
			t.Fatalf("%s: %v", text, err)
		}
		got, err := fileCaps(text)
		if err != nil {
			t.Fatalf("%s: %v", text, err)
		}
		if !bytes.Equal(got, want[:n]) {
			t.Errorf("%s:\n got %x\nwant %x", text, got, want[:n])
		}
	}
	for _, bad := range []string{"cap_nonsense+ep", "cap_chown", "cap_chown+q"} {
		if _, err := fileCaps(bad); err == nil {
			t.Errorf("%q accepted", bad)
		}
	}
}

// Symbolic and octal modes give what coreutils' chmod gives.
func TestChmodModeMatchesChmod(t *testing.T) {
	chmod := testenv.Tool(t, "chmod")
	old := syscall.Umask(0o022)
	defer syscall.Umask(old)
	for _, tc := range []struct {
		start uint32
		mode  string
	}{
		{0o755, "u+s"}, {0o755, "g+s"}, {0o755, "+s"}, {0o644, "+x"}, {0o644, "a+x"},
		{0o600, "go+r"}, {0o777, "o-w"}, {0o644, "u=rwx,g=rx,o="}, {0o755, "2775"},
		{0o640, "a+X"}, {0o750, "o+X"}, {0o755, "+t"}, {0o4755, "u-s"}, {0o666, "a-w"},
		{0o700, "ug+rw,o-rwx"}, {0o644, "0440"},
	} {
		for _, dir := range []bool{false, true} {
			p := filepath.Join(t.TempDir(), "x")
			var err error
			if dir {
				err = os.Mkdir(p, 0o700)
			} else {
				err = os.WriteFile(p, nil, 0o600)
			}
			if err == nil {
				err = os.Chmod(p, os.FileMode(tc.start&0o777)|modeBits(tc.start))
			}
			if err != nil {
				t.Fatal(err)
			}
			if out, err := exec.Command(chmod, tc.mode, p).CombinedOutput(); err != nil {
				t.Fatalf("chmod %s: %v\n%s", tc.mode, err, out)
			}
			var st syscall.Stat_t
			if err := syscall.Stat(p, &st); err != nil {
				t.Fatal(err)
			}
			got, ok := chmodMode(tc.mode, tc.start, dir)
			if want := st.Mode & 0o7777; !ok || got != want {
				t.Errorf("%04o %s (dir %v): %04o %v, chmod gives %04o", tc.start, tc.mode, dir, got, ok, want)
			}
		}
	}
	for _, bad := range []string{"", "u+q", "9", "u", "z+x", "07777777"} {
		if _, ok := chmodMode(bad, 0o644, false); ok {
			t.Errorf("%q accepted", bad)
		}
	}
}

// libgstreamer1.0-0's postinst (Debian 13) sets capabilities when setcap
// is installed and falls back to setuid when it is not; iproute2's asks
// debconf first, whose default is no.
func TestSetcapOrSetuid(t *testing.T) {
	const helper = "/usr/lib/x86_64-linux-gnu/gstreamer1.0/gstreamer-1.0/gst-ptp-helper"
	gst := fmt.Sprintf(`#!/bin/sh
set -e
if [ "$1" = configure -a -f %[1]s ]; then
    if command -v setcap > /dev/null; then
        if setcap cap_sys_nice,cap_net_bind_service,cap_net_admin+ep %[1]s; then
            echo "Setcap worked! gst-ptp-helper is not suid!"
        else
            chmod u+s %[1]s
        fi
    else
        chmod u+s %[1]s
    fi
fi
`, helper)
	const iproute = `#!/bin/sh
if command -v setcap > /dev/null; then
    db_get iproute2/setcaps
    if test "$RET" = "true"; then
        if ! setcap "cap_dac_override,cap_bpf,cap_net_admin=ep" /bin/ip; then
           echo failed >&2
        fi
    else
        if getcap /bin/ip | grep -qs "/bin/ip"; then
            setcap "-r" /bin/ip
        fi
    fi
fi
`
	for _, withSetcap := range []bool{true, false} {
		r := sysroot.New(fstree.New(), nil, []*sysroot.Package{
			{Name: "libgstreamer1.0-0", Scripts: map[string][]byte{"postinst": []byte(gst)}},
			{Name: "iproute2", Scripts: map[string][]byte{"postinst": []byte(iproute)}},
		})
		files := []string{helper[1:], "usr/bin/ip", "etc/passwd", "etc/group"}
		if withSetcap {
			files = append(files, "usr/sbin/setcap")
		}
		for _, f := range files {
			content := ""
			switch f {
			case "etc/passwd":
				content = "root:x:0:0:root:/root:/bin/sh\n"
			case "etc/group":
				content = "root:x:0:\n"
			}
			if err := r.WriteFile(f, []byte(content), 0o755, 0, 0); err != nil {
				t.Fatal(err)
			}
		}
		if err := r.Symlink("bin", "usr/bin"); err != nil {
			t.Fatal(err)
		}
		if err := statOverrides(r); err != nil {
			t.Fatal(err)
		}
		if err := setFileCaps(r); err != nil {
			t.Fatal(err)
		}
		_, e, _ := r.Lookup(helper)
		_, ip, _ := r.Lookup("bin/ip")
		wantCaps, _ := fileCaps("cap_sys_nice,cap_net_bind_service,cap_net_admin+ep")
		switch {
		case withSetcap && (e.Mode != 0o755 || len(e.Xattrs) != 1 || !bytes.Equal(e.Xattrs[0].Value, wantCaps)):
			t.Errorf("with setcap: mode %04o, xattrs %v", e.Mode, e.Xattrs)
		case !withSetcap && (e.Mode != 0o4755 || len(e.Xattrs) != 0):
			t.Errorf("without setcap: mode %04o, xattrs %v", e.Mode, e.Xattrs)
		case len(ip.Xattrs) != 0:
			t.Errorf("iproute2's debconf-guarded setcap applied: %v", ip.Xattrs)
		}
		if len(r.Report.Warnings) != 0 {
			t.Errorf("warnings: %v", r.Report.Warnings)
		}
	}
}

// Capability texts and modes come from maintainer scripts: any text gives
// a value or an error, never a panic, and a value is well formed.
func FuzzFileCaps(f *testing.F) {
	for _, s := range []string{"cap_net_raw+p", "=ep cap_sys_admin-ep", "cap_chown,cap_bpf=eip", "all+i-e", "+"} {
		f.Add(s)
	}
	f.Fuzz(func(t *testing.T, text string) {
		b, err := fileCaps(text)
		if err == nil && (len(b) != 20 || b[3] != 2) {
			t.Fatalf("%q: %x", text, b)
		}
	})
}

func FuzzChmodMode(f *testing.F) {
	for _, s := range []string{"u+s", "go-w,a+X", "2775", "=", "u=rwx,g=rx,o=", "+t"} {
		f.Add(s, uint32(0o644), false)
	}
	f.Fuzz(func(t *testing.T, mode string, cur uint32, dir bool) {
		cur &= 0o7777
		if m, ok := chmodMode(mode, cur, dir); ok && m > 0o7777 {
			t.Fatalf("%q on %04o gives %o", mode, cur, m)
		}
	})
}
