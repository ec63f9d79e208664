package main

import (
	"context"
	"fmt"
	"io"

	"github.com/debatom/debatom/pkg/apt"
	"github.com/debatom/debatom/pkg/progress"
)

func runMirror(ctx context.Context, args []string, stdout, stderr io.Writer) error {
	fs := newFlagSet("mirror", stderr)
	lockPath := fs.String("lock", "debatom.lock", "lockfile `FILE` to mirror")
	out := fs.String("o", "", "write the mirror into `DIR`")
	cache := fs.String("cache", defaultCacheDir(), "cache `DIR` for indexes and packages")
	keyring := fs.String("keyring", "", "keyring `FILE` for every source (default: the keyring the lock names)")
	allowExpired := fs.Bool("allow-expired", false, "accept a Release past its Valid-Until date")
	if err := parseFlags(fs, args); err != nil {
		return err
	}
	if *out == "" || fs.NArg() > 0 {
		return fmt.Errorf("%w: give -o DIR and no arguments", errUsage)
	}
	l, err := apt.ReadLock(*lockPath)
	if err != nil {
		return err
	}
	srcs := l.SourceList()
	if *keyring != "" {
		for i := range srcs {
			srcs[i].Keyring = *keyring
		}
	}
	rep := reporter(stderr)
	opts := apt.Options{CacheDir: *cache, Arch: l.Arch, AllowExpired: *allowExpired}
	st := progress.Start(rep, "index", "verifying the locked sources")
	ix, err := apt.LoadIndex(ctx, srcs, opts)
	if err != nil {
		return err
	}
	st.End("%d packages", len(ix.Packages))
	st = progress.Start(rep, "mirror", "writing "+*out)
	f := &apt.Fetcher{CacheDir: *cache, Progress: func(p apt.Progress) { st.Progress(p.Done, p.Total, "bytes") }}
	if err := apt.WriteMirror(ctx, ix, l, f, *out, opts); err != nil {
		return err
	}
	st.End("done")
	_, err = fmt.Fprintf(stdout, "%s: mirror of %d packages from %d source(s)\n", *out, len(l.Packages), len(srcs))
	return err
}
