package ostreerepo

import (
	"bytes"
	"io"
	"math/rand/v2"
	"path/filepath"
	"sync"
	"syscall"
	"testing"
	"time"

	"github.com/debatom/debatom/pkg/fstree"
)

// benchFile is one payload of the unpack-shaped corpus.
type benchFile struct {
	meta fstree.Meta
	data []byte
}

// unpackCorpus is a deterministic mix shaped like the files of a Debian
// system as unpack writes them (the 213-package oracle tree: ~10,000
// files, mean ~29 KiB, a third of the bytes already-compressed .ko.xz):
// per 100 files, 50 small text files (0.1-4 KiB), 25 compressible
// binaries (4-32 KiB), 15 xz-compressed modules (8-64 KiB), 8 larger
// binaries (32-256 KiB) and 2 over the streaming threshold (0.3-1 MiB),
// every one a new object. n files total about n*30 KiB.
func unpackCorpus(n int) []benchFile {
	rng := rand.New(rand.NewPCG(42, 4))
	words := []string{"the ", "debian ", "\x00\x00\x00\x00", "lib", "/usr/share/", "\x48\x89\xe5", "config ", "\n", "0x", "= ", "systemd", "\x7fELF\x02\x01", "\xff\xff"}
	compressible := func(size int) []byte {
		b := make([]byte, 0, size+16)
		for len(b) < size {
			if rng.IntN(6) == 0 {
				b = append(b, byte(rng.Uint32()), byte(rng.Uint32()))
			} else {
				b = append(b, words[rng.IntN(len(words))]...)
			}
		}
		return b[:size]
	}
	random := func(size int) []byte {
		b := make([]byte, size)
		for i := range b {
			b[i] = byte(rng.Uint32())
		}
		copy(b, "\xfd7zXZ\x00")
		return b
	}
	span := func(lo, hi int) int { return lo + rng.IntN(hi-lo) }
	out := make([]benchFile, n)
	for i := range out {
		var data []byte
		switch k := i % 100; {
		case k < 50:
			data = compressible(span(100, 4<<10))
		case k < 75:
			data = compressible(span(4<<10, 32<<10))
		case k < 90:
			data = random(span(8<<10, 64<<10))
		case k < 98:
			data = compressible(span(32<<10, 256<<10))
		default:
			data = compressible(span(300<<10, 1<<20))
		}
		out[i] = benchFile{meta: fstree.Meta{Mode: 0o644, UID: uint32(i)}, data: data}
	}
	return out
}

func cpuTimes() (user, sys time.Duration) {
	var ru syscall.Rusage
	syscall.Getrusage(syscall.RUSAGE_SELF, &ru)
	return time.Duration(ru.Utime.Nano()), time.Duration(ru.Stime.Nano())
}

// BenchmarkWriteFileMix writes the unpack-shaped corpus (1,000 files,
// ~30 MB) into a fresh repository with two goroutines, as unpack does on
// two cores. Besides wall time it reports the process's user and system
// CPU time per pass (rusage), which are steadier than wall time on a
// shared machine.
func BenchmarkWriteFileMix(b *testing.B) {
	files := unpackCorpus(1000)
	var total int64
	for _, f := range files {
		total += int64(len(f.data))
	}
	for _, mode := range []Mode{ModeArchive, ModeBareUser} {
		b.Run(mode.String(), func(b *testing.B) {
			b.SetBytes(total)
			b.ReportAllocs()
			var user, sys time.Duration
			for b.Loop() {
				b.StopTimer()
				dir := filepath.Join(b.TempDir(), "repo")
				b.StartTimer()
				u0, s0 := cpuTimes()
				r, err := Create(dir, mode)
				if err != nil {
					b.Fatal(err)
				}
				var wg sync.WaitGroup
				for w := range 2 {
					wg.Add(1)
					go func() {
						defer wg.Done()
						for i := w; i < len(files); i += 2 {
							f := files[i]
							if _, err := r.WriteFile(f.meta, bytes.NewReader(f.data), int64(len(f.data))); err != nil {
								b.Error(err)
								return
							}
						}
					}()
				}
				wg.Wait()
				u1, s1 := cpuTimes()
				user, sys = user+u1-u0, sys+s1-s0
			}
			b.ReportMetric(float64(user.Milliseconds())/float64(b.N), "user-ms/op")
			b.ReportMetric(float64(sys.Milliseconds())/float64(b.N), "sys-ms/op")
		})
	}
}

// BenchmarkOpenFileSmall reads whole small archive objects the way the
// ld.so.cache scan reads libraries: open, io.ReadAll, close.
func BenchmarkOpenFileSmall(b *testing.B) {
	files := unpackCorpus(200)
	r := newRepo(b, ModeArchive)
	var sums []string
	var total int64
	for _, f := range files {
		if len(f.data) > smallFile {
			continue
		}
		c, err := r.WriteFile(f.meta, bytes.NewReader(f.data), int64(len(f.data)))
		if err != nil {
			b.Fatal(err)
		}
		sums, total = append(sums, c), total+int64(len(f.data))
	}
	b.SetBytes(total)
	b.ReportAllocs()
	for b.Loop() {
		for _, c := range sums {
			rc, _, err := r.OpenFile(c)
			if err != nil {
				b.Fatal(err)
			}
			if _, err := io.ReadAll(rc); err != nil {
				b.Fatal(err)
			}
			rc.Close()
		}
	}
}
