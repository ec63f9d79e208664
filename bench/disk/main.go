// Command disk is the helper behind bench/disk/run.sh: it makes the raw
// test image and converts raw images to qcow2 with pkg/qcow2, so the
// script can time it against qemu-img convert on the same input.
//
//	disk mkraw FILE            1 GiB sparse raw image with about 300 MB of data
//	disk convert [-c] RAW OUT  raw to qcow2, deflate-compressed with -c
//	disk esp DIR IMG SIZE      FAT32 image of SIZE MiB holding the tree DIR
//	disk iso DIR ISO BOOT      ISO of the tree DIR booting the FAT image BOOT (a path in DIR)
package main

import (
	"bytes"
	"context"
	"flag"
	"fmt"
	"io"
	"io/fs"
	"math/rand/v2"
	"os"
	"path/filepath"
	"time"

	"github.com/debatom/debatom/bench/internal/subcmd"
	"github.com/debatom/debatom/pkg/iso9660"
	"github.com/debatom/debatom/pkg/qcow2"
	"github.com/debatom/debatom/pkg/vfat"
)

func main() {
	var compress bool
	subcmd.Main("disk",
		subcmd.Command{Name: "mkraw", Args: "FILE", NArg: 1,
			Run: func(a []string) error { return mkraw(a[0]) }},
		subcmd.Command{Name: "convert", Args: "[-c] RAW OUT", NArg: 2,
			Flags: func(fl *flag.FlagSet) { fl.BoolVar(&compress, "c", false, "compress clusters") },
			Run:   func(a []string) error { return convert(a[0], a[1], compress) }},
		subcmd.Command{Name: "esp", Args: "DIR IMG MiB", NArg: 3,
			Run: func(a []string) error { return esp(a[0], a[1], a[2]) }},
		subcmd.Command{Name: "iso", Args: "DIR ISO BOOT", NArg: 3,
			Run: func(a []string) error { return iso(a[0], a[1], a[2]) }},
	)
}

// mkraw writes a 1 GiB sparse image laid out like a small root file
// system: 100 MB of incompressible bytes (as compressed files are), and
// 200 MB of this machine's /usr files (binaries, libraries, text), in
// 4 MiB runs scattered over the disk with holes between them.
func mkraw(path string) error {
	const size, run = 1 << 30, 4 << 20
	f, err := os.Create(path)
	if err != nil {
		return err
	}
	defer f.Close()
	if err := f.Truncate(size); err != nil {
		return err
	}
	usr, err := usrStream(200 << 20)
	if err != nil {
		return err
	}
	rng := rand.New(rand.NewPCG(1, 2))
	buf := make([]byte, run)
	var random, real int64
	for off := int64(0); off+run <= size && random+real < 300<<20; off += 3 * run / 2 {
		if random < 100<<20 && (off/run)%3 == 0 {
			for i := range buf {
				buf[i] = byte(rng.Uint32())
			}
			random += run
		} else {
			if _, err := io.ReadFull(usr, buf); err != nil {
				return fmt.Errorf("reading /usr: %w", err)
			}
			real += run
		}
		if _, err := f.WriteAt(buf, off); err != nil {
			return err
		}
	}
	fmt.Printf("%s: %d MiB virtual, %d MiB random + %d MiB from /usr\n", path, size>>20, random>>20, real>>20)
	return f.Close()
}

// usrStream returns the first n bytes of the regular files under /usr, in
// walk order.
func usrStream(n int64) (io.Reader, error) {
	var readers []io.Reader
	var total int64
	err := filepath.WalkDir("/usr", func(p string, d fs.DirEntry, err error) error {
		if err != nil || total >= n {
			return fs.SkipDir
		}
		if !d.Type().IsRegular() {
			return nil
		}
		b, err := os.ReadFile(p)
		if err != nil {
			return nil
		}
		readers = append(readers, bytes.NewReader(b))
		total += int64(len(b))
		return nil
	})
	if err != nil && err != fs.SkipDir {
		return nil, err
	}
	return io.LimitReader(io.MultiReader(readers...), n), nil
}

func convert(raw, out string, compress bool) error {
	in, err := os.Open(raw)
	if err != nil {
		return err
	}
	defer in.Close()
	src, err := qcow2.FileSource(in)
	if err != nil {
		return err
	}
	f, err := os.Create(out)
	if err != nil {
		return err
	}
	defer f.Close()
	start := time.Now()
	if err := qcow2.Write(context.Background(), f, src, qcow2.Options{Compress: compress}); err != nil {
		return err
	}
	if err := f.Close(); err != nil {
		return err
	}
	fmt.Fprintf(os.Stderr, "converted in %v\n", time.Since(start).Round(time.Millisecond))
	return nil
}

func esp(dir, img, mib string) error {
	var size int64
	if _, err := fmt.Sscan(mib, &size); err != nil {
		return fmt.Errorf("size %q: %w", mib, err)
	}
	f, err := os.Create(img)
	if err != nil {
		return err
	}
	defer f.Close()
	if err := f.Truncate(size << 20); err != nil {
		return err
	}
	if err := vfat.Write(context.Background(), f, os.DirFS(dir), vfat.Options{Size: size << 20, Label: "ESP", VolumeID: 1}); err != nil {
		return err
	}
	return f.Close()
}

func iso(dir, out, boot string) error {
	f, err := os.Create(out)
	if err != nil {
		return err
	}
	defer f.Close()
	if err := iso9660.Write(context.Background(), f, os.DirFS(dir), iso9660.Options{VolumeID: "BENCH", EFIBootImage: boot}); err != nil {
		return err
	}
	return f.Close()
}
