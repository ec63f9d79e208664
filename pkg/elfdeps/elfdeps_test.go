package elfdeps

import (
	"bytes"
	"os"
	"os/exec"
	"regexp"
	"slices"
	"strings"
	"testing"

	"github.com/debatom/debatom/internal/testenv"
)

// TestMatchesReadelf compares Parse with binutils' readelf on programs of
// the host, one with a RUNPATH if the host has systemd.
func TestMatchesReadelf(t *testing.T) {
	readelf := testenv.Tool(t, "readelf")
	for _, p := range []string{"/usr/bin/ls", "/usr/bin/kmod", "/usr/lib/systemd/systemd", "/usr/lib/x86_64-linux-gnu/libc.so.6"} {
		b, err := os.ReadFile(p)
		if os.IsNotExist(err) {
			continue
		}
		if err != nil {
			t.Fatal(err)
		}
		info, err := Parse(bytes.NewReader(b))
		if err != nil {
			t.Fatalf("%s: %v", p, err)
		}
		out, err := exec.Command(readelf, "-d", "-l", "-W", p).Output()
		if err != nil {
			t.Fatalf("readelf %s: %v", p, err)
		}
		var needed, runpath []string
		for _, m := range regexp.MustCompile(`\(NEEDED\)\s+Shared library: \[([^\]]+)\]`).FindAllSubmatch(out, -1) {
			needed = append(needed, string(m[1]))
		}
		for _, m := range regexp.MustCompile(`\(RUNPATH\)\s+Library runpath: \[([^\]]+)\]`).FindAllSubmatch(out, -1) {
			runpath = append(runpath, strings.Split(string(m[1]), ":")...)
		}
		interp := ""
		if m := regexp.MustCompile(`Requesting program interpreter: ([^\]]+)\]`).FindSubmatch(out); m != nil {
			interp = string(m[1])
		}
		if !slices.Equal(info.Needed, needed) || !slices.Equal(info.RunPath, runpath) || info.Interp != interp {
			t.Errorf("%s: got %+v; readelf: needed %v runpath %v interp %q", p, info, needed, runpath, interp)
		}
		if len(needed) == 0 {
			t.Errorf("%s: readelf found no NEEDED entries; the test proves nothing", p)
		}
	}
}

func TestSearch(t *testing.T) {
	for _, tc := range []struct {
		info Info
		want []string
	}{
		{Info{RPath: []string{"$ORIGIN/../lib"}}, []string{"/usr/lib", "/lib"}},
		{Info{RPath: []string{"/ignored"}, RunPath: []string{"${ORIGIN}/x", "relative"}}, []string{"/usr/bin/x", "/lib"}},
	} {
		if got := tc.info.Search("/usr/bin/prog", []string{"/lib"}); !slices.Equal(got, tc.want) {
			t.Errorf("%+v: got %v, want %v", tc.info, got, tc.want)
		}
	}
}

func TestBadInput(t *testing.T) {
	for _, b := range [][]byte{nil, []byte("#!/bin/sh\n"), []byte("\x7fELF\x02\x01\x01\x00garbage")} {
		if _, err := Parse(bytes.NewReader(b)); err == nil || strings.Contains(err.Error(), "\n") {
			t.Errorf("%q: got %v, want a one-line error", b, err)
		}
	}
	if IsELF([]byte("#!")) || !IsELF([]byte("\x7fELF\x02")) {
		t.Error("IsELF")
	}
}

func FuzzParse(f *testing.F) {
	if b, err := os.ReadFile("/usr/bin/true"); err == nil {
		f.Add(b)
	}
	f.Add([]byte("\x7fELF\x02\x01\x01"))
	f.Fuzz(func(t *testing.T, b []byte) {
		info, err := Parse(bytes.NewReader(b))
		if err == nil {
			info.Search("/usr/bin/x", []string{"/lib"})
		}
	})
}

func BenchmarkParse(b *testing.B) {
	data, err := os.ReadFile("/usr/bin/ls")
	if err != nil {
		b.Skip(err)
	}
	for b.Loop() {
		if _, err := Parse(bytes.NewReader(data)); err != nil {
			b.Fatal(err)
		}
	}
}
