package main

import (
	"context"
	"errors"
	"flag"
	"fmt"
	"io"
	iofs "io/fs"
	"os"
	"path/filepath"
	"strconv"
	"strings"
	"time"

	"github.com/debatom/debatom/pkg/ostreerepo"
)

// stringList is a repeatable string flag.
type stringList []string

func (s *stringList) String() string     { return strings.Join(*s, ",") }
func (s *stringList) Set(v string) error { *s = append(*s, v); return nil }

// runCommit commits a directory like `ostree commit --tree=dir=TREE`, with
// the same defaults, so both give the same checksum for the same inputs.
func runCommit(ctx context.Context, args []string, stdout, stderr io.Writer) error {
	fs := newFlagSet("commit", stderr)
	repoDir := fs.String("repo", "", "OSTree repository `dir` (created if missing)")
	branch := fs.String("branch", "", "branch (ref) to commit to")
	modeName := fs.String("mode", "archive", "repository mode when creating it: archive, bare-user or bare")
	subject := fs.String("subject", "", "one-line subject")
	body := fs.String("body", "", "full description")
	stamp := fs.String("timestamp", "", "commit time, RFC 3339 (default: SOURCE_DATE_EPOCH, else now)")
	epoch := fs.Int64("timestamp-epoch", -1, "commit time in seconds since the epoch")
	var meta, bindRefs stringList
	fs.Var(&meta, "add-metadata-string", "add metadata `KEY=VALUE` (repeatable)")
	fs.Var(&bindRefs, "bind-ref", "also bind the commit to `REF` (repeatable)")
	bootable := fs.Bool("bootable", false, "mark the commit bootable (ostree.bootable, ostree.linux from usr/lib/modules)")
	noBindings := fs.Bool("no-bindings", false, "do not write ostree.ref-binding")
	parent := fs.String("parent", "", "parent commit checksum, or \"none\" (default: the branch's current commit)")
	fs.Usage = func() {
		fmt.Fprintln(stderr, "usage: debatom commit --repo DIR --branch REF [flags] TREE")
		fs.PrintDefaults()
	}
	if err := parseFlags(fs, args); err != nil {
		return err
	}
	if fs.NArg() != 1 || *repoDir == "" || *branch == "" {
		fs.Usage()
		return fmt.Errorf("%w: need --repo, --branch and one TREE directory", errUsage)
	}
	tree := fs.Arg(0)
	mode, err := ostreerepo.ParseMode(*modeName)
	if err != nil {
		return fmt.Errorf("%w: %v", errUsage, err)
	}
	ts, err := commitTime(*stamp, *epoch)
	if err != nil {
		return fmt.Errorf("%w: %v", errUsage, err)
	}
	var md []ostreerepo.MetaItem
	for _, kv := range meta {
		k, v, ok := strings.Cut(kv, "=")
		if !ok || k == "" {
			return fmt.Errorf("%w: --add-metadata-string %q is not KEY=VALUE", errUsage, kv)
		}
		md = append(md, ostreerepo.MetaString(k, v))
	}
	var kver string
	if *bootable {
		if kver, err = ostreerepo.KernelVersion(tree); err != nil {
			return fmt.Errorf("--bootable: %w", err)
		}
	}

	// Like ostree, an existing repository keeps its mode; --mode only
	// matters when creating one (or, given explicitly, must agree).
	modeSet := false
	fs.Visit(func(f *flag.Flag) { modeSet = modeSet || f.Name == "mode" })
	var repo *ostreerepo.Repo
	if _, serr := os.Stat(filepath.Join(*repoDir, "config")); serr == nil && !modeSet {
		repo, err = ostreerepo.Open(*repoDir)
	} else {
		repo, err = ostreerepo.Create(*repoDir, mode)
	}
	if err != nil {
		return err
	}
	par := *parent
	switch par {
	case "none":
		par = ""
	case "":
		c, err := repo.ResolveRef(*branch)
		if err == nil {
			par = c
		} else if !errors.Is(err, errNotExist) {
			return err
		}
	default:
		if par, err = repo.ResolveRef(par); err != nil {
			return err
		}
	}
	root, rootMeta, err := repo.WriteDir(ctx, tree)
	if err != nil {
		return err
	}
	csum, err := repo.Commit(ctx, root, rootMeta, ostreerepo.CommitOptions{
		Parent: par, Subject: *subject, Body: *body, Timestamp: ts,
		Metadata: md, Ref: *branch, Bindings: !*noBindings, BindRefs: bindRefs, KernelVersion: kver,
	})
	if err != nil {
		return err
	}
	fmt.Fprintln(stdout, csum)
	return nil
}

var errNotExist = iofs.ErrNotExist

// commitTime picks the commit timestamp: a flag, then SOURCE_DATE_EPOCH,
// then the current time, as reproducible-builds.org asks.
func commitTime(stamp string, epoch int64) (time.Time, error) {
	switch {
	case stamp != "" && epoch >= 0:
		return time.Time{}, errors.New("give --timestamp or --timestamp-epoch, not both")
	case stamp != "":
		t, err := time.Parse(time.RFC3339, stamp)
		if err != nil {
			return time.Time{}, fmt.Errorf("--timestamp: %v", err)
		}
		return t, nil
	case epoch >= 0:
		return time.Unix(epoch, 0), nil
	}
	if s := os.Getenv("SOURCE_DATE_EPOCH"); s != "" {
		n, err := strconv.ParseInt(s, 10, 64)
		if err != nil || n < 0 {
			return time.Time{}, fmt.Errorf("SOURCE_DATE_EPOCH=%q is not a number of seconds", s)
		}
		return time.Unix(n, 0), nil
	}
	return time.Now(), nil
}
