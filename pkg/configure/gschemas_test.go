package configure

import (
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
