package resolve

import (
	"context"
	"errors"
	"io"
	"os"
	"path/filepath"
	"testing"

	"github.com/debatom/debatom/internal/testenv"
	"github.com/debatom/debatom/pkg/deb822"
)

// mmdebstrapInstalled runs a real `mmdebstrap --mode=root` from the frozen
// archive and returns what dpkg's status file says is installed, as
// name_version_arch. --simulate is not used: it skips the Essential-first
// installation that changes apt's choices.
func mmdebstrapInstalled(t *testing.T, includes []string) []string {
	t.Helper()
	// Shared with the other oracle tests that need the same installation.
	dir := testenv.Mmdebstrap(t, "minbase", includes)
	f, err := os.Open(filepath.Join(dir, "var/lib/dpkg/status"))
	if err != nil {
		t.Fatal(err)
	}
	defer f.Close()
	var got []string
	r := deb822.NewReader(f, "status")
	for {
		p, err := r.Next()
		if errors.Is(err, io.EOF) {
			break
		}
		if err != nil {
			t.Fatal(err)
		}
		if p.Get("Status") != "install ok installed" {
			t.Errorf("%s is in state %q", p.Get("Package"), p.Get("Status"))
			continue
		}
		got = append(got, p.Get("Package")+"_"+p.Get("Version")+"_"+p.Get("Architecture"))
	}
	return got
}

func planList(t *testing.T, req Request) []string {
	t.Helper()
	plan, err := Resolve(context.Background(), realIndex(t), req)
	if err != nil {
		t.Fatal(err)
	}
	var out []string
	for _, p := range plan.Packages {
		out = append(out, p.Name+"_"+p.Version+"_"+p.Architecture)
	}
	return out
}

// TestOracleMmdebstrapMinbase is oracle (3): the minbase plan equals what
// a real mmdebstrap installs (about 20 s).
func TestOracleMmdebstrapMinbase(t *testing.T) {
	plan := planList(t, Request{Arch: "amd64", Baseline: "minbase"})
	got := mmdebstrapInstalled(t, nil)
	if len(got) != 78 {
		t.Errorf("mmdebstrap installed %d packages; the archive README says 78", len(got))
	}
	diffLists(t, plan, got)
}

// TestOracleMmdebstrapArchiveSet does the same for minbase plus the
// archive's include list (one to three minutes).
func TestOracleMmdebstrapArchiveSet(t *testing.T) {
	if testing.Short() {
		t.Skip("slow: installs 213 packages with mmdebstrap")
	}
	inc := archiveIncludes(t)
	plan := planList(t, Request{Arch: "amd64", Baseline: "minbase", Include: inc})
	got := mmdebstrapInstalled(t, inc)
	diffLists(t, plan, got)
}
