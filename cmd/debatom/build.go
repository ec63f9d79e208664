package main

import (
	"context"
	"encoding/json"
	"fmt"
	"io"
	"os"
	"path/filepath"
	"strconv"
	"time"

	"github.com/debatom/debatom/pkg/compose"
	"github.com/debatom/debatom/pkg/ostreerepo"
	"github.com/debatom/debatom/pkg/progress"
	"github.com/debatom/debatom/pkg/treefile"
)

func runBuild(ctx context.Context, args []string, stdout, stderr io.Writer) error {
	fs := newFlagSet("build", stderr)
	var (
		file, variant, out, mirror, keyring, suite, lock, cache, arch, aptRoot, stamp, mode string
		offline, jsonOut, quiet, allowExpired, noInitramfs, listVariants, dryRun            bool
		workers                                                                             int
	)
	fs.StringVar(&file, "f", "", "treefile `FILE` (default: the embedded variant named by --variant)")
	fs.StringVar(&variant, "variant", "base", "embedded `variant` to build: "+fmt.Sprint(treefile.Variants()))
	fs.StringVar(&out, "o", "debatom-out", "output `DIR`: repo/ (OSTree, archive mode) and debatom.lock")
	fs.StringVar(&mirror, "mirror", "", "mirror `URL`, overriding the treefile and the host's apt sources")
	fs.StringVar(&keyring, "keyring", "", "keyring `FILE` trusted to sign the mirror")
	fs.StringVar(&suite, "suite", "", "suite(s), comma-separated (default: the treefile's, else trixie)")
	fs.StringVar(&lock, "lock", "", "lockfile `FILE`: installed exactly if it exists, written otherwise")
	fs.StringVar(&cache, "cache", defaultCacheDir(), "cache `DIR` for indexes, packages and unpacked manifests")
	fs.StringVar(&arch, "arch", "amd64", "target `architecture`")
	fs.StringVar(&aptRoot, "apt-root", "/", "read the host's apt configuration under `DIR`")
	fs.StringVar(&stamp, "timestamp", "", "commit time, RFC 3339 (default: $SOURCE_DATE_EPOCH, else the newest Release date)")
	fs.StringVar(&mode, "mode", "archive", "repository mode: archive, bare-user or bare")
	fs.BoolVar(&offline, "offline", false, "build from the cache alone (needs --lock)")
	fs.BoolVar(&jsonOut, "json", false, "print machine-readable events and the summary as JSON lines")
	fs.BoolVar(&quiet, "quiet", false, "print only the commit checksum")
	fs.BoolVar(&allowExpired, "allow-expired", false, "accept a Release past its Valid-Until (archived snapshots)")
	fs.BoolVar(&noInitramfs, "no-initramfs", false, "skip depmod and the initramfs (the commit will not boot)")
	fs.BoolVar(&listVariants, "list-variants", false, "print the embedded variants and exit")
	fs.BoolVar(&dryRun, "dry-run", false, "plan only: print the ref, the version and the packages (name version arch) the build would make, and write nothing to -o (with --json: the plan as JSON)")
	fs.IntVar(&workers, "workers", 0, "packages unpacked at once (default: one per core)")
	var format string
	var disk diskFlags
	fs.StringVar(&format, "format", "ostree", "outputs, comma-separated: ostree (always), raw (OUT/disk.raw), qcow2 (OUT/disk.qcow2), oci (OUT/oci, a layout), oci-archive (OUT/oci.tar)")
	disk.register(fs)
	ociOptions := ociFlags(fs)
	var cpuProfile, memProfile string
	fs.StringVar(&cpuProfile, "cpuprofile", "", "write a CPU profile of the build to `FILE` (go tool pprof)")
	fs.StringVar(&memProfile, "memprofile", "", "write a heap profile at the end of the build to `FILE`")
	if err := parseFlags(fs, args); err != nil {
		return err
	}
	stopProfile, err := startProfiles(cpuProfile, memProfile)
	if err != nil {
		return err
	}
	defer stopProfile()
	if listVariants {
		for _, v := range treefile.Variants() {
			fmt.Fprintln(stdout, v)
		}
		return nil
	}
	if fs.NArg() > 0 {
		return fmt.Errorf("%w: unexpected argument %q (a treefile is given with -f)", errUsage, fs.Arg(0))
	}
	var tf *treefile.Treefile
	if file != "" {
		tf, err = treefile.Load(file)
	} else {
		tf, err = treefile.LoadVariant(variant)
	}
	if err != nil {
		return err
	}
	formats, err := parseFormats(format)
	if err != nil {
		return err
	}
	if err := disk.check(); err != nil {
		return err
	}
	ociOpts, err := ociOptions()
	if err != nil {
		return err
	}
	ts, err := buildTime(stamp)
	if err != nil {
		return err
	}
	repoMode, err := ostreerepo.ParseMode(mode)
	if err != nil {
		return fmt.Errorf("%w: %v", errUsage, err)
	}
	opts := compose.Options{
		Treefile:     tf,
		Arch:         arch,
		OutDir:       out,
		CacheDir:     cache,
		LockFile:     lock,
		Offline:      offline,
		Timestamp:    ts,
		Workers:      workers,
		AllowExpired: allowExpired,
		RepoMode:     repoMode,
		NoInitramfs:  noInitramfs,
	}
	if !offline {
		opts.Sources, err = compose.Sources(tf, compose.SourceOverrides{Mirror: mirror, Keyring: keyring, Suite: suite}, arch, aptRoot)
		if err != nil {
			return err
		}
	}
	if dryRun {
		return printDryRun(ctx, opts, stdout, stderr, jsonOut, quiet)
	}
	switch {
	case jsonOut:
		opts.Reporter = progress.JSON(stdout)
	case quiet:
		opts.Reporter = progress.Discard
	default:
		opts.Reporter = reporter(stderr)
	}
	start := time.Now()
	res, err := compose.Build(ctx, opts)
	if err != nil {
		return err
	}
	diskOut := stdout
	if jsonOut || quiet {
		diskOut = io.Discard
	}
	if err := writeDisks(ctx, res.Repo, res.Ref, res.Commit, out, formats, &disk, diskOut); err != nil {
		return err
	}
	for _, f := range []struct{ format, name string }{{"oci", "oci"}, {"oci-archive", "oci.tar"}} {
		if !formats[f.format] {
			continue
		}
		p := filepath.Join(out, f.name)
		if err := writeOCI(ctx, res, p, f.format, ociOpts); err != nil {
			return err
		}
		fmt.Fprintf(diskOut, "%-9s %s\n", f.format, p)
	}
	switch {
	case jsonOut:
		b, _ := json.Marshal(struct {
			Kind string `json:"kind"`
			*compose.Result
			Seconds float64 `json:"elapsed_seconds"`
		}{"summary", res, time.Since(start).Seconds()})
		fmt.Fprintf(stdout, "%s\n", b)
	case quiet:
		fmt.Fprintln(stdout, res.Commit)
	default:
		abs, _ := filepath.Abs(res.RepoDir)
		fmt.Fprintf(stdout, "ref       %s\ncommit    %s\nversion   %s\nkernel    %s\npackages  %d\nfiles     %d (%s)\nrepo      %s\nlockfile  %s\n",
			res.Ref, res.Commit, res.Version, orNone(res.KernelVersion), res.Packages, res.Files, progress.Bytes(res.Bytes), abs, res.LockFile)
		for _, s := range res.Stages {
			fmt.Fprintf(stdout, "  %-10s %7.2fs\n", s.Stage, s.Elapsed.Seconds())
		}
		fmt.Fprintf(stdout, "  %-10s %7.2fs\n", "total", time.Since(start).Seconds())
		if n := len(res.Warnings); n > 0 {
			fmt.Fprintf(stdout, "%d warnings (see --json for all)\n", n)
		}
	}
	return nil
}

// printDryRun runs the plan stage alone (compose.Plan) and prints what the
// build would make. Progress goes to a terminal on stderr only, so that
// stdout holds just the plan: a header and one "name version arch" line per
// package, those lines alone with --quiet, or one JSON object with --json.
func printDryRun(ctx context.Context, opts compose.Options, stdout, stderr io.Writer, jsonOut, quiet bool) error {
	opts.Reporter = reporter(stderr)
	p, err := compose.Plan(ctx, opts)
	if err != nil {
		return err
	}
	switch {
	case jsonOut:
		b, err := json.MarshalIndent(p, "", "  ")
		if err != nil {
			return err
		}
		_, err = fmt.Fprintf(stdout, "%s\n", b)
		return err
	case !quiet:
		fmt.Fprintf(stdout, "ref       %s\nversion   %s\npackages  %d\n\n", p.Ref, orNone(p.Version), len(p.Packages))
	}
	return printPlan(stdout, p.Packages)
}

func orNone(s string) string {
	if s == "" {
		return "(none)"
	}
	return s
}

// buildTime is --timestamp, else SOURCE_DATE_EPOCH, else zero (the build
// then takes the newest Release date, which keeps rebuilds reproducible).
func buildTime(stamp string) (time.Time, error) {
	if stamp != "" {
		t, err := time.Parse(time.RFC3339, stamp)
		if err != nil {
			return time.Time{}, fmt.Errorf("%w: --timestamp %q is not RFC 3339", errUsage, stamp)
		}
		return t, nil
	}
	if s := os.Getenv("SOURCE_DATE_EPOCH"); s != "" {
		n, err := strconv.ParseInt(s, 10, 64)
		if err != nil {
			return time.Time{}, fmt.Errorf("SOURCE_DATE_EPOCH=%q is not a number of seconds", s)
		}
		return time.Unix(n, 0).UTC(), nil
	}
	return time.Time{}, nil
}
