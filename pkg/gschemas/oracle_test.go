package gschemas

import (
	"bytes"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"sort"
	"strings"
	"testing"

	"github.com/debatom/debatom/pkg/gvariant"
	"github.com/debatom/debatom/pkg/gvdb"
)

// dump renders a compiled cache through the gvdb reader: every key of
// every table with its decoded value, sorted, for readable diffs.
func dump(t *testing.T, data []byte) string {
	t.Helper()
	f, err := gvdb.Open(data)
	if err != nil {
		t.Fatal(err)
	}
	root, err := f.Root()
	if err != nil {
		t.Fatal(err)
	}
	var lines []string
	for i := 0; i < root.Len(); i++ {
		id, _ := root.Key(i)
		if root.Kind(i) != 'H' {
			continue
		}
		st, err := root.Table(i)
		if err != nil {
			t.Fatal(err)
		}
		for j := 0; j < st.Len(); j++ {
			k, _ := st.Key(j)
			if st.Kind(j) != 'v' {
				continue
			}
			b, _ := st.Value(j)
			v, err := gvariant.Unmarshal("v", b)
			lines = append(lines, fmt.Sprintf("%s %s = %#v %v", id, k, v, err))
		}
	}
	sort.Strings(lines)
	return strings.Join(lines, "\n")
}

// glibCompile runs the real glib-compile-schemas on dir.
func glibCompile(t *testing.T, dir string) []byte {
	t.Helper()
	if _, err := exec.LookPath("glib-compile-schemas"); err != nil {
		t.Skip("glib-compile-schemas not installed")
	}
	out := t.TempDir()
	cmd := exec.Command("glib-compile-schemas", "--targetdir="+out, dir)
	if b, err := cmd.CombinedOutput(); err != nil {
		t.Fatalf("glib-compile-schemas: %v\n%s", err, b)
	}
	b, err := os.ReadFile(filepath.Join(out, "gschemas.compiled"))
	if err != nil {
		t.Fatal(err)
	}
	return b
}

func compareWithGLib(t *testing.T, dir string) {
	want := glibCompile(t, dir)
	res, err := CompileDir(dir, Options{})
	if err != nil {
		t.Fatal(err)
	}
	for _, w := range res.Warnings {
		t.Log(w)
	}
	if !bytes.Equal(res.Compiled, want) {
		gd, wd := dump(t, res.Compiled), dump(t, want)
		if gd != wd {
			os.WriteFile("/tmp/E/got.txt", []byte(gd), 0o644)
			os.WriteFile("/tmp/E/want.txt", []byte(wd), 0o644)
			t.Errorf("content differs from glib-compile-schemas")
		}
		t.Errorf("bytes differ from glib-compile-schemas: %d vs %d bytes", len(res.Compiled), len(want))
		os.WriteFile("/tmp/E/got.bin", res.Compiled, 0o644)
		os.WriteFile("/tmp/E/want.bin", want, 0o644)
	}
}

func TestOracleHostSchemas(t *testing.T) {
	src := "/usr/share/glib-2.0/schemas"
	ents, err := os.ReadDir(src)
	if err != nil {
		t.Skip(err)
	}
	dir := t.TempDir()
	for _, e := range ents {
		if IsSchemaFile(e.Name()) || IsOverrideFile(e.Name()) {
			b, err := os.ReadFile(filepath.Join(src, e.Name()))
			if err != nil {
				t.Fatal(err)
			}
			os.WriteFile(filepath.Join(dir, e.Name()), b, 0o644)
		}
	}
	compareWithGLib(t, dir)
}

func TestOracleFeatures(t *testing.T) {
	dir := t.TempDir()
	ents, err := os.ReadDir("testdata/features")
	if err != nil {
		t.Fatal(err)
	}
	for _, e := range ents {
		b, err := os.ReadFile(filepath.Join("testdata/features", e.Name()))
		if err != nil {
			t.Fatal(err)
		}
		os.WriteFile(filepath.Join(dir, e.Name()), b, 0o644)
	}
	compareWithGLib(t, dir)
}
