package ext4

import (
	"bytes"
	"context"
	"fmt"
	"io"
	"math/rand/v2"
	"os"
	"path/filepath"
	"testing"
)

// BenchmarkWrite writes a 200 MB tree (2000 directories' worth of files of
// 4 KiB to 1 MiB of incompressible bytes) to an image file in the test's
// temporary directory. Contents come from memory, so this measures the
// writer and the page cache, not a content store.
func BenchmarkWrite(b *testing.B) {
	rng := rand.New(rand.NewPCG(1, 2))
	pool := make([]byte, 4<<20)
	for i := range pool {
		pool[i] = byte(rng.Uint32())
	}
	type file struct {
		path string
		off  int
		size int
	}
	var files []file
	total := 0
	for i := 0; total < 200<<20; i++ {
		size := 4096 << rng.IntN(9) // 4 KiB .. 1 MiB
		size += rng.IntN(4096)
		files = append(files, file{fmt.Sprintf("usr/d%03d/f%05d", i%200, i), rng.IntN(len(pool) - size), size})
		total += size
	}
	dir := b.TempDir()
	b.SetBytes(int64(total))
	b.ResetTimer()
	for range b.N {
		bd := NewBuilder(testOptions())
		for _, f := range files {
			content := pool[f.off : f.off+f.size]
			if err := bd.AddFile(f.path, 0o644, 0, 0, nil, int64(f.size), func() (io.ReadCloser, error) {
				return io.NopCloser(bytes.NewReader(content)), nil
			}); err != nil {
				b.Fatal(err)
			}
		}
		img := filepath.Join(dir, "bench.img")
		if err := bd.WriteFile(context.Background(), img); err != nil {
			b.Fatal(err)
		}
		os.Remove(img)
	}
	b.ReportMetric(float64(len(files)), "files")
}

// BenchmarkDirHash measures the directory hash, run once per name in a
// hashed directory.
func BenchmarkDirHash(b *testing.B) {
	name := []byte("libsystemd-shared-257.so")
	seed := [4]uint32{1, 2, 3, 4}
	b.SetBytes(int64(len(name)))
	for range b.N {
		dirHash(name, seed)
	}
}

// BenchmarkPlan40k lays out (without writing contents) a tree the size
// of a full Debian system: 40,000 files in 2,000 directories, each also
// hard-linked into an OSTree-style object store (80,000 names). Its allocations show the
// writer's memory use per inode.
func BenchmarkPlan40k(b *testing.B) {
	never := func() (io.ReadCloser, error) { return nil, fmt.Errorf("not called when planning") }
	b.ReportAllocs()
	for range b.N {
		bd := NewBuilder(testOptions())
		for i := range 40000 {
			p := fmt.Sprintf("usr/share/d%04d/file-%05d.txt", i%2000, i)
			if err := bd.AddFile(p, 0o644, 0, 0, []Xattr{{"security.selinux", []byte("system_u:object_r:usr_t:s0\x00")}}, int64(i%9000), never); err != nil {
				b.Fatal(err)
			}
			bd.Hardlink(fmt.Sprintf("ostree/repo/objects/%02x/%062x.file", i%256, i), p)
		}
		if _, err := bd.Size(); err != nil {
			b.Fatal(err)
		}
	}
}
