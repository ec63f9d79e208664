package treefile

import (
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
		if err := tf.Expand(Vars{"arch": "amd64", "variant": tf.Variant}); err != nil {
			t.Fatalf("%s: %v", v, err)
		}
		if tf.Variant != v || tf.Ref != "debian/13/amd64/"+v {
			t.Errorf("%s: variant %q ref %q", v, tf.Variant, tf.Ref)
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
