// Command ext4 is the helper behind bench/ext4/run.sh: it makes a test
// tree and writes directories as ext4 images with pkg/ext4, so the script
// can time it against mkfs.ext4 -d on the same input.
//
//	ext4 mktree DIR              about 200 MB: this machine's /usr/lib files and random files
//	ext4 build [-size N] DIR IMG  DIR as an ext4 image (N bytes; 0 = computed)
package main

import (
	"context"
	"flag"
	"fmt"
	"io/fs"
	"math/rand/v2"
	"os"
	"path/filepath"
	"time"

	"github.com/debatom/debatom/bench/internal/subcmd"
	"github.com/debatom/debatom/internal/testenv"
	"github.com/debatom/debatom/pkg/ext4"
)

func main() {
	var size int64
	subcmd.Main("ext4",
		subcmd.Command{Name: "mktree", Args: "DIR", NArg: 1,
			Run: func(a []string) error { return mktree(a[0]) }},
		subcmd.Command{Name: "build", Args: "[-size N] DIR IMG", NArg: 2,
			Flags: func(fl *flag.FlagSet) { fl.Int64Var(&size, "size", 0, "image size in bytes (0: computed)") },
			Run:   func(a []string) error { return build(a[0], a[1], size) }},
	)
}

// mktree copies up to 150 MB of /usr/lib and adds 50 MB of random files,
// some hard-linked, like an OSTree checkout.
func mktree(dir string) error {
	var copied int64
	err := filepath.WalkDir("/usr/lib", func(p string, d fs.DirEntry, err error) error {
		if err != nil || copied > 150<<20 {
			return nil
		}
		rel, _ := filepath.Rel("/usr", p)
		dst := filepath.Join(dir, rel)
		info, err := d.Info()
		if err != nil {
			return nil
		}
		switch {
		case d.IsDir():
			return os.MkdirAll(dst, 0o755)
		case info.Mode()&fs.ModeSymlink != 0:
			t, err := os.Readlink(p)
			if err != nil {
				return nil
			}
			return os.Symlink(t, dst)
		case info.Mode().IsRegular():
			b, err := os.ReadFile(p)
			if err != nil {
				return nil
			}
			copied += int64(len(b))
			return os.WriteFile(dst, b, info.Mode().Perm())
		}
		return nil
	})
	if err != nil {
		return err
	}
	rng := rand.New(rand.NewPCG(1, 2))
	rnd := filepath.Join(dir, "random")
	if err := os.MkdirAll(rnd, 0o755); err != nil {
		return err
	}
	for i, total := 0, 0; total < 50<<20; i++ {
		b := make([]byte, 1024<<rng.IntN(10))
		for j := range b {
			b[j] = byte(rng.Uint32())
		}
		p := filepath.Join(rnd, fmt.Sprintf("f%05d", i))
		if err := os.WriteFile(p, b, 0o644); err != nil {
			return err
		}
		if i%4 == 0 {
			if err := os.Link(p, p+".link"); err != nil {
				return err
			}
		}
		total += len(b)
	}
	return nil
}

func build(dir, img string, size int64) error {
	start := time.Now()
	opts := ext4.Options{Size: size, Label: "bench", Timestamp: time.Unix(1748779200, 0)}
	b := ext4.NewBuilder(opts)
	_, bytes, err := testenv.AddTree(b, dir, "")
	if err != nil {
		return err
	}
	if err := b.WriteFile(context.Background(), img); err != nil {
		return err
	}
	el := time.Since(start)
	fmt.Fprintf(os.Stderr, "pkg/ext4: %d MB of file data in %.2f s, %.1f MB/s\n", bytes/1e6, el.Seconds(), float64(bytes)/1e6/el.Seconds())
	return nil
}
