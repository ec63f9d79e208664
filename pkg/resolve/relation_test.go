package resolve

import (
	"os"
	"path/filepath"
	"reflect"
	"strings"
	"testing"
)

func TestParseRelations(t *testing.T) {
	tests := []struct {
		in   string
		want []Group
	}{
		{"", nil},
		{"  \n ", nil},
		{"libc6", []Group{{{Name: "libc6"}}}},
		{"libc6 (>= 2.34), libgcc-s1 (>= 3.0)", []Group{
			{{Name: "libc6", Op: OpGE, Version: "2.34"}},
			{{Name: "libgcc-s1", Op: OpGE, Version: "3.0"}},
		}},
		{"default-mta | mail-transport-agent", []Group{{{Name: "default-mta"}, {Name: "mail-transport-agent"}}}},
		{"a1 (<< 1), a2 (<= 1), a3 (= 1), a4 (>= 1), a5 (>> 1), a6 (< 1), a7 (> 1)", []Group{
			{{Name: "a1", Op: OpLT, Version: "1"}}, {{Name: "a2", Op: OpLE, Version: "1"}},
			{{Name: "a3", Op: OpEQ, Version: "1"}}, {{Name: "a4", Op: OpGE, Version: "1"}},
			{{Name: "a5", Op: OpGT, Version: "1"}}, {{Name: "a6", Op: OpLE, Version: "1"}},
			{{Name: "a7", Op: OpGE, Version: "1"}},
		}},
		{"python3:any (>= 3.11~), perl:native, libc6:amd64", []Group{
			{{Name: "python3", Arch: "any", Op: OpGE, Version: "3.11~"}},
			{{Name: "perl", Arch: "native"}},
			{{Name: "libc6", Arch: "amd64"}},
		}},
		{"foo(>=1:2.0-1)", []Group{{{Name: "foo", Op: OpGE, Version: "1:2.0-1"}}}},
		{"foo ( >= 1 )", []Group{{{Name: "foo", Op: OpGE, Version: "1"}}}},
		{"libfoo-dev [amd64 i386] <!nocheck> <cross !stage1>", []Group{{{
			Name: "libfoo-dev", ArchRestrict: []string{"amd64", "i386"},
			Profiles: [][]string{{"!nocheck"}, {"cross", "!stage1"}},
		}}}},
		{"foo [!i386]", []Group{{{Name: "foo", ArchRestrict: []string{"!i386"}}}}},
		{"foo,\n bar |\n baz (= 1.0)", []Group{{{Name: "foo"}}, {{Name: "bar"}, {Name: "baz", Op: OpEQ, Version: "1.0"}}}},
		{"foo, bar,", []Group{{{Name: "foo"}}, {{Name: "bar"}}}},
		{"g++ (>= 4:14), libstdc++6", []Group{{{Name: "g++", Op: OpGE, Version: "4:14"}}, {{Name: "libstdc++6"}}}},
	}
	for _, tt := range tests {
		got, err := ParseRelations(tt.in)
		if err != nil {
			t.Errorf("ParseRelations(%q): %v", tt.in, err)
			continue
		}
		if !reflect.DeepEqual(got, tt.want) {
			t.Errorf("ParseRelations(%q) =\n %#v\nwant\n %#v", tt.in, got, tt.want)
		}
	}
}

func TestParseRelationsBad(t *testing.T) {
	b, err := os.ReadFile(filepath.Join("testdata", "relations-bad.txt"))
	if err != nil {
		t.Fatal(err)
	}
	for _, l := range strings.Split(string(b), "\n") {
		if l == "" || strings.HasPrefix(l, "#") {
			continue
		}
		_, err := ParseRelations(l)
		if err == nil {
			t.Errorf("ParseRelations(%q) accepted bad input", l)
			continue
		}
		if msg := err.Error(); strings.Contains(msg, "\n") || !strings.HasPrefix(msg, "relationship field ") {
			t.Errorf("ParseRelations(%q): error %q is not one line naming the field", l, msg)
		}
	}
}

func TestSatisfiesAndAppliesTo(t *testing.T) {
	tests := []struct {
		rel  string
		ver  string
		want bool
	}{
		{"pk (>= 1.0)", "1.0", true},
		{"pk (>= 1.0)", "1.0~rc1", false},
		{"pk (>> 1.0)", "1.0", false},
		{"pk (>> 1.0)", "1.0+b1", true},
		{"pk (<< 2)", "1:1", false},
		{"pk (<= 2)", "2-0", true},
		{"pk (= 2.0-1)", "2.0-1", true},
		{"pk (= 2.0-1)", "2.0-1+b1", false},
		{"pk", "anything", true},
	}
	for _, tt := range tests {
		g, err := ParseRelations(tt.rel)
		if err != nil {
			t.Fatal(err)
		}
		if got := g[0][0].Satisfies(tt.ver); got != tt.want {
			t.Errorf("%s satisfied by %s = %v, want %v", tt.rel, tt.ver, got, tt.want)
		}
	}
	applies := []struct {
		rel  string
		want bool
	}{
		{"pk", true},
		{"pk [amd64]", true},
		{"pk [i386 arm64]", false},
		{"pk [!amd64]", false},
		{"pk [!i386]", true},
		{"pk [linux-any]", true},
		{"pk [!linux-any]", false},
		{"pk [any-amd64]", true},
		{"pk [!any-i386]", true},
		{"pk <!nocheck>", true},
		{"pk <nocheck>", false},
		{"pk <nocheck> <!cross>", true},
		{"pk <!nocheck cross>", false},
	}
	for _, tt := range applies {
		g, err := ParseRelations(tt.rel)
		if err != nil {
			t.Fatal(err)
		}
		if got := g[0][0].AppliesTo("amd64"); got != tt.want {
			t.Errorf("%s applies to amd64 = %v, want %v", tt.rel, got, tt.want)
		}
	}
}

// TestParseRealIndex parses every relationship field of the 68,829 real
// stanzas and checks that formatting and re-parsing gives the same groups.
func TestParseRealIndex(t *testing.T) {
	n := 0
	for _, p := range realIndex(t) {
		for _, f := range []struct{ name, text string }{
			{"Pre-Depends", p.PreDepends}, {"Depends", p.Depends}, {"Recommends", p.Recommends},
			{"Suggests", p.Suggests}, {"Conflicts", p.Conflicts}, {"Breaks", p.Breaks},
			{"Replaces", p.Replaces}, {"Provides", p.Provides}, {"Enhances", p.Paragraph.Get("Enhances")},
		} {
			gs, err := ParseRelations(f.text)
			if err != nil {
				t.Errorf("%s %s: %v", p.Name, f.name, err)
				continue
			}
			n += len(gs)
			again, err := ParseRelations(formatGroups(gs))
			if err != nil || !reflect.DeepEqual(again, gs) {
				t.Errorf("%s %s: round trip of %q gave %v, %v", p.Name, f.name, f.text, again, err)
			}
		}
	}
	if n < 300000 {
		t.Errorf("only %d relationship groups in the real index; the loader lost fields", n)
	}
}

func formatGroups(gs []Group) string {
	s := make([]string, len(gs))
	for i, g := range gs {
		s[i] = g.String()
	}
	return strings.Join(s, ", ")
}

func FuzzParseRelations(f *testing.F) {
	for _, s := range []string{
		"libc6 (>= 2.34), libgcc-s1 (>= 3.0) | libgcc1",
		"python3:any (>= 3.11~), perl:native",
		"foo [amd64 !i386] <!nocheck> <cross>",
		"foo (<< 1:2.0-1~), bar,",
		"a (= 1) | b (>> 2) | c:amd64",
	} {
		f.Add(s)
	}
	f.Fuzz(func(t *testing.T, s string) {
		gs, err := ParseRelations(s)
		if err != nil {
			if strings.Contains(err.Error(), "\n") {
				t.Fatalf("multi-line error %q", err)
			}
			return
		}
		for _, g := range gs {
			if len(g) == 0 {
				t.Fatalf("empty group from %q", s)
			}
			for _, r := range g {
				if r.Name == "" || (r.Op == OpNone) != (r.Version == "") {
					t.Fatalf("bad relation %#v from %q", r, s)
				}
			}
		}
		again, err := ParseRelations(formatGroups(gs))
		if err != nil || !reflect.DeepEqual(again, gs) {
			t.Fatalf("round trip of %q: %q gave %v, %v", s, formatGroups(gs), again, err)
		}
	})
}

func BenchmarkParseRelations(b *testing.B) {
	const field = "libc6 (>= 2.38), libgcc-s1 (>= 3.0), libssl3t64 (>= 3.0.0), libsystemd0, libwrap0 (>= 7.6-4~), libpam-modules (>= 0.72-9), adduser, debconf (>= 0.5) | debconf-2.0, default-mta | mail-transport-agent"
	b.ReportAllocs()
	for b.Loop() {
		if _, err := ParseRelations(field); err != nil {
			b.Fatal(err)
		}
	}
}
