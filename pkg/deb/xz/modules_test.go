package xz_test

import (
	"archive/tar"
	"bytes"
	"context"
	"io"
	"os"
	"path/filepath"
	"strings"
	"syscall"
	"testing"
	"time"

	"github.com/debatom/debatom/internal/testenv"
	"github.com/debatom/debatom/pkg/deb"
	"github.com/debatom/debatom/pkg/deb/xz"
)

// kernelModules returns the .ko.xz files of the frozen archive's cloud
// kernel: 1138 small single-block streams (1 MiB dictionary, CRC32),
// which depmod decodes from memory.
func kernelModules(t testing.TB) [][]byte {
	debs, err := filepath.Glob(filepath.Join(testenv.Archive(t), "pool", "main", "l", "linux-signed-amd64", "linux-image-*-cloud-amd64_*.deb"))
	if err != nil || len(debs) == 0 {
		t.Fatalf("no linux-image .deb: %v", err)
	}
	f, err := os.Open(debs[0])
	if err != nil {
		t.Fatal(err)
	}
	defer f.Close()
	var mods [][]byte
	_, err = deb.Read(context.Background(), f, debs[0], func(h *tar.Header, body io.Reader) error {
		if !strings.HasSuffix(h.Name, ".ko.xz") {
			return nil
		}
		b, err := io.ReadAll(body)
		mods = append(mods, b)
		return err
	})
	if err != nil {
		t.Fatal(err)
	}
	if len(mods) < 1000 {
		t.Fatalf("%d modules in %s", len(mods), debs[0])
	}
	return mods
}

// BenchmarkModules decodes the kernel's modules from memory: with one
// Reader and DecodeAll, as depmod's workers do, and with a fresh Reader
// per module through Read. MB/s is of decompressed output.
func BenchmarkModules(b *testing.B) {
	mods := kernelModules(b)
	z, _ := xz.NewReader(nil, 64<<20)
	var total int64
	var out []byte
	for _, m := range mods {
		var err error
		if out, err = z.DecodeAll(m, out[:0]); err != nil {
			b.Fatal(err)
		}
		total += int64(len(out))
	}
	b.Run("DecodeAll", func(b *testing.B) {
		b.SetBytes(total)
		b.ReportAllocs()
		defer reportCPU(b, total)()
		for i := 0; i < b.N; i++ {
			for _, m := range mods {
				var err error
				if out, err = z.DecodeAll(m, out[:0]); err != nil {
					b.Fatal(err)
				}
			}
		}
	})
	b.Run("NewReader", func(b *testing.B) {
		b.SetBytes(total)
		b.ReportAllocs()
		defer reportCPU(b, total)()
		for i := 0; i < b.N; i++ {
			for _, m := range mods {
				r, err := xz.NewReader(bytes.NewReader(m), 64<<20)
				if err != nil {
					b.Fatal(err)
				}
				if _, err := io.Copy(io.Discard, r); err != nil {
					b.Fatal(err)
				}
			}
		}
	})
}

// reportCPU starts the clock of a cpu-MB/s metric (CPU time, unlike wall
// time, does not depend on what else the machine runs); call what it
// returns at the end.
func reportCPU(b *testing.B, bytes int64) func() {
	b.ResetTimer()
	c0 := cpuTime()
	return func() {
		cpu := cpuTime() - c0
		b.ReportMetric(float64(bytes)*float64(b.N)/1e6/cpu.Seconds(), "cpu-MB/s")
	}
}

func cpuTime() time.Duration {
	var ru syscall.Rusage
	syscall.Getrusage(syscall.RUSAGE_SELF, &ru)
	return time.Duration(ru.Utime.Nano() + ru.Stime.Nano())
}
