package main

import (
	"context"
	"fmt"
	"io"
	"runtime"
	"time"

	"github.com/debatom/debatom/pkg/ostreerepo"
	"github.com/debatom/debatom/pkg/unpack"
)

// runUnpack unpacks .deb files into an OSTree object store and prints what
// each package held and how long it took.
func runUnpack(ctx context.Context, args []string, stdout, stderr io.Writer) error {
	fs := newFlagSet("unpack", stderr)
	repoDir := fs.String("repo", "", "OSTree repository `dir` (created if missing)")
	cacheDir := fs.String("cache", "", "cache `dir` for package manifests (empty: no cache)")
	workers := fs.Int("workers", runtime.GOMAXPROCS(0), "packages unpacked at once")
	modeName := fs.String("mode", "archive", "repository mode when creating it: archive or bare-user")
	fs.Usage = func() {
		fmt.Fprintln(stderr, "usage: debatom unpack --repo DIR [--cache DIR] [--workers N] [--mode archive|bare-user] PACKAGE.deb...")
		fs.PrintDefaults()
	}
	if err := parseFlags(fs, args); err != nil {
		return err
	}
	if *repoDir == "" || fs.NArg() == 0 {
		fs.Usage()
		return fmt.Errorf("%w: need --repo and at least one .deb", errUsage)
	}
	if *workers < 1 {
		return fmt.Errorf("%w: --workers must be at least 1", errUsage)
	}
	mode, err := ostreerepo.ParseMode(*modeName)
	if err != nil {
		return fmt.Errorf("%w: %v", errUsage, err)
	}
	repo, err := ostreerepo.Create(*repoDir, mode)
	if err != nil {
		return err
	}
	inputs := make([]unpack.Input, fs.NArg())
	for i, p := range fs.Args() {
		inputs[i] = unpack.Input{Path: p}
	}
	start := time.Now()
	results, err := unpack.New(repo, unpack.Options{Workers: *workers, CacheDir: *cacheDir}).UnpackAll(ctx, inputs)
	if err != nil {
		return err
	}
	wall := time.Since(start)

	var entries, cached int
	var bytes int64
	fmt.Fprintf(stdout, "%-40s %-28s %8s %12s %9s\n", "PACKAGE", "VERSION", "ENTRIES", "BYTES", "TIME")
	for _, r := range results {
		m := r.Manifest
		how := r.Duration.Round(time.Millisecond).String()
		if r.Cached {
			how = "cached"
			cached++
		}
		name := m.Package.Name + ":" + m.Package.Architecture
		fmt.Fprintf(stdout, "%-40s %-28s %8d %12d %9s\n", name, m.Package.Version, len(m.Entries), m.Bytes, how)
		entries += len(m.Entries)
		bytes += m.Bytes
	}
	rate := float64(bytes) / 1e6 / wall.Seconds()
	fmt.Fprintf(stdout, "total: %d packages (%d cached), %d entries, %d bytes in %v (%.1f MB/s, %d workers)\n",
		len(results), cached, entries, bytes, wall.Round(time.Millisecond), rate, *workers)
	return nil
}
