package main

import (
	"context"
	"fmt"
	"io"
)

func runLock(ctx context.Context, args []string, stdout, stderr io.Writer) error {
	fs := newFlagSet("lock", stderr)
	var rf repoFlags
	var pf planFlags
	rf.register(fs)
	pf.register(fs)
	out := fs.String("o", "debatom.lock", "write the lockfile to `FILE`")
	if err := parseFlags(fs, args); err != nil {
		return err
	}
	if fs.NArg() > 0 {
		return fmt.Errorf("%w: unexpected argument %q", errUsage, fs.Arg(0))
	}
	rep := reporter(stderr)
	l, err := pf.plan(ctx, &rf, rep)
	if err != nil {
		return err
	}
	if err := l.WriteFile(*out); err != nil {
		return err
	}
	var size int64
	for _, p := range l.Packages {
		size += p.Size
	}
	_, err = fmt.Fprintf(stdout, "%s: %d packages, %.1f MiB\n", *out, len(l.Packages), float64(size)/(1<<20))
	return err
}
