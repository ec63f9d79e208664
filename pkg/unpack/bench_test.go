package unpack

import (
	"context"
	"fmt"
	"syscall"
	"testing"
	"time"

	"github.com/debatom/debatom/pkg/ostreerepo"
)

// cpuTime is the process's user+system CPU time, which, unlike wall time,
// does not depend on what else the machine runs.
func cpuTime() time.Duration {
	var ru syscall.Rusage
	syscall.Getrusage(syscall.RUSAGE_SELF, &ru)
	return time.Duration(ru.Utime.Nano() + ru.Stime.Nano())
}

// BenchmarkArchive unpacks every package of the frozen archive into a new
// archive-mode repository (cold) or into one already holding them with a
// warm cache (warm), with 1 and 2 workers. It reports decompressed MB/s and
// CPU seconds per run.
func BenchmarkArchive(b *testing.B) {
	inputs := archiveInputs(b)
	for _, workers := range []int{1, 2} {
		for _, warm := range []bool{false, true} {
			name := fmt.Sprintf("workers=%d/cold", workers)
			if warm {
				name = fmt.Sprintf("workers=%d/warm", workers)
			}
			b.Run(name, func(b *testing.B) {
				ctx := context.Background()
				var bytes int64
				var cpu time.Duration
				repo, cache := newRepo(b, ostreerepo.ModeArchive), b.TempDir()
				if warm {
					if _, err := New(repo, Options{CacheDir: cache, Workers: 2}).UnpackAll(ctx, inputs); err != nil {
						b.Fatal(err)
					}
				}
				b.ResetTimer()
				for i := 0; i < b.N; i++ {
					if !warm {
						b.StopTimer()
						repo, cache = newRepo(b, ostreerepo.ModeArchive), b.TempDir()
						b.StartTimer()
					}
					c0 := cpuTime()
					rs, err := New(repo, Options{CacheDir: cache, Workers: workers}).UnpackAll(ctx, inputs)
					if err != nil {
						b.Fatal(err)
					}
					cpu += cpuTime() - c0
					for _, r := range rs {
						bytes += r.Manifest.Bytes
						if r.Cached != warm {
							b.Fatalf("%s: cached=%v", r.Manifest.Package.Name, r.Cached)
						}
					}
				}
				b.ReportMetric(float64(bytes)/1e6/b.Elapsed().Seconds(), "MB/s")
				b.ReportMetric(cpu.Seconds()/float64(b.N), "cpu-s/op")
			})
		}
	}
}
