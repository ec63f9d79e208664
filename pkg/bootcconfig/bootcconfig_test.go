package bootcconfig

import (
	"reflect"
	"strings"
	"testing"
)

func TestLoadFull(t *testing.T) {
	c, err := Load("testdata/full.toml")
	if err != nil {
		t.Fatal(err)
	}
	want := []User{
		{Name: "alice", Password: "bob", Key: "ssh-ed25519 AAAAC3NzaC1lZDI1NTE5AAAAIKey alice@example.com", Groups: []string{"wheel", "sudo"}},
		{Name: "carol", Password: "$6$xyz$hash"},
	}
	if !reflect.DeepEqual(c.Users, want) {
		t.Errorf("users = %+v", c.Users)
	}
	if !reflect.DeepEqual(c.KernelAppend, []string{"mitigations=auto,nosmt", "quiet"}) {
		t.Errorf("kernel append = %q", c.KernelAppend)
	}
	if c.RootMinSize != 10<<30 {
		t.Errorf("root minsize = %d", c.RootMinSize)
	}
	ign := strings.Join(c.Ignored, ";")
	if !strings.Contains(ign, "installer") || !strings.Contains(ign, "/var/data") {
		t.Errorf("ignored = %q", c.Ignored)
	}
}

func TestSizes(t *testing.T) {
	for _, tt := range []struct {
		in   string
		want int64
	}{
		{`minsize = 1000`, 1000},
		{`minsize = "20 GB"`, 20e9},
		{`minsize = "512MiB"`, 512 << 20},
		{`minsize = "1.5 GiB"`, 3 << 29},
		{`minsize = "4096"`, 4096},
	} {
		c, err := Parse(strings.NewReader("[[customizations.filesystem]]\nmountpoint = \"/\"\n" + tt.in + "\n"))
		if err != nil || c.RootMinSize != tt.want {
			t.Errorf("%s: %d, %v; want %d", tt.in, c.RootMinSize, err, tt.want)
		}
	}
}

func TestBadInput(t *testing.T) {
	for _, tt := range []struct{ in, want string }{
		{"[[customizations.user]\nname=", "not valid TOML"},
		{"[[customizations.user]]\npassword = \"x\"\n", "has no name"},
		{"[[customizations.user]]\nname = \"a\"\npassword = \"a:b\"\n", "password holds"},
		{"[[customizations.filesystem]]\nmountpoint = \"/\"\nminsize = \"ten gigs\"\n", "is not a size"},
		{"[[customizations.filesystem]]\nmountpoint = \"/\"\nminsize = -5\n", "negative"},
		{"[[customizations.filesystem]]\nmountpoint = \"/\"\n", "missing"},
		{"[[customizations.filesystem]]\nmountpoint = \"/\"\nminsize = \"1e30 TiB\"\n", "too large"},
		{strings.Repeat("#", maxInput+1), "larger than"},
	} {
		_, err := Parse(strings.NewReader(tt.in))
		if err == nil || !strings.Contains(err.Error(), tt.want) || strings.Contains(err.Error(), "\n") {
			t.Errorf("%.40q: err = %v, want one line with %q", tt.in, err, tt.want)
		}
	}
	if _, err := Load("testdata/missing.toml"); err == nil || !strings.Contains(err.Error(), "missing.toml") {
		t.Errorf("missing file: %v", err)
	}
}

func FuzzParse(f *testing.F) {
	f.Add("[[customizations.user]]\nname = \"a\"\npassword = \"b\"\n")
	f.Add("[[customizations.filesystem]]\nmountpoint = \"/\"\nminsize = \"10 GiB\"\n")
	f.Add("[customizations.kernel]\nappend = \"x\"\n")
	f.Fuzz(func(t *testing.T, s string) {
		c, err := Parse(strings.NewReader(s))
		if err == nil && c.RootMinSize < 0 {
			t.Errorf("negative size from %q", s)
		}
		if err != nil && strings.Contains(err.Error(), "\n") {
			t.Errorf("multi-line error %q", err)
		}
	})
}
