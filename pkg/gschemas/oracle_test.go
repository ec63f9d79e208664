package gschemas

import (
	"bytes"
	"fmt"
	"math/rand/v2"
	"os"
	"os/exec"
	"path/filepath"
	"sort"
	"strings"
	"testing"

	"github.com/debatom/debatom/internal/testenv"
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
	tool := testenv.Tool(t, "glib-compile-schemas")
	out := t.TempDir()
	cmd := exec.Command(tool, "--targetdir="+out, dir)
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
			t.Errorf("content differs from glib-compile-schemas:\n got %.2000s\nwant %.2000s", gd, wd)
		}
		t.Errorf("bytes differ from glib-compile-schemas: %d vs %d bytes", len(res.Compiled), len(want))
	}
}

func TestOracleHostSchemas(t *testing.T) {
	src := "/usr/share/glib-2.0/schemas"
	ents, err := os.ReadDir(src)
	if err != nil {
		if testenv.Strict() {
			t.Fatalf("%v (apt-get install gsettings-desktop-schemas)", err)
		}
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

// TestOracleRejectedFiles: a schema file with an error has its schemas
// removed from GLib's hash table again, and the tombstones that leaves
// change the order later schemas are laid out in. Pseudo-random
// directories, some files bad at the end, must still come out identical.
func TestOracleRejectedFiles(t *testing.T) {
	testenv.Tool(t, "glib-compile-schemas")
	rng := rand.New(rand.NewPCG(1, 2))
	n := 0
	for round := 0; round < 60; round++ {
		dir := t.TempDir()
		files := 2 + rng.IntN(5)
		for f := 0; f < files; f++ {
			var b strings.Builder
			b.WriteString("<schemalist>")
			for i := 1 + rng.IntN(12); i > 0; i-- {
				n++
				fmt.Fprintf(&b, `<schema id="org.r%d.x%d%d"><key name="k" type="i"><default>1</default></key></schema>`, round, n, rng.IntN(1000))
			}
			if rng.IntN(2) == 0 {
				b.WriteString(`<schema id="bad"><key name="K" type="i"><default>1</default></key></schema>`)
			}
			b.WriteString("</schemalist>")
			if err := os.WriteFile(filepath.Join(dir, fmt.Sprintf("f%d.gschema.xml", f)), []byte(b.String()), 0o644); err != nil {
				t.Fatal(err)
			}
		}
		want := glibCompile(t, dir)
		res, err := CompileDir(dir, Options{})
		if err != nil {
			t.Fatal(err)
		}
		if !bytes.Equal(res.Compiled, want) {
			t.Errorf("round %d: bytes differ from glib-compile-schemas", round)
		}
	}
}
