package configure

import (
	"fmt"
	"path"

	"github.com/debatom/debatom/pkg/configure/sysroot"
	"github.com/debatom/debatom/pkg/gschemas"
)

// schemaDir is where GSettings schemas are installed; libglib2.0-0t64
// declares a file trigger on it.
const schemaDir = "usr/share/glib-2.0/schemas"

// compileSchemas does what libglib2.0-0t64's trigger does when packages
// install schemas: glib-compile-schemas over the directory, writing
// gschemas.compiled. GSettings cannot open any schema without that file,
// and GNOME's session and greeter abort without their schemas.
//
// It runs glib-compile-schemas' plain mode, not --strict, as the trigger
// does: a schema file with an error is left out of the cache and a bad
// override line is skipped, each reported as a warning naming the file.
// That is a warning and not an error because the real trigger succeeds in
// that case too, and the image is usable: only the schemas of the faulty
// file are missing, which is exactly what a Debian system would have.
func compileSchemas(r *sysroot.Root) error {
	var files []gschemas.File
	haveSchema := false
	for _, p := range r.Glob(schemaDir, "*") {
		name := path.Base(p)
		if !gschemas.IsSchemaFile(name) && !gschemas.IsOverrideFile(name) {
			continue
		}
		b, err := r.ReadFile(p)
		if err != nil {
			// glib-compile-schemas reports an unreadable file and
			// goes on without it.
			r.Report.Warnf("", "gschemas: %v; file ignored", err)
			continue
		}
		haveSchema = haveSchema || gschemas.IsSchemaFile(name)
		files = append(files, gschemas.File{Name: name, Data: b})
	}
	if !haveSchema {
		return nil
	}
	res, err := gschemas.Compile(files, gschemas.Options{})
	if err != nil {
		r.Report.Warnf("", "%v; %s/gschemas.compiled not written", err, schemaDir)
		return nil
	}
	for _, w := range res.Warnings {
		r.Report.Warnf("", "%v", w)
	}
	out := schemaDir + "/gschemas.compiled"
	if err := r.WriteFile(out, res.Compiled, 0o644, 0, 0); err != nil {
		return fmt.Errorf("write %s: %w", out, err)
	}
	r.Report.Notef("compiled %d GSettings schema and override files into /%s", len(files), out)
	return nil
}
