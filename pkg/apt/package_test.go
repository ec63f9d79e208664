package apt

import (
	"strconv"
	"strings"
	"testing"

	"github.com/debatom/debatom/pkg/deb822"
)

func TestPackageFromParagraph(t *testing.T) {
	tests := []struct {
		name, stanza string
		want         Package
		err          string
	}{
		{
			name: "full",
			stanza: "Package: libc6\nversion: 2.41-12\nArchitecture: amd64\nMulti-Arch: same\n" +
				"Priority: optional\nInstalled-Size: 12345\nSize: 2000\nSHA256: ab\nFilename: pool/x.deb\n" +
				"Depends: libgcc-s1\nEssential: yes\nDepends: second-ignored\n",
			want: Package{Name: "libc6", Version: "2.41-12", Architecture: "amd64", MultiArch: "same",
				Priority: "optional", InstalledSize: 12345, Size: 2000, SHA256: "ab",
				Filename: "pool/x.deb", Depends: "libgcc-s1", Essential: true},
		},
		{name: "no version", stanza: "Package: x\nArchitecture: all\n", err: "stanza at line 1 lacks Package, Version or Architecture"},
		{name: "bad size", stanza: "Package: x\nVersion: 1\nArchitecture: all\nSize: -4\n", err: `package x: bad Size "-4"`},
		{name: "bad installed size", stanza: "Package: x\nVersion: 1\nArchitecture: all\nInstalled-Size: 1k\n", err: `package x: bad Installed-Size "1k"`},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			ps, err := deb822.ParseString(tt.stanza, "test")
			if err != nil {
				t.Fatal(err)
			}
			p, err := PackageFromParagraph(ps[0])
			if tt.err != "" {
				if err == nil || err.Error() != tt.err {
					t.Fatalf("error %v, want %q", err, tt.err)
				}
				return
			}
			if err != nil {
				t.Fatal(err)
			}
			p.Paragraph = nil
			if *p != tt.want {
				t.Fatalf("got %+v\nwant %+v", *p, tt.want)
			}
			if p.ID() != strings.Join([]string{tt.want.Name, tt.want.Version, tt.want.Architecture}, " ") {
				t.Fatalf("ID %q", p.ID())
			}
		})
	}
}

func TestParseSizeMatchesParseInt(t *testing.T) {
	for _, s := range []string{"0", "7", "007", "1234567", "999999999999999999", "9223372036854775807",
		"9223372036854775808", "99999999999999999999", "", "+5", "-0", "-5", "1_000", " 5", "5 ", "0x10", "١"} {
		want, err := strconv.ParseInt(s, 10, 64)
		wantOK := err == nil && want >= 0
		got, ok := parseSize(s)
		if ok != wantOK || (ok && got != want) {
			t.Errorf("parseSize(%q) = %d, %v; ParseInt gives %d, %v", s, got, ok, want, err)
		}
	}
}
