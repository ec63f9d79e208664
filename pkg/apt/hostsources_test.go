package apt

import (
	"os"
	"path/filepath"
	"reflect"
	"testing"
)

func TestReadHostMirror(t *testing.T) {
	const kr = "/usr/share/keyrings/debian-archive-keyring.gpg"
	mirror, security, err := ReadHostMirror("testdata/host")
	if err != nil {
		t.Fatal(err)
	}
	want := Source{URL: "http://deb.debian.org/debian", Suite: "bookworm", Components: []string{"main", "contrib"}, Architectures: []string{"amd64", "arm64"}, Keyring: kr}
	if mirror == nil || !reflect.DeepEqual(*mirror, want) || security != nil {
		t.Fatalf("testdata/host: mirror %+v, security %+v; want %+v and none", mirror, security, want)
	}

	tests := []struct {
		name, list     string
		mirror         string   // "" for none
		securitySuites []string // of the security sources, in order
	}{
		{"none", "", "", nil},
		{"third party only", "deb http://example.org/repo stable main\n", "", nil},
		{"security before the mirror",
			"deb http://security.debian.org/debian-security trixie-security main\ndeb http://ftp.de.debian.org/debian/ trixie main\n",
			"http://ftp.de.debian.org/debian", []string{"trixie-security"}},
		{"security after the mirror is not taken",
			"deb http://deb.debian.org/debian trixie main\ndeb http://security.debian.org/debian-security trixie-security main\n",
			"http://deb.debian.org/debian", nil},
		{"security only", "deb http://security.debian.org/debian-security a main\ndeb http://security.debian.org/debian-security b main\n",
			"", []string{"a", "b"}},
		{"a security host's /debian is not the mirror",
			"deb http://security.debian.org/debian trixie main\ndeb http://deb.debian.org/debian trixie main\n",
			"http://deb.debian.org/debian", nil},
		{"first mirror wins", "deb http://a.example/debian trixie main\ndeb http://b.example/debian trixie main\n",
			"http://a.example/debian", nil},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			root := t.TempDir()
			if tt.list != "" {
				p := filepath.Join(root, "etc/apt/sources.list")
				if err := os.MkdirAll(filepath.Dir(p), 0o755); err != nil {
					t.Fatal(err)
				}
				if err := os.WriteFile(p, []byte(tt.list), 0o644); err != nil {
					t.Fatal(err)
				}
			}
			mirror, security, err := ReadHostMirror(root)
			if err != nil {
				t.Fatal(err)
			}
			got := ""
			if mirror != nil {
				got = mirror.URL
			}
			var suites []string
			for _, s := range security {
				suites = append(suites, s.Suite)
			}
			if got != tt.mirror || !reflect.DeepEqual(suites, tt.securitySuites) {
				t.Errorf("mirror %q, security suites %q; want %q, %q", got, suites, tt.mirror, tt.securitySuites)
			}
		})
	}

	bad := t.TempDir()
	os.MkdirAll(filepath.Join(bad, "etc/apt"), 0o755)
	os.WriteFile(filepath.Join(bad, "etc/apt/sources.list"), []byte("rpm http://x y\n"), 0o644)
	if _, _, err := ReadHostMirror(bad); err == nil {
		t.Error("a malformed sources.list gave no error")
	}
}
