package pamconfig

import (
	"crypto/sha256"
	"encoding/hex"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/debatom/debatom/pkg/configure/sysroot"
	"github.com/debatom/debatom/pkg/fstree"
)

// root builds a tree holding the named profiles from testdata and the
// libpam-runtime templates.
func root(t *testing.T, profiles ...string) *sysroot.Root {
	t.Helper()
	tr := fstree.New()
	r := sysroot.New(tr, nil, nil)
	for _, p := range profiles {
		b, err := os.ReadFile(filepath.Join("testdata/pam-configs", p))
		if err != nil {
			t.Fatal(err)
		}
		if err := r.WriteFile("usr/share/pam-configs/"+p, b, 0o644, 0, 0); err != nil {
			t.Fatal(err)
		}
	}
	for _, typ := range Types {
		b, err := os.ReadFile("testdata/pam/common-" + typ)
		if err != nil {
			t.Fatal(err)
		}
		if err := r.WriteFile("usr/share/pam/common-"+typ, b, 0o644, 0, 0); err != nil {
			t.Fatal(err)
		}
	}
	return r
}

// The reference installation (shared/reference) had libpam-runtime and
// libpam-modules but not libpam-systemd: profiles unix and mkhomedir.
// Its files' sizes and SHA-256 prefixes are what pam-auth-update wrote.
func TestMatchesPamAuthUpdate(t *testing.T) {
	r := root(t, "unix", "mkhomedir")
	if err := Configure(r); err != nil {
		t.Fatal(err)
	}
	for _, tc := range []struct {
		path string
		size int
		sha  string
	}{
		{"etc/pam.d/common-account", 1208, "aa8a63d72e79399b"},
		{"etc/pam.d/common-auth", 1214, "b787b01c7e71c658"},
		{"etc/pam.d/common-password", 1620, "a76bcfdcb1243629"},
		{"etc/pam.d/common-session", 1180, "f1ee6802a30cba8a"},
		{"etc/pam.d/common-session-noninteractive", 1221, "5c624c6f8a8c9b1c"},
		{"var/lib/pam/account", 76, "9f0f66ec5d201dd4"},
		{"var/lib/pam/auth", 61, "1119b101213fb5d7"},
		{"var/lib/pam/password", 71, "fcbe71121b496f99"},
		{"var/lib/pam/seen", 15, "d776b58fe80be879"},
		{"var/lib/pam/session", 75, "4a0e1452e4462ee2"},
		{"var/lib/pam/session-noninteractive", 75, "4a0e1452e4462ee2"},
	} {
		b, err := r.ReadFile(tc.path)
		if err != nil {
			t.Fatal(err)
		}
		sum := sha256.Sum256(b)
		if got := hex.EncodeToString(sum[:])[:16]; len(b) != tc.size || got != tc.sha {
			t.Errorf("%s: %d bytes sha256 %s, want %d bytes %s\n%s", tc.path, len(b), got, tc.size, tc.sha, b)
		}
		if e := r.Tree.Get(tc.path); e.Mode != 0o644 || e.UID != 0 || e.GID != 0 {
			t.Errorf("%s: mode %o owner %d:%d", tc.path, e.Mode, e.UID, e.GID)
		}
	}
}

func TestSystemdProfileAddsSession(t *testing.T) {
	r := root(t, "unix", "mkhomedir", "systemd")
	if err := Configure(r); err != nil {
		t.Fatal(err)
	}
	b, _ := r.ReadFile("etc/pam.d/common-session")
	if !strings.Contains(string(b), "session\toptional\tpam_systemd.so \n") {
		t.Errorf("common-session lacks pam_systemd:\n%s", b)
	}
	// Session-Interactive-Only keeps it out of the non-interactive file.
	b, _ = r.ReadFile("etc/pam.d/common-session-noninteractive")
	if strings.Contains(string(b), "pam_systemd") {
		t.Errorf("common-session-noninteractive has pam_systemd:\n%s", b)
	}
}

func TestNoProfilesPermit(t *testing.T) {
	r := root(t, "mkhomedir") // Default: no
	if err := Configure(r); err != nil {
		t.Fatal(err)
	}
	b, _ := r.ReadFile("etc/pam.d/common-auth")
	if !strings.Contains(string(b), "auth\t[default=1]\t\t\tpam_permit.so\n") {
		t.Errorf("no primary module: want the pam_permit placeholder:\n%s", b)
	}
}

func TestBadTemplate(t *testing.T) {
	_, err := Render([]byte("auth required pam_unix.so\n"), "auth", nil)
	if err == nil || strings.Contains(err.Error(), "\n") {
		t.Fatalf("want a one-line error, got %v", err)
	}
}

func FuzzParseProfile(f *testing.F) {
	for _, p := range []string{"unix", "systemd", "mkhomedir"} {
		b, _ := os.ReadFile(filepath.Join("testdata/pam-configs", p))
		f.Add(b)
	}
	f.Add([]byte("\tno field\n"))
	f.Fuzz(func(t *testing.T, b []byte) {
		p, _, err := ParseProfile("fuzz", b)
		if err != nil {
			return
		}
		for _, typ := range Types {
			tpl, _ := os.ReadFile("testdata/pam/common-" + typ)
			if _, err := Render(tpl, typ, []*Profile{p}); err != nil {
				t.Fatal(err)
			}
		}
	})
}
