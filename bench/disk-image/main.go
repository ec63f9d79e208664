// Command disk-image is the helper behind bench/disk-image/run.sh: it
// times debatom's commit → qcow2 path on an existing repository, and its
// ext4 writer alone on the deployed sysroot.
//
//	disk-image [-cpuprofile F] qcow2 REPO REF OUT   time diskimage.New + WriteQcow2
//	disk-image [-cpuprofile F] ext4 REPO REF OUT    time the sysroot's ext4 image; print MB/s
package main

import (
	"context"
	"flag"
	"fmt"
	"os"
	"runtime/pprof"
	"time"

	"github.com/debatom/debatom/pkg/deploy"
	"github.com/debatom/debatom/pkg/diskimage"
	"github.com/debatom/debatom/pkg/ext4"
	"github.com/debatom/debatom/pkg/ostreerepo"
)

func main() {
	cpuprofile := flag.String("cpuprofile", "", "write a CPU profile of the run to `file`")
	flag.Parse()
	if flag.NArg() != 4 {
		fmt.Fprintln(os.Stderr, "usage: disk-image [-cpuprofile F] qcow2|ext4 REPO REF OUT")
		os.Exit(2)
	}
	if err := profiled(*cpuprofile, func() error {
		return run(context.Background(), flag.Arg(0), flag.Arg(1), flag.Arg(2), flag.Arg(3))
	}); err != nil {
		fmt.Fprintln(os.Stderr, "disk-image:", err)
		os.Exit(1)
	}
}

// profiled runs f, under the CPU profiler if path is not empty.
func profiled(path string, f func() error) error {
	if path == "" {
		return f()
	}
	pf, err := os.Create(path)
	if err != nil {
		return err
	}
	defer pf.Close()
	if err := pprof.StartCPUProfile(pf); err != nil {
		return err
	}
	err = f()
	pprof.StopCPUProfile()
	if cerr := pf.Close(); err == nil {
		err = cerr
	}
	return err
}

func run(ctx context.Context, what, repoDir, ref, out string) error {
	repo, err := ostreerepo.Open(repoDir)
	if err != nil {
		return err
	}
	commit, err := repo.ResolveRef(ref)
	if err != nil {
		return err
	}
	start := time.Now()
	switch what {
	case "qcow2":
		img, err := diskimage.New(ctx, repo, commit, diskimage.Options{Ref: ref})
		if err != nil {
			return err
		}
		planned := time.Since(start)
		if err := img.WriteQcow2(ctx, out, false); err != nil {
			return err
		}
		fmt.Printf("deploy+plan %.2f s, write %.2f s, total %.2f s, disk %d MiB\n",
			planned.Seconds(), (time.Since(start) - planned).Seconds(), time.Since(start).Seconds(), img.Size>>20)
	case "ext4":
		s, err := deploy.Deploy(ctx, repo, commit, deploy.Options{Ref: ref})
		if err != nil {
			return err
		}
		var content int64
		for _, n := range s.Nodes() {
			if n.Kind == deploy.File {
				content += n.Size
			}
		}
		b := ext4.NewBuilder(ext4.Options{Label: "root"})
		if err := s.AddTo(b, ""); err != nil {
			return err
		}
		t0 := time.Now()
		if err := b.WriteFile(ctx, out); err != nil {
			return err
		}
		d := time.Since(t0)
		fmt.Printf("ext4: %d MB of file content in %.2f s, %.1f MB/s (deploy %.2f s)\n",
			content/1e6, d.Seconds(), float64(content)/1e6/d.Seconds(), t0.Sub(start).Seconds())
	default:
		return fmt.Errorf("unknown mode %q", what)
	}
	return nil
}
