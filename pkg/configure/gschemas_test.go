package configure

import (
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"testing"

	"github.com/debatom/debatom/pkg/configure/sysroot"
	"github.com/debatom/debatom/pkg/fstree"
	"github.com/debatom/debatom/pkg/gvdb"
)

func TestCompileSchemas(t *testing.T) {
	r := sysroot.New(fstree.New(), nil, nil)
	files := map[string]string{
		"org.t.gschema.xml":      `<schemalist><schema id="org.t" path="/org/t/"><key name="k" type="i"><default>1</default></key></schema></schemalist>`,
		"broken.gschema.xml":     `<schemalist><schema id="org.broken">`,
		"10_t.gschema.override":  "[org.t]\nk=2\n",
		"README":                 "not a schema",
		"gschemas.compiled.prev": "x",
	}
	for n, d := range files {
		if err := r.WriteFile(schemaDir+"/"+n, []byte(d), 0o644, 0, 0); err != nil {
			t.Fatal(err)
		}
	}
	if err := compileSchemas(r); err != nil {
		t.Fatal(err)
	}
	_, e, err := r.Lookup(schemaDir + "/gschemas.compiled")
	if err != nil || e == nil {
		t.Fatalf("gschemas.compiled not written: %v", err)
	}
	if e.Mode&0o7777 != 0o644 || e.UID != 0 || e.GID != 0 {
		t.Errorf("gschemas.compiled mode %o uid %d gid %d", e.Mode, e.UID, e.GID)
	}
	f, err := gvdb.Open(e.Data)
	if err != nil {
		t.Fatal(err)
	}
	root, err := f.Root()
	if err != nil {
		t.Fatal(err)
	}
	if root.Lookup("org.t") < 0 || root.Lookup("org.broken") >= 0 {
		t.Errorf("schemas in cache wrong")
	}
	if len(r.Report.Warnings) != 1 || !strings.Contains(r.Report.Warnings[0].Message, "broken.gschema.xml") {
		t.Errorf("warnings %v, want one naming broken.gschema.xml", r.Report.Warnings)
	}
}

func TestCompileSchemasNone(t *testing.T) {
	r := sysroot.New(fstree.New(), nil, nil)
	if err := r.WriteFile(schemaDir+"/x.gschema.override", []byte("[a]\nb=1\n"), 0o644, 0, 0); err != nil {
		t.Fatal(err)
	}
	if err := compileSchemas(r); err != nil {
		t.Fatal(err)
	}
	if r.Exists(schemaDir + "/gschemas.compiled") {
		t.Error("gschemas.compiled written without schema files")
	}
}

// TestCompileSchemasWorkstation compiles the schemas of a built image (set
// DEBATOM_TEST_SCHEMAS to a directory checked out from it, e.g. with
// ostree checkout --subpath=/usr/share/glib-2.0/schemas) and compares the
// bytes with glib-compile-schemas on the same directory.
func TestCompileSchemasWorkstation(t *testing.T) {
	dir := os.Getenv("DEBATOM_TEST_SCHEMAS")
	if dir == "" {
		t.Skip("DEBATOM_TEST_SCHEMAS not set")
	}
	if _, err := exec.LookPath("glib-compile-schemas"); err != nil {
		t.Skip(err)
	}
	r := sysroot.New(fstree.New(), nil, nil)
	ents, err := os.ReadDir(dir)
	if err != nil {
		t.Fatal(err)
	}
	for _, e := range ents {
		if e.Name() == "gschemas.compiled" || e.IsDir() {
			continue
		}
		b, err := os.ReadFile(filepath.Join(dir, e.Name()))
		if err != nil {
			t.Fatal(err)
		}
		if err := r.WriteFile(schemaDir+"/"+e.Name(), b, 0o644, 0, 0); err != nil {
			t.Fatal(err)
		}
	}
	if err := compileSchemas(r); err != nil {
		t.Fatal(err)
	}
	for _, w := range r.Report.Warnings {
		t.Log(w)
	}
	got, err := r.ReadFile(schemaDir + "/gschemas.compiled")
	if err != nil {
		t.Fatal(err)
	}
	out := t.TempDir()
	if b, err := exec.Command("glib-compile-schemas", "--targetdir="+out, dir).CombinedOutput(); err != nil {
		t.Fatalf("glib-compile-schemas: %v\n%s", err, b)
	}
	want, err := os.ReadFile(filepath.Join(out, "gschemas.compiled"))
	if err != nil {
		t.Fatal(err)
	}
	if string(got) != string(want) {
		os.WriteFile(filepath.Join(os.TempDir(), "gschemas.got"), got, 0o644)
		t.Errorf("gschemas.compiled differs from glib-compile-schemas': %d vs %d bytes (ours in %s)", len(got), len(want), filepath.Join(os.TempDir(), "gschemas.got"))
	}
}
