package apt

import (
	"context"
	"os"
	"path/filepath"
	"reflect"
	"testing"

	"github.com/debatom/debatom/internal/testenv"
)

// archiveSource is the frozen archive as a file:// source.
func archiveSource(t testing.TB) Source {
	t.Helper()
	return Source{URL: "file://" + testenv.Archive(t), Suite: "trixie", Components: []string{"main"}, Keyring: testenv.Keyring(t)}
}

func TestLoadIndexRealColdWarm(t *testing.T) {
	if testing.Short() {
		t.Skip("decompresses a 56 MB index")
	}
	src := archiveSource(t)
	cache := t.TempDir()
	ctx := context.Background()
	cold, err := LoadIndex(ctx, []Source{src}, Options{CacheDir: cache})
	if err != nil {
		t.Fatal(err)
	}
	if got := len(cold.Packages); got != 68829 {
		t.Fatalf("%d packages, want the 68,829 stanzas of the index", got)
	}
	si := cold.Sources[0]
	if len(si.Signers) != 3 || len(si.Files) != 1 || si.Files[0].Path != "main/binary-amd64/Packages.xz" {
		t.Fatalf("source index %+v", si.Files)
	}
	entries, _ := os.ReadDir(filepath.Join(cache, "indexes"))
	if len(entries) != 1 {
		t.Fatalf("cache holds %d files, want 1", len(entries))
	}
	warm, err := LoadIndex(ctx, []Source{src}, Options{CacheDir: cache})
	if err != nil {
		t.Fatal(err)
	}
	if len(warm.Packages) != len(cold.Packages) {
		t.Fatalf("warm %d packages, cold %d", len(warm.Packages), len(cold.Packages))
	}
	for i := range cold.Packages {
		if !reflect.DeepEqual(cold.Packages[i], warm.Packages[i]) {
			t.Fatalf("package %d differs:\ncold %+v\nwarm %+v", i, cold.Packages[i], warm.Packages[i])
		}
	}
	var bash *Package
	for _, p := range warm.Packages {
		if p.Name == "bash" {
			bash = p
		}
	}
	if bash == nil || !bash.Essential || bash.Origin != src.URL+" trixie/main" || len(bash.SHA256) != 64 {
		t.Fatalf("bash: %+v", bash)
	}
}
