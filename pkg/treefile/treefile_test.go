package treefile

import (
	"errors"
	"path/filepath"
	"reflect"
	"strings"
	"testing"
)

func TestLoadMerge(t *testing.T) {
	tf, err := Load("testdata/ok/child.yaml")
	if err != nil {
		t.Fatal(err)
	}
	if err := tf.Expand(Vars{"arch": "amd64", "variant": tf.Variant}); err != nil {
		t.Fatal(err)
	}
	if tf.Ref != "child/amd64/child" {
		t.Errorf("Ref = %q", tf.Ref)
	}
	if want := []string{"bash", "coreutils", "nano=7.2-1"}; !reflect.DeepEqual(tf.Packages, want) {
		t.Errorf("Packages = %q, want %q", tf.Packages, want)
	}
	if want := []string{"coreutils", "nano=7.2-1"}; !reflect.DeepEqual(tf.Request(), want) {
		t.Errorf("Request = %q, want %q", tf.Request(), want)
	}
	if tf.OSRelease["NAME"] != "Child" || tf.OSRelease["ID"] != "debian" {
		t.Errorf("OSRelease = %v", tf.OSRelease)
	}
	if tf.Recommends == nil || *tf.Recommends {
		t.Errorf("Recommends should be overridden to false")
	}
	if tf.Baseline != "minbase" || !reflect.DeepEqual(tf.KernelArgs, []string{"quiet"}) {
		t.Errorf("inherited scalars/lists lost: %q %q", tf.Baseline, tf.KernelArgs)
	}
	if len(tf.AddFiles) != 1 || tf.AddFiles[0].Dir != filepath.Join("testdata", "ok") {
		t.Errorf("AddFiles = %+v", tf.AddFiles)
	}
}

func TestBadTreefiles(t *testing.T) {
	tests := []struct {
		file string
		want string
	}{
		{"testdata/typo/top.yaml", `testdata/typo/top.yaml:3: unknown key "pakages"`},
		{"testdata/typo/nested.yaml", `testdata/typo/nested.yaml:3: unknown key "enabel"`},
		{"testdata/typo/baseline.yaml", `baseline "tiny" is not one of`},
		{"testdata/cycle/a.yaml", "include cycle: testdata/cycle/a.yaml → testdata/cycle/b.yaml → testdata/cycle/c.yaml → testdata/cycle/a.yaml"},
		{"testdata/missing.yaml", "no such file"},
	}
	for _, tt := range tests {
		t.Run(tt.file, func(t *testing.T) {
			_, err := Load(tt.file)
			if err == nil || !strings.Contains(err.Error(), tt.want) {
				t.Fatalf("Load(%s) error = %v, want it to contain %q", tt.file, err, tt.want)
			}
			if strings.Contains(err.Error(), "\n") {
				t.Errorf("error is not one line: %q", err)
			}
		})
	}
}

func TestVariants(t *testing.T) {
	want := []string{"base", "server", "testing", "workstation"}
	if got := Variants(); !reflect.DeepEqual(got, want) {
		t.Fatalf("Variants = %q, want %q", got, want)
	}
	for _, v := range want {
		tf, err := LoadVariant(v)
		if err != nil {
			t.Fatalf("%s: %v", v, err)
		}
		if err := tf.Expand(Vars{"arch": "amd64", "variant": tf.Variant, "releasever": "14"}); err != nil {
			t.Fatalf("%s: %v", v, err)
		}
		if tf.Variant != v || tf.Ref != "debian/14/amd64/"+v || tf.AutomaticVersionPrefix != "14" {
			t.Errorf("%s: variant %q ref %q version prefix %q", v, tf.Variant, tf.Ref, tf.AutomaticVersionPrefix)
		}
		req := strings.Join(tf.Request(), " ")
		for _, p := range []string{"systemd", "udev", "linux-image-amd64", "ostree-boot"} {
			if !strings.Contains(" "+req+" ", " "+p+" ") {
				t.Errorf("%s lacks %s", v, p)
			}
		}
	}
	if _, err := LoadVariant("common"); err == nil {
		t.Error("common is not a buildable variant")
	}
	if _, err := LoadVariant("desktop"); err == nil || !strings.Contains(err.Error(), `unknown variant "desktop"`) {
		t.Errorf("unknown variant error = %v", err)
	}
	// server drops timesyncd that base asked for.
	tf, _ := LoadVariant("server")
	for _, p := range tf.Request() {
		if p == "systemd-timesyncd" {
			t.Error("server's exclude-packages did not remove systemd-timesyncd")
		}
	}
}

func TestIncludeEmbeddedFromDisk(t *testing.T) {
	tf, err := Load("testdata/embedded/cloud.yaml")
	if err != nil {
		t.Fatal(err)
	}
	tf.Expand(Vars{"arch": "amd64", "variant": "base"})
	req := " " + strings.Join(tf.Request(), " ") + " "
	if strings.Contains(req, " linux-image-amd64 ") || !strings.Contains(req, " linux-image-cloud-amd64 ") {
		t.Errorf("request = %s", req)
	}
}

func TestExpand(t *testing.T) {
	if _, err := Expand("a/${arhc}", Vars{"arch": "amd64"}); err == nil || !strings.Contains(err.Error(), "${arhc}") {
		t.Errorf("unknown variable error = %v", err)
	}
	if s, _ := Expand("${a}-${b}-$c", Vars{"a": "1", "b": "2"}); s != "1-2-$c" {
		t.Errorf("got %q", s)
	}
}

func FuzzParse(f *testing.F) {
	for _, s := range []string{"ref: x\npackages: [a, b]\n", "include: x", "users:\n - name: a\n   uid: 5\n", "os-release: {A: b}", "[", ":"} {
		f.Add([]byte(s))
	}
	f.Fuzz(func(t *testing.T, data []byte) {
		tf, err := Parse("fuzz.yaml", data)
		if err != nil {
			if strings.Contains(err.Error(), "\n") {
				t.Errorf("multi-line error: %q", err)
			}
			return
		}
		if _, err := tf.Marshal(); err != nil {
			t.Errorf("parsed treefile does not marshal: %v", err)
		}
	})
}

func TestReleaseVer(t *testing.T) {
	tests := []struct {
		suite, codename, version string
		want                     string
	}{
		// The suite's name is enough when it is a codename, whatever the
		// Release says (an offline build has no Release).
		{"buster", "", "", "10"},
		{"bullseye", "", "", "11"},
		{"bookworm", "", "", "12"},
		{"trixie", "", "", "13"},
		{"trixie", "trixie", "13.2", "13"},
		{"forky", "", "", "14"},
		{"duke", "", "", "15"},
		{"sid", "", "", "sid"},
		{"trixie-updates", "", "", "13"},
		{"trixie-security", "", "", "13"},
		{"bookworm-backports", "", "", "12"},
		{"bookworm-backports-sloppy", "", "", "12"},
		{"trixie-proposed-updates", "", "", "13"},
		// Aliases ask the Release: its Codename first, then its Version.
		{"stable", "trixie", "13.2", "13"},
		{"oldstable", "bookworm", "12.12", "12"},
		{"testing", "forky", "", "14"},
		{"unstable", "sid", "", "sid"},
		{"stable-updates", "trixie-updates", "", "13"},
		{"stable", "", "13.2", "13"},
		{"stable", "newcodename", "16.1", "16"},
		{"stable", "newcodename", "17", "17"},
		// Nothing numeric: the codename itself, else the suite's name.
		{"testing", "newcodename", "", "newcodename"},
		{"newcodename", "", "", "newcodename"},
		{"stable", "newcodename", "beta", "newcodename"},
	}
	for _, tt := range tests {
		if got := ReleaseVer(tt.suite, tt.codename, tt.version); got != tt.want {
			t.Errorf("ReleaseVer(%q, %q, %q) = %q, want %q", tt.suite, tt.codename, tt.version, got, tt.want)
		}
	}
	for _, s := range []string{"stable", "testing", "unstable", "experimental", "newcodename", "", "trixie-foo"} {
		if v, ok := ReleaseVerOfSuite(s); ok {
			t.Errorf("ReleaseVerOfSuite(%q) = %q, true; want false (only the Release can tell)", s, v)
		}
	}
}

func TestExpandUnknownVar(t *testing.T) {
	_, err := Expand("debian/${releasever}/${arch}", Vars{"arch": "amd64", "variant": "base"})
	var uv *UnknownVarError
	if !errors.As(err, &uv) || uv.Name != "releasever" || uv.In != "debian/${releasever}/${arch}" {
		t.Fatalf("err = %v, want an UnknownVarError for releasever", err)
	}
	if want := `unknown variable ${releasever} in "debian/${releasever}/${arch}" (known: arch, variant)`; err.Error() != want {
		t.Errorf("err = %q, want %q", err, want)
	}
	got, err := Expand("debian/${releasever}/${arch}", Vars{"arch": "amd64", "releasever": "sid"})
	if err != nil || got != "debian/sid/amd64" {
		t.Errorf("Expand = %q, %v", got, err)
	}
}

func TestClone(t *testing.T) {
	tf, err := LoadVariant("server")
	if err != nil {
		t.Fatal(err)
	}
	ref, pkgs, osr := tf.Ref, len(tf.Packages), tf.OSRelease["VARIANT_ID"]
	c := tf.Clone()
	if err := c.Expand(Vars{"arch": "arm64", "variant": "x", "releasever": "14"}); err != nil {
		t.Fatal(err)
	}
	c.Packages = append(c.Packages, "extra")
	c.ExcludePackages[0] = "changed"
	*c.Recommends = true
	if tf.Ref != ref || len(tf.Packages) != pkgs || tf.OSRelease["VARIANT_ID"] != osr ||
		tf.ExcludePackages[0] == "changed" || *tf.Recommends {
		t.Errorf("changing the clone changed the original: %+v", tf)
	}
	if c.Ref != "debian/14/arm64/x" || c.OSRelease["VARIANT_ID"] != "x" {
		t.Errorf("clone: ref %q, os-release %v", c.Ref, c.OSRelease)
	}
}
