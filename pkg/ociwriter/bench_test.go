package ociwriter

import (
	"context"
	"os"
	"path/filepath"
	"testing"

	"github.com/debatom/debatom/pkg/ostreerepo"
)

// BenchmarkWrite writes an image of a commit: the synthetic tree, or the
// commit named by DEBATOM_BENCH_OCI_REPO and DEBATOM_BENCH_OCI_COMMIT (what
// bench/oci/run.sh uses for the archive set). It reports tar MB/s.
func BenchmarkWrite(b *testing.B) {
	for _, comp := range []struct {
		name string
		c    Compression
	}{{"gzip", Gzip}, {"zstd", Zstd}} {
		b.Run(comp.name, func(b *testing.B) {
			var repo *ostreerepo.Repo
			var commit string
			if dir := os.Getenv("DEBATOM_BENCH_OCI_REPO"); dir != "" {
				var err error
				if repo, err = ostreerepo.Open(dir); err != nil {
					b.Fatal(err)
				}
				commit = os.Getenv("DEBATOM_BENCH_OCI_COMMIT")
			} else {
				repo = newRepo(b)
				commit = buildCommit(b, repo, nil)
			}
			b.ResetTimer()
			for i := 0; i < b.N; i++ {
				res, err := Write(context.Background(), repo, commit, filepath.Join(b.TempDir(), "oci"), Options{Compression: comp.c})
				if err != nil {
					b.Fatal(err)
				}
				b.SetBytes(res.Bytes)
				var out int64
				for _, l := range res.Layers {
					out += l.Size
				}
				b.ReportMetric(float64(out)/1e6, "MB-blobs")
			}
		})
	}
}
