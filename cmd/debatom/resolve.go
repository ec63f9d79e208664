package main

import (
	"context"
	"encoding/json"
	"flag"
	"fmt"
	"io"
	"os"
	"path/filepath"
	"slices"
	"strings"

	"golang.org/x/term"

	"github.com/debatom/debatom/pkg/apt"
	"github.com/debatom/debatom/pkg/compose"
	"github.com/debatom/debatom/pkg/progress"
	"github.com/debatom/debatom/pkg/resolve"
	"github.com/debatom/debatom/pkg/treefile"
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
	fs.StringVar(&r.suite, "suite", "", "`suite` or codename to build from (default: the treefile's, else "+compose.DefaultSuite+")")
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
	suite := r.suite
	if suite == "" {
		suite = compose.DefaultSuite
	}
	src := apt.Source{URL: strings.TrimRight(r.mirror, "/"), Suite: suite, Components: r.components, Keyring: r.keyring}
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

// treefileSources is where the packages of tf come from: what build
// would take (compose.Sources: the treefile's sources, else the host's
// mirror), with --mirror, --keyring and --suite over them, and --source
// appended.
func (r *repoFlags) treefileSources(tf *treefile.Treefile) ([]apt.Source, error) {
	if len(r.components) > 0 {
		return nil, fmt.Errorf("%w: --component does not apply to a treefile or variant (its sources name their components)", errUsage)
	}
	srcs, err := compose.Sources(tf, compose.SourceOverrides{Mirror: r.mirror, Keyring: r.keyring, Suite: r.suite}, r.arch, r.aptRoot)
	if err != nil {
		return nil, err
	}
	for _, e := range r.extra {
		e.Keyring, e.SignedBy = srcs[0].Keyring, srcs[0].SignedBy
		srcs = append(srcs, e)
	}
	return srcs, nil
}

// planFlags are the flags that say which packages to install.
type planFlags struct {
	variant, file       string
	include, exclude    listFlag
	recommends, jsonOut bool
}

// baselines are the mmdebstrap variants --variant takes besides the
// embedded treefile variants; the two sets of names do not overlap.
var baselines = []string{"essential", "minbase", "required", "important", "standard"}

func (p *planFlags) register(fs *flag.FlagSet) {
	fs.StringVar(&p.file, "f", "", "treefile `FILE`: resolve what 'debatom build -f FILE' would install")
	fs.StringVar(&p.variant, "variant", "", "`name` of a baseline ("+strings.Join(baselines, ", ")+
		") or of an embedded treefile variant ("+strings.Join(treefile.Variants(), ", ")+"), which resolves what 'debatom build --variant NAME' would install")
	fs.Var(&p.include, "include", "packages to install, `name[=version]`, comma-separated or repeated (with a treefile: in addition to its own)")
	fs.Var(&p.exclude, "exclude", "packages to leave out, comma-separated or repeated")
	fs.BoolVar(&p.recommends, "recommends", false, "install Recommends too")
}

// treefile returns the treefile -f or --variant name, with --include,
// --exclude, --recommends and a --variant baseline applied over it; nil
// when neither names one (a bare baseline and --include).
func (p *planFlags) treefile() (*treefile.Treefile, error) {
	isBaseline := slices.Contains(baselines, p.variant)
	if p.variant != "" && !isBaseline && !slices.Contains(treefile.Variants(), p.variant) {
		return nil, fmt.Errorf("%w: --variant %q is neither a baseline (%s) nor an embedded variant (%s)",
			errUsage, p.variant, strings.Join(baselines, ", "), strings.Join(treefile.Variants(), ", "))
	}
	var tf *treefile.Treefile
	var err error
	switch {
	case p.file != "" && p.variant != "" && !isBaseline:
		return nil, fmt.Errorf("%w: give -f FILE or --variant %s, not both", errUsage, p.variant)
	case p.file != "":
		tf, err = treefile.Load(p.file)
	case p.variant != "" && !isBaseline:
		tf, err = treefile.LoadVariant(p.variant)
	default:
		return nil, nil
	}
	if err != nil {
		return nil, err
	}
	tf = tf.Clone()
	if isBaseline {
		tf.Baseline = p.variant
	}
	tf.Packages = append(tf.Packages, p.include...)
	tf.ExcludePackages = append(tf.ExcludePackages, p.exclude...)
	if p.recommends {
		tf.Recommends = &p.recommends
	}
	return tf, nil
}

// plan resolves the request: with a treefile or embedded variant, through
// compose.Plan, so that it is exactly what build would install; else the
// baseline and --include against the index rf names. The result is the
// lock of the plan (its packages sorted by name).
func (p *planFlags) plan(ctx context.Context, rf *repoFlags, rep progress.Reporter) (*apt.Lock, error) {
	tf, err := p.treefile()
	if err != nil {
		return nil, err
	}
	if tf != nil {
		srcs, err := rf.treefileSources(tf)
		if err != nil {
			return nil, err
		}
		if tf.Ref == "" {
			tf.Ref = "resolve" // the plan does not depend on the ref
		}
		res, err := compose.Plan(ctx, compose.Options{Treefile: tf, Sources: srcs, Arch: rf.arch,
			CacheDir: rf.cache, AllowExpired: rf.allowExpired, Reporter: rep})
		if err != nil {
			return nil, err
		}
		return res.Lock, nil
	}
	// A usage error is told before the index is read.
	if p.variant == "" && len(p.include) == 0 {
		return nil, fmt.Errorf("%w: nothing to resolve: give -f FILE, --variant or --include", errUsage)
	}
	ix, err := rf.loadIndex(ctx, rep)
	if err != nil {
		return nil, err
	}
	st := progress.Start(rep, "resolve", "resolving")
	plan, err := resolve.Resolve(ctx, ix.Packages, resolve.Request{Arch: rf.arch, Baseline: p.variant,
		Include: p.include, Exclude: p.exclude, Recommends: p.recommends})
	if err != nil {
		return nil, err
	}
	st.End("%d packages", len(plan.Packages))
	return apt.NewLock(ix, plan.Packages, rf.arch), nil
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
	l, err := pf.plan(ctx, &rf, rep)
	if err != nil {
		return err
	}
	if pf.jsonOut {
		b, err := json.MarshalIndent(l.Packages, "", "  ")
		if err != nil {
			return err
		}
		_, err = fmt.Fprintf(stdout, "%s\n", b)
		return err
	}
	return printPlan(stdout, l.Packages)
}

// printPlan writes one "name version arch" line per package.
func printPlan(w io.Writer, pkgs []apt.LockedPackage) error {
	var b strings.Builder
	for _, p := range pkgs {
		b.WriteString(p.ID())
		b.WriteByte('\n')
	}
	_, err := io.WriteString(w, b.String())
	return err
}
