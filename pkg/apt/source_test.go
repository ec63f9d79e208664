package apt

import (
	"reflect"
	"testing"
)

func TestReadHostSources(t *testing.T) {
	got, err := ReadHostSources("testdata/host")
	if err != nil {
		t.Fatal(err)
	}
	const kr = "/usr/share/keyrings/debian-archive-keyring.gpg"
	want := []Source{
		{URL: "http://deb.debian.org/debian", Suite: "bookworm", Components: []string{"main", "contrib"}, Architectures: []string{"amd64", "arm64"}, Keyring: kr},
		{URL: "http://deb.debian.org/debian", Suite: "bookworm-updates", Components: []string{"main"}, Keyring: kr},
		{URL: "file:///srv/mirror", Suite: "trixie", Components: []string{"main"}},
	}
	if !reflect.DeepEqual(got, want) {
		t.Fatalf("got  %+v\nwant %+v", got, want)
	}
	none, err := ReadHostSources("testdata/host-empty")
	if err != nil || len(none) != 0 {
		t.Fatalf("empty root: %v %v", none, err)
	}
}

func TestParseSourcesBad(t *testing.T) {
	tests := []struct {
		name, text, want string
		deb822           bool
	}{
		{"unknown type", "rpm http://x y main\n", `x.list:1: unknown entry type "rpm" (want deb or deb-src)`, false},
		{"unclosed", "deb [arch=amd64 http://x y\n", "x.list:1: options not closed by ']'", false},
		{"no suite", "\ndeb http://x\n", "x.list:2: entry needs a URI and a suite", false},
		{"bad option", "deb [amd64] http://x y\n", `x.list:1: option "amd64" is not key=value`, false},
		{"no uris", "Types: deb\nSuites: trixie\n", "x.list:1: entry lacks URIs or Suites", true},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			parse := ParseSourcesList
			if tt.deb822 {
				parse = ParseSources
			}
			_, err := parse([]byte(tt.text), "x.list")
			if err == nil || err.Error() != tt.want {
				t.Fatalf("error %v, want %q", err, tt.want)
			}
		})
	}
}

func TestParseSourcesInlineKey(t *testing.T) {
	text := "Types: deb\nURIs: https://example.org/repo/\nSuites: stable\nComponents: main\nSigned-By:\n -----BEGIN PGP PUBLIC KEY BLOCK-----\n .\n abc\n -----END PGP PUBLIC KEY BLOCK-----\n"
	s, err := ParseSources([]byte(text), "x.sources")
	if err != nil {
		t.Fatal(err)
	}
	want := "\n-----BEGIN PGP PUBLIC KEY BLOCK-----\n\nabc\n-----END PGP PUBLIC KEY BLOCK-----"
	if len(s) != 1 || s[0].SignedBy != want || s[0].Keyring != "" || s[0].URL != "https://example.org/repo" {
		t.Fatalf("%+v", s)
	}
}

func FuzzParseSources(f *testing.F) {
	f.Add([]byte("Types: deb\nURIs: http://x\nSuites: a b\nComponents: main\n"), false)
	f.Add([]byte("deb [arch=amd64 signed-by=/k] http://x trixie main\n"), true)
	f.Fuzz(func(t *testing.T, data []byte, oneLine bool) {
		var out []Source
		var err error
		if oneLine {
			out, err = ParseSourcesList(data, "fuzz")
		} else {
			out, err = ParseSources(data, "fuzz")
		}
		if err != nil {
			return
		}
		for _, s := range out {
			if s.URL == "" && s.Suite == "" {
				t.Fatalf("source without URL and suite: %+v", s)
			}
		}
	})
}
