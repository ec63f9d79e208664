package gschemas

import (
	"os"
	"path/filepath"
	"testing"
)

// BenchmarkCompile compiles a real schema directory: DEBATOM_TEST_SCHEMAS
// (e.g. the workstation image's, 119 files) or else the host's.
func BenchmarkCompile(b *testing.B) {
	dir := os.Getenv("DEBATOM_TEST_SCHEMAS")
	if dir == "" {
		dir = "/usr/share/glib-2.0/schemas"
	}
	ents, err := os.ReadDir(dir)
	if err != nil {
		b.Skip(err)
	}
	var files []File
	size := 0
	for _, e := range ents {
		if IsSchemaFile(e.Name()) || IsOverrideFile(e.Name()) {
			d, err := os.ReadFile(filepath.Join(dir, e.Name()))
			if err != nil {
				b.Fatal(err)
			}
			files = append(files, File{Name: e.Name(), Data: d})
			size += len(d)
		}
	}
	b.SetBytes(int64(size))
	b.ReportAllocs()
	for b.Loop() {
		if _, err := Compile(files, Options{}); err != nil {
			b.Fatal(err)
		}
	}
}
