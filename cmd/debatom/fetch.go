package main

import (
	"context"
	"fmt"
	"io"
	"strings"

	"github.com/debatom/debatom/pkg/apt"
	"github.com/debatom/debatom/pkg/progress"
)

func runFetch(ctx context.Context, args []string, stdout, stderr io.Writer) error {
	fs := newFlagSet("fetch", stderr)
	var rf repoFlags
	var pf planFlags
	rf.register(fs)
	pf.register(fs)
	lockPath := fs.String("lock", "", "fetch exactly the packages of lockfile `FILE` (no index is read; --mirror, if given, replaces the lock's mirrors)")
	offline := fs.Bool("offline", false, "use the cache only; fail naming what is missing")
	workers := fs.Int("jobs", 4, "parallel downloads")
	if err := parseFlags(fs, args); err != nil {
		return err
	}
	if fs.NArg() > 0 {
		return fmt.Errorf("%w: unexpected argument %q", errUsage, fs.Arg(0))
	}
	rep := reporter(stderr)
	var items []apt.Item
	if *lockPath != "" {
		l, err := apt.ReadLock(*lockPath)
		if err != nil {
			return err
		}
		if items, err = l.Items(); err != nil {
			return err
		}
		if rf.mirror != "" {
			// Fetch the locked files from another mirror (a bundle written by
			// debatom mirror, say); the lock's hashes still decide.
			for i, p := range l.Packages {
				items[i].URL = strings.TrimRight(rf.mirror, "/") + "/" + p.Filename
			}
		}
	} else {
		if *offline {
			return fmt.Errorf("%w: --offline needs --lock FILE (resolving needs the index)", errUsage)
		}
		l, err := pf.plan(ctx, &rf, rep)
		if err != nil {
			return err
		}
		if items, err = l.Items(); err != nil {
			return err
		}
	}
	paths, err := fetchItems(ctx, &rf, items, *offline, *workers, rep)
	if err != nil {
		return err
	}
	var size int64
	for _, it := range items {
		size += it.Size
	}
	_, err = fmt.Fprintf(stdout, "%d packages, %.1f MiB, in %s\n", len(paths), float64(size)/(1<<20), rf.cache)
	return err
}

// fetchItems downloads items into the cache with a progress display.
func fetchItems(ctx context.Context, rf *repoFlags, items []apt.Item, offline bool, workers int, rep progress.Reporter) ([]string, error) {
	st := progress.Start(rep, "fetch", fmt.Sprintf("%d packages", len(items)))
	f := &apt.Fetcher{CacheDir: rf.cache, Offline: offline, Workers: workers,
		Progress: func(p apt.Progress) { st.Progress(p.Done, p.Total, "bytes") }}
	paths, err := f.Fetch(ctx, items)
	if err != nil {
		return nil, err
	}
	st.End("%d packages verified", len(paths))
	return paths, nil
}
