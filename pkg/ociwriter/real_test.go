package ociwriter

import (
	"context"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/debatom/debatom/internal/testenv"
	"github.com/debatom/debatom/pkg/apt"
	"github.com/debatom/debatom/pkg/compose"
	"github.com/debatom/debatom/pkg/ostreerepo"
	"github.com/debatom/debatom/pkg/treefile"
)

// buildArchiveCommit builds the frozen archive's package set (with its
// initramfs) the way `debatom build` does.
func buildArchiveCommit(t testing.TB) *compose.Result {
	t.Helper()
	srcs := []apt.Source{{URL: "file://" + testenv.Archive(t), Suite: "trixie", Components: []string{"main"}, Keyring: testenv.Keyring(t)}}
	tf, err := treefile.Load(filepath.Join("..", "compose", "testdata", "archive.yaml"))
	if err != nil {
		t.Fatal(err)
	}
	work := t.TempDir()
	res, err := compose.Build(context.Background(), compose.Options{Treefile: tf, Sources: srcs, OutDir: filepath.Join(work, "out"), CacheDir: filepath.Join(work, "cache")})
	if err != nil {
		t.Fatal(err)
	}
	return res
}

// TestArchiveCommit writes the real archive-set commit: skopeo accepts it,
// the kernel has a layer of its own, the layer budget holds, every
// package is in exactly one layer, and the image imports to the same
// commit.
func TestArchiveCommit(t *testing.T) {
	if testing.Short() {
		t.Skip("builds the archive set with its initramfs (about a minute)")
	}
	skopeo := testenv.Tool(t, "skopeo")
	ostree := testenv.Tool(t, "ostree")
	res := buildArchiveCommit(t)
	start := time.Now()
	dir, img, m := writeImage(t, res.Repo, res.Commit, Options{})
	t.Logf("%d layers, %d MB of tar in %v", len(img.Layers), img.Bytes>>20, time.Since(start))
	if len(m.Layers) > DefaultMaxLayers {
		t.Errorf("%d layers", len(m.Layers))
	}
	if m.Annotations[LabelLinux] != res.KernelVersion || m.Annotations[LabelCommit] != res.Commit {
		t.Errorf("labels %v", m.Annotations)
	}
	if c := m.Layers[1].Annotations[ChunkAnnotation]; c != chunkKernel {
		t.Errorf("layer 1 is %q, want the kernel", c)
	}
	seen := map[string]int{}
	for _, l := range m.Layers {
		if l.Annotations[ChunkAnnotation] != chunkPackages {
			continue
		}
		for _, p := range strings.Split(l.Annotations[ComponentsAnnotation], ",") {
			seen[p]++
		}
	}
	for p, n := range seen {
		if n != 1 {
			t.Errorf("package %s in %d layers", p, n)
		}
	}
	if len(seen) < 200 {
		t.Errorf("%d packages in layers, the archive set has 213", len(seen))
	}
	out := run(t, skopeo, "inspect", "oci:"+dir+":latest")
	if !strings.Contains(out, res.Commit) {
		t.Errorf("skopeo inspect: %s", out)
	}
	r2, err := ostreerepo.Create(filepath.Join(t.TempDir(), "repo"), ostreerepo.ModeArchive)
	if err != nil {
		t.Fatal(err)
	}
	got, err := Import(context.Background(), dir, r2, ImportOptions{Ref: res.Ref})
	if err != nil {
		t.Fatal(err)
	}
	if got != res.Commit {
		t.Errorf("imported %s, want %s", got, res.Commit)
	}
	if out := run(t, ostree, "fsck", "--repo="+r2.Dir()); !strings.Contains(out, "no errors found") {
		t.Errorf("ostree fsck: %s", out)
	}

	t.Run("umoci", func(t *testing.T) {
		umoci := testenv.Tool(t, "umoci")
		testenv.Root(t)
		work := t.TempDir()
		bundle := filepath.Join(work, "bundle")
		run(t, umoci, "unpack", "--image", dir+":latest", bundle)
		co := filepath.Join(work, "checkout")
		run(t, ostree, "checkout", "--repo="+res.Repo.Dir(), res.Commit, co)
		want := snapshotDir(t, co, tarPath)
		got := snapshotDir(t, filepath.Join(bundle, "rootfs"), nil)
		for p := range got {
			if strings.HasPrefix(p, "sysroot/ostree") || p == "var/tmp" || p == "var/run" {
				delete(got, p)
			}
		}
		compareSnapshots(t, got, want)
	})
}
