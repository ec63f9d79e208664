package main

import (
	"context"
	"encoding/json"
	"flag"
	"fmt"
	"io"
	"os"
	"path/filepath"
	"strings"

	"golang.org/x/term"

	"github.com/debatom/debatom/pkg/apt"
	"github.com/debatom/debatom/pkg/progress"
	"github.com/debatom/debatom/pkg/resolve"
)

// listFlag collects a repeatable flag; each use may also hold a
// comma-separated list.
type listFlag []string

func (l *listFlag) String() string { return strings.Join(*l, ",") }
func (l *listFlag) Set(v string) error {
	for _, s := range strings.Split(v, ",") {
		if s = strings.TrimSpace(s); s != "" {
			*l = append(*l, s)
		}
	}
	return nil
}

// repoFlags are the flags that say where packages come from, shared by
// resolve, lock, fetch and mirror.
type repoFlags struct {
	mirror, suite, keyring, arch, cache, aptRoot string
	components                                   listFlag
	extra                                        sourceFlag
	allowExpired                                 bool
}

// sourceFlag collects --source "URL SUITE [COMPONENT...]".
type sourceFlag []apt.Source

func (s *sourceFlag) String() string { return fmt.Sprint(len(*s), " sources") }
func (s *sourceFlag) Set(v string) error {
	f := strings.Fields(v)
	if len(f) < 2 {
		return fmt.Errorf("want \"URL SUITE [COMPONENT...]\", got %q", v)
	}
	src := apt.Source{URL: strings.TrimRight(f[0], "/"), Suite: f[1], Components: f[2:]}
	if len(src.Components) == 0 {
		src.Components = []string{"main"}
	}
	*s = append(*s, src)
	return nil
}

func (r *repoFlags) register(fs *flag.FlagSet) {
	fs.StringVar(&r.mirror, "mirror", "", "mirror `URL` (http://, https:// or file://); default: the first Debian source of the host's apt configuration")
	fs.StringVar(&r.suite, "suite", "trixie", "`suite` or codename to build from")
	fs.StringVar(&r.keyring, "keyring", "", "keyring `FILE` trusted to sign the suite; default: the host source's Signed-By")
	fs.Var(&r.components, "component", "archive `component` to read (repeatable; default main)")
	fs.StringVar(&r.arch, "arch", "amd64", "build `architecture`")
	fs.StringVar(&r.cache, "cache", defaultCacheDir(), "cache `DIR` for indexes and packages")
	fs.StringVar(&r.aptRoot, "apt-root", "/", "read the host's apt configuration under `DIR`")
	fs.Var(&r.extra, "source", "another source, `\"URL SUITE [COMPONENT...]\"`, signed by the same keyring (repeatable; e.g. trixie-updates)")
	fs.BoolVar(&r.allowExpired, "allow-expired", false, "accept a Release past its Valid-Until date")
}

// defaultCacheDir is $XDG_CACHE_HOME/debatom, else ~/.cache/debatom.
func defaultCacheDir() string {
	if d := os.Getenv("XDG_CACHE_HOME"); d != "" {
		return filepath.Join(d, "debatom")
	}
	if h, err := os.UserHomeDir(); err == nil {
		return filepath.Join(h, ".cache", "debatom")
	}
	return ".debatom-cache"
}

// sources builds the source list from the flags, filling what they leave
// out from the host's apt configuration. The host names its own suite
// (bookworm, say); only its mirror URL and key are taken.
func (r *repoFlags) sources() ([]apt.Source, error) {
	src := apt.Source{URL: strings.TrimRight(r.mirror, "/"), Suite: r.suite, Components: r.components, Keyring: r.keyring}
	if len(src.Components) == 0 {
		src.Components = []string{"main"}
	}
	if src.URL == "" || src.Keyring == "" {
		found, _, err := apt.ReadHostMirror(r.aptRoot)
		if err != nil {
			return nil, err
		}
		switch {
		case found == nil && src.URL == "":
			return nil, fmt.Errorf("%w: no mirror given and no Debian source in %s: pass --mirror URL and --keyring FILE",
				errUsage, filepath.Join(r.aptRoot, "etc/apt"))
		case found == nil:
			return nil, fmt.Errorf("%w: no keyring given for %s: pass --keyring FILE (e.g. /usr/share/keyrings/debian-archive-keyring.gpg)", errUsage, src.URL)
		}
		if src.URL == "" {
			src.URL = found.URL
		}
		if src.Keyring == "" {
			src.Keyring, src.SignedBy = found.Keyring, found.SignedBy
		}
		if src.Keyring == "" && src.SignedBy == "" {
			return nil, fmt.Errorf("%w: the host's source %s names no Signed-By keyring: pass --keyring FILE", errUsage, found.URL)
		}
	}
	out := []apt.Source{src}
	for _, e := range r.extra {
		e.Keyring, e.SignedBy = src.Keyring, src.SignedBy
		out = append(out, e)
	}
	return out, nil
}

func (r *repoFlags) options() apt.Options {
	return apt.Options{CacheDir: r.cache, Arch: r.arch, AllowExpired: r.allowExpired}
}

// loadIndex loads the verified index for the flags, reporting progress.
func (r *repoFlags) loadIndex(ctx context.Context, rep progress.Reporter) (*apt.Index, error) {
	srcs, err := r.sources()
	if err != nil {
		return nil, err
	}
	st := progress.Start(rep, "index", "verifying and reading "+srcs[0].String())
	ix, err := apt.LoadIndex(ctx, srcs, r.options())
	if err != nil {
		return nil, err
	}
	st.End("%d packages from %d source(s)", len(ix.Packages), len(ix.Sources))
	return ix, nil
}

// planFlags are the flags that say which packages to install.
type planFlags struct {
	variant             string
	include, exclude    listFlag
	recommends, jsonOut bool
}

func (p *planFlags) register(fs *flag.FlagSet) {
	fs.StringVar(&p.variant, "variant", "", "baseline: essential, minbase, required, important or standard (default: only --include)")
	fs.Var(&p.include, "include", "packages to install, `name[=version]`, comma-separated or repeated")
	fs.Var(&p.exclude, "exclude", "packages to leave out, comma-separated or repeated")
	fs.BoolVar(&p.recommends, "recommends", false, "install Recommends too")
}

// plan loads the index rf names and resolves the request against it.
func (p *planFlags) plan(ctx context.Context, rf *repoFlags, rep progress.Reporter) (*apt.Index, *resolve.Plan, error) {
	// A usage error is told before the index is read.
	if p.variant == "" && len(p.include) == 0 {
		return nil, nil, fmt.Errorf("%w: nothing to resolve: give --variant or --include", errUsage)
	}
	ix, err := rf.loadIndex(ctx, rep)
	if err != nil {
		return nil, nil, err
	}
	st := progress.Start(rep, "resolve", "resolving")
	plan, err := resolve.Resolve(ctx, ix.Packages, resolve.Request{Arch: rf.arch, Baseline: p.variant,
		Include: p.include, Exclude: p.exclude, Recommends: p.recommends})
	if err != nil {
		return nil, nil, err
	}
	st.End("%d packages", len(plan.Packages))
	return ix, plan, nil
}

// reporter shows progress on stderr when it is a terminal, else nothing.
func reporter(stderr io.Writer) progress.Reporter {
	if f, ok := stderr.(*os.File); ok && term.IsTerminal(int(f.Fd())) {
		return progress.Terminal(stderr)
	}
	return progress.Discard
}

func runResolve(ctx context.Context, args []string, stdout, stderr io.Writer) error {
	fs := newFlagSet("resolve", stderr)
	var rf repoFlags
	var pf planFlags
	rf.register(fs)
	pf.register(fs)
	fs.BoolVar(&pf.jsonOut, "json", false, "print the plan as JSON")
	if err := parseFlags(fs, args); err != nil {
		return err
	}
	if fs.NArg() > 0 {
		return fmt.Errorf("%w: unexpected argument %q", errUsage, fs.Arg(0))
	}
	rep := reporter(stderr)
	ix, plan, err := pf.plan(ctx, &rf, rep)
	if err != nil {
		return err
	}
	if pf.jsonOut {
		l := apt.NewLock(ix, plan.Packages, rf.arch)
		b, err := json.MarshalIndent(l.Packages, "", "  ")
		if err != nil {
			return err
		}
		_, err = fmt.Fprintf(stdout, "%s\n", b)
		return err
	}
	var b strings.Builder
	for _, p := range plan.Packages {
		b.WriteString(p.ID())
		b.WriteByte('\n')
	}
	_, err = io.WriteString(stdout, b.String())
	return err
}
