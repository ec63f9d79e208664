// Package compose is debatom's main job: from a treefile to a versioned,
// reproducible OSTree commit of a Debian system laid out for OSTree, with no
// maintainer script run and no root.
//
// The stages hand each other Go values and meet in the object store:
// plan (signed indexes → resolver, or a lockfile) → fetch (verified .debs in
// a content-addressed cache) → unpack (.deb → content objects + manifests,
// cached per package) → assemble (one tree, like dpkg) → configure (what the
// scripts would have done) → treefile edits → OSTree layout → depmod and the
// initramfs → commit. Nothing is extracted to a directory.
package compose

import (
	"context"
	"errors"
	"fmt"
	"io"
	"os"
	"path/filepath"
	"runtime"
	"sort"
	"strconv"
	"strings"
	"time"

	"github.com/debatom/debatom/pkg/apt"
	"github.com/debatom/debatom/pkg/assemble"
	"github.com/debatom/debatom/pkg/configure"
	"github.com/debatom/debatom/pkg/configure/ldcache"
	"github.com/debatom/debatom/pkg/configure/sysroot"
	"github.com/debatom/debatom/pkg/configure/units"
	"github.com/debatom/debatom/pkg/fstree"
	"github.com/debatom/debatom/pkg/ostreerepo"
	"github.com/debatom/debatom/pkg/progress"
	"github.com/debatom/debatom/pkg/resolve"
	"github.com/debatom/debatom/pkg/treefile"
	"github.com/debatom/debatom/pkg/unpack"
)

// Options describe one build.
type Options struct {
	Treefile *treefile.Treefile
	// Sources are the apt sources (see Sources). Unused with Offline and a
	// lockfile.
	Sources []apt.Source
	Arch    string // default "amd64"
	// OutDir receives repo/ (an archive-mode OSTree repository) and
	// debatom.lock.
	OutDir   string
	CacheDir string
	// LockFile, when it names an existing file, is installed exactly (a
	// drift from the index is an error); otherwise the plan is written
	// there.
	LockFile string
	// Offline builds from the cache alone (needs a lockfile).
	Offline bool
	// Timestamp of the commit; zero: the newest Release Date of the
	// sources, so a rebuild of the same indexes gives the same commit.
	Timestamp    time.Time
	Workers      int
	AllowExpired bool
	// RepoMode defaults to archive.
	RepoMode ostreerepo.Mode
	Reporter progress.Reporter
	// Vars are extra treefile variables (arch and variant are set).
	Vars treefile.Vars
	// NoInitramfs skips depmod and the initramfs (for tests of the other
	// stages; a commit built so does not boot).
	NoInitramfs bool
}

// StageTime is how long one stage took.
type StageTime struct {
	Stage   string        `json:"stage"`
	Elapsed time.Duration `json:"elapsed_ns"`
}

// Result summarises a build.
type Result struct {
	Ref           string      `json:"ref"`
	Commit        string      `json:"commit"`
	Version       string      `json:"version"`
	KernelVersion string      `json:"kernel_version,omitempty"`
	Packages      int         `json:"packages"`
	Files         int         `json:"files"`
	Bytes         int64       `json:"bytes"`
	RepoDir       string      `json:"repo"`
	LockFile      string      `json:"lockfile"`
	Warnings      []string    `json:"warnings,omitempty"`
	Stages        []StageTime `json:"stages"`
	// Tree is the committed tree, for callers that go on to write images.
	Tree *fstree.Tree `json:"-"`
	// Repo is the repository the commit is in.
	Repo *ostreerepo.Repo `json:"-"`
}

type builder struct {
	opts  Options
	res   *Result
	rep   progress.Reporter
	tf    *treefile.Treefile
	repo  *ostreerepo.Repo
	index *apt.Index
	plan  []*apt.Package
	lock  *apt.Lock
	debs  []string // cache paths, in plan order
	mans  []*unpack.Manifest
	tree  *fstree.Tree
	pkgs  []*configure.Package
	early earlyModules // the kernel's modules, parsed while unpacking
	// flushed receives the result of the early sync started after the
	// unpack stage; nil when none is running.
	flushed chan error
	// dryRun (Plan) writes no lockfile.
	dryRun bool
	// releasever is the value ${releasever} got ("" if unknown).
	releasever string
	// facts are the ld.so.cache facts: loaded from the cache before
	// unpacking, added to by it, used and saved by configure. factsErr
	// says why the cache's could not be used, for configure's report.
	facts    *ldcache.Facts
	factsErr error
}

// Build runs every stage. The ref is updated only when everything
// succeeded: a failed build leaves the repository's refs as they were.
func Build(ctx context.Context, opts Options) (*Result, error) {
	if opts.OutDir == "" {
		return nil, errors.New("compose: no output directory")
	}
	b, err := newBuilder(opts)
	if err != nil {
		return nil, err
	}
	defer b.early.stop() // a failed build leaves no work behind
	defer b.waitFlush()
	steps := []struct {
		name string
		run  func(context.Context, *progress.Stage) (string, error)
	}{
		{"plan", b.planStage},
		{"fetch", b.fetchStage},
		{"unpack", b.unpackStage},
		{"assemble", b.assembleStage},
		{"configure", b.configureStage},
		{"boot", b.bootStage},
		{"commit", b.commitStage},
	}
	for _, s := range steps {
		if err := b.runStage(ctx, s.name, s.run); err != nil {
			return nil, err
		}
		if s.name == "unpack" {
			b.startFlush()
		}
	}
	b.res.Tree, b.res.Repo = b.tree, b.repo
	return b.res, nil
}

// PlanResult is what a build with the same options would install and
// commit, as Plan finds it.
type PlanResult struct {
	Ref string `json:"ref"`
	// Version is the version the commit would get: the treefile's, or the
	// next automatic one after the ref's commit in OutDir's repository
	// (prefix.0 when there is none); "" when the treefile asks for none.
	Version    string `json:"version"`
	ReleaseVer string `json:"releasever,omitempty"`
	Arch       string `json:"arch"`
	// Sources and Packages are the lock the build would write.
	Sources  []apt.LockedSource  `json:"sources"`
	Packages []apt.LockedPackage `json:"packages"`
	// Lock is that lock, for callers that write it (debatom lock).
	Lock *apt.Lock `json:"-"`
}

// Plan runs Build's plan stage alone (index and resolve, or the lockfile
// check, or with Offline the lockfile as it is) and says what the build
// would make. It writes nothing: no repository, no lockfile (an absent
// opts.LockFile is not created), no ref.
func Plan(ctx context.Context, opts Options) (*PlanResult, error) {
	b, err := newBuilder(opts)
	if err != nil {
		return nil, err
	}
	b.dryRun = true
	if err := b.runStage(ctx, "plan", b.planStage); err != nil {
		return nil, err
	}
	res := &PlanResult{Ref: b.tf.Ref, ReleaseVer: b.releasever, Arch: b.opts.Arch,
		Sources: b.lock.Sources, Packages: b.lock.Packages, Lock: b.lock}
	var repo *ostreerepo.Repo
	parent := ""
	if opts.OutDir != "" {
		// Read-only: Open creates nothing, and a missing repository just
		// means the first version.
		r, err := ostreerepo.Open(filepath.Join(opts.OutDir, "repo"))
		switch {
		case err == nil:
			repo = r
			parent, _ = r.ResolveRef(b.tf.Ref)
		case !errors.Is(err, os.ErrNotExist):
			return nil, err
		}
	}
	res.Version, err = b.version(repo, parent)
	if err != nil {
		return nil, err
	}
	return res, nil
}

// newBuilder applies the defaults and checks the treefile's variables.
// They are expanded by the plan stage, once ${releasever} is known.
func newBuilder(opts Options) (*builder, error) {
	if opts.Treefile == nil {
		return nil, errors.New("compose: no treefile")
	}
	if opts.Arch == "" {
		opts.Arch = "amd64"
	}
	if opts.Workers <= 0 {
		opts.Workers = runtime.GOMAXPROCS(0)
	}
	if opts.RepoMode == 0 {
		opts.RepoMode = ostreerepo.ModeArchive
	}
	if opts.Reporter == nil {
		opts.Reporter = progress.Discard
	}
	if opts.Treefile.Ref == "" {
		return nil, errors.New("treefile: no ref")
	}
	b := &builder{opts: opts, rep: opts.Reporter, res: &Result{}}
	// A typo'd variable is told now, before any download; the value given
	// to releasever here only stands in for the one the plan stage learns.
	vars := b.vars("0")
	if err := opts.Treefile.Clone().Expand(vars); err != nil {
		return nil, fmt.Errorf("treefile: %w", err)
	}
	return b, nil
}

// vars are the treefile variables for a build of ${releasever} rv ("" when
// it is not known); Options.Vars override them.
func (b *builder) vars(rv string) treefile.Vars {
	vars := treefile.Vars{"arch": b.opts.Arch, "variant": b.opts.Treefile.Variant, "basearch": b.opts.Arch}
	if rv != "" {
		vars["releasever"] = rv
	}
	for k, v := range b.opts.Vars {
		vars[k] = v
	}
	return vars
}

// expand sets b.tf to the treefile with its variables expanded (on a copy:
// the caller's is left alone). It runs in the plan stage, after the
// sources are known and, unless offline, their Release files loaded,
// because ${releasever} may need them (see releaseVer); everything that
// reads b.tf comes after it.
func (b *builder) expand(rels []sourceRelease) error {
	rv := releaseVer(rels)
	if v, ok := b.opts.Vars["releasever"]; ok {
		rv = v
	}
	b.releasever = rv
	tf := b.opts.Treefile.Clone()
	if err := tf.Expand(b.vars(rv)); err != nil {
		var uv *treefile.UnknownVarError
		if rv == "" && errors.As(err, &uv) && uv.Name == "releasever" {
			return fmt.Errorf("treefile: ${releasever} in %q: the suites (%s) are not Debian codenames, and an offline build has no Release to ask for theirs: the lockfile does not record them (an older debatom wrote it); lock again, lock a codename suite (trixie, forky, ...) or build online", uv.In, suiteList(rels))
		}
		return fmt.Errorf("treefile: %w", err)
	}
	if tf.Ref == "" {
		return errors.New("treefile: the ref expands to nothing")
	}
	b.tf = tf
	b.res.Ref = tf.Ref
	return nil
}

// sourceRelease is what ${releasever} may be decided from for one source:
// its suite and, when its Release is known (loaded, or recorded in the
// lockfile), that Release's Codename and Version.
type sourceRelease struct {
	suite             string
	known             bool
	codename, version string
}

// indexReleases are the sources of a loaded index with their Releases.
func indexReleases(ix *apt.Index) []sourceRelease {
	var out []sourceRelease
	for _, si := range ix.Sources {
		r := sourceRelease{suite: si.Source.Suite}
		if si.Release != nil {
			r.known, r.codename, r.version = true, si.Release.Codename, si.Release.Version
		}
		out = append(out, r)
	}
	return out
}

// lockReleases are a lockfile's sources with the Releases it recorded
// (unknown for a lockfile written before they were).
func lockReleases(l *apt.Lock) []sourceRelease {
	var out []sourceRelease
	for _, s := range l.Sources {
		r := sourceRelease{suite: s.Suite}
		if s.Release != nil {
			r.known, r.codename, r.version = true, s.Release.Codename, s.Release.Version
		}
		out = append(out, r)
	}
	return out
}

// releaseVer decides ${releasever}, the Debian major version being built.
// The suite names settle it whenever one is a codename (the default
// trixie, --suite forky, trixie-updates), which needs no Release. An alias
// (stable, testing, unstable) or an unknown codename needs its Release's
// Codename or Version: the loaded index has them, and so does a lockfile,
// which records them so that an offline build from it gets the same value
// as the online build it repeats. When no source's Release is known it is
// "". Sources come in order of precedence: the first that knows decides.
func releaseVer(sources []sourceRelease) string {
	for _, s := range sources {
		if v, ok := treefile.ReleaseVerOfSuite(s.suite); ok {
			return v
		}
	}
	var rels []sourceRelease
	for _, s := range sources {
		if s.known {
			rels = append(rels, s)
		}
	}
	// A Release whose Codename is known or whose Version is a number
	// beats one that only names itself (a third-party suite, say).
	for _, r := range rels {
		if v, ok := treefile.ReleaseVerOfSuite(r.codename); ok {
			return v
		}
	}
	for _, r := range rels {
		v := treefile.ReleaseVer(r.suite, r.codename, r.version)
		if v != r.codename && v != r.suite {
			return v
		}
	}
	if len(rels) > 0 {
		r := rels[0]
		return treefile.ReleaseVer(r.suite, r.codename, r.version)
	}
	return ""
}

func suiteList(sources []sourceRelease) string {
	var out []string
	for _, s := range sources {
		out = append(out, s.suite)
	}
	return strings.Join(out, ", ")
}

// runStage runs one stage with its progress and records its time.
func (b *builder) runStage(ctx context.Context, name string, run func(context.Context, *progress.Stage) (string, error)) error {
	if err := ctx.Err(); err != nil {
		return err
	}
	st := progress.Start(b.rep, name, "")
	summary, err := run(ctx, st)
	if err != nil {
		return fmt.Errorf("%s: %w", name, err)
	}
	d := st.End("%s", summary)
	b.res.Stages = append(b.res.Stages, StageTime{name, d})
	return nil
}

func (b *builder) planStage(ctx context.Context, st *progress.Stage) (string, error) {
	lockPath := b.opts.LockFile
	var existing *apt.Lock
	if lockPath != "" {
		l, err := apt.ReadLock(lockPath)
		switch {
		case err == nil:
			existing = l
		case !errors.Is(err, os.ErrNotExist):
			return "", err
		}
	}
	if b.opts.Offline {
		if existing == nil {
			return "", errors.New("--offline needs --lock FILE naming an existing lockfile")
		}
		b.lock = existing
		if err := b.expand(lockReleases(existing)); err != nil {
			return "", err
		}
		return fmt.Sprintf("%d packages from %s (offline)", len(existing.Packages), lockPath), nil
	}
	sources := b.opts.Sources
	if existing != nil && len(sources) == 0 {
		sources = existing.SourceList()
	}
	if len(sources) == 0 {
		return "", errors.New("no apt sources")
	}
	ix, err := apt.LoadIndex(ctx, sources, apt.Options{
		CacheDir:     b.opts.CacheDir,
		Arch:         b.opts.Arch,
		AllowExpired: b.opts.AllowExpired,
		Progress: func(p apt.Progress) {
			if p.Total > 0 {
				st.Progress(p.Done, p.Total, "bytes")
			}
		},
	})
	if err != nil {
		return "", err
	}
	b.index = ix
	if err := b.expand(indexReleases(ix)); err != nil {
		return "", err
	}
	if existing != nil {
		pkgs, err := existing.Check(ix)
		if err != nil {
			return "", fmt.Errorf("lockfile %s: %w", lockPath, err)
		}
		if err := resolve.Check(pkgs, b.opts.Arch); err != nil {
			return "", fmt.Errorf("lockfile %s: %w", lockPath, err)
		}
		b.plan, b.lock = pkgs, existing
		return fmt.Sprintf("%d packages from %s", len(pkgs), lockPath), nil
	}
	req := resolve.Request{
		Arch:       b.opts.Arch,
		Baseline:   b.tf.Baseline,
		Include:    b.tf.Request(),
		Exclude:    b.tf.ExcludePackages,
		Recommends: b.tf.Recommends != nil && *b.tf.Recommends,
	}
	plan, err := resolve.Resolve(ctx, ix.Packages, req)
	if err != nil {
		return "", err
	}
	b.plan = plan.Packages
	b.lock = apt.NewLock(ix, plan.Packages, b.opts.Arch)
	if lockPath != "" && !b.dryRun {
		if err := b.lock.WriteFile(lockPath); err != nil {
			return "", err
		}
	}
	return fmt.Sprintf("%d packages resolved from %d sources", len(b.plan), len(sources)), nil
}

func (b *builder) fetchStage(ctx context.Context, st *progress.Stage) (string, error) {
	items, err := b.lock.Items()
	if err != nil {
		return "", err
	}
	f := &apt.Fetcher{
		CacheDir: b.opts.CacheDir,
		Offline:  b.opts.Offline,
		Progress: func(p apt.Progress) { st.Progress(p.Done, p.Total, "bytes") },
	}
	paths, err := f.Fetch(ctx, items)
	if err != nil {
		return "", err
	}
	b.debs = paths
	var total int64
	for _, it := range items {
		total += it.Size
	}
	return fmt.Sprintf("%d packages, %s verified", len(paths), progress.Bytes(total)), nil
}

func (b *builder) unpackStage(ctx context.Context, st *progress.Stage) (string, error) {
	if err := os.MkdirAll(b.opts.OutDir, 0o755); err != nil {
		return "", err
	}
	repo, err := ostreerepo.Create(filepath.Join(b.opts.OutDir, "repo"), b.opts.RepoMode)
	if err != nil {
		return "", err
	}
	b.repo = repo
	b.res.RepoDir = repo.Dir()
	cacheDir := ""
	if b.opts.CacheDir != "" {
		cacheDir = b.opts.CacheDir
	}
	// The shared libraries' sonames are taken as they pass through
	// memory here; otherwise configure would inflate each from the
	// repository again just to read its dynamic section.
	b.facts = ldcache.NewFacts()
	if cacheDir != "" {
		b.facts, b.factsErr = ldcache.LoadFacts(filepath.Join(cacheDir, configure.FactsFile))
	}
	uopts := unpack.Options{Workers: b.opts.Workers, CacheDir: cacheDir,
		Observe:  ldcache.Candidate,
		Observed: func(_, object string, data []byte) { b.facts.Observe(object, data) },
	}
	if !b.opts.NoInitramfs {
		uopts.Done = func(_ int, r *unpack.Result) {
			// A cached package means a rebuild, whose boot stage is
			// most likely cached too: parse nothing ahead then.
			if !r.Cached {
				b.early.start(ctx, repo, r.Manifest)
			}
		}
	}
	u := unpack.New(repo, uopts)
	inputs := make([]unpack.Input, len(b.debs))
	for i, p := range b.debs {
		inputs[i] = unpack.Input{Path: p, SHA256: b.lock.Packages[i].SHA256}
	}
	results, err := u.UnpackAll(ctx, inputs)
	if err != nil {
		return "", err
	}
	cached := 0
	var bytes int64
	for _, r := range results {
		b.mans = append(b.mans, r.Manifest)
		bytes += r.Manifest.Bytes
		if r.Cached {
			cached++
		}
	}
	b.res.Bytes = bytes
	return fmt.Sprintf("%d packages (%d cached), %s", len(results), cached, progress.Bytes(bytes)), nil
}

func (b *builder) assembleStage(ctx context.Context, st *progress.Stage) (string, error) {
	byName := map[string]*unpack.Manifest{}
	for _, m := range b.mans {
		byName[m.Package.Name] = m
		b.pkgs = append(b.pkgs, configure.PackageFromManifest(m))
	}
	// Unpack in the order dpkg would configure: the Essential set first,
	// as mmdebstrap does, which decides who wins a Replaces.
	var order []assemble.Package
	for _, p := range sysroot.ConfigureOrder(b.pkgs) {
		m := byName[p.Name]
		items := make([]assemble.Item, len(m.Entries))
		for i := range m.Entries {
			e := m.Entries[i].Entry
			items[i] = assemble.Item{Path: m.Entries[i].Path, Entry: &e}
		}
		order = append(order, assemble.Package{Name: p.Name, Items: items})
	}
	replaces := replacesFunc(b.mans)
	res, err := assemble.Assemble(order, replaces)
	if err != nil {
		return "", err
	}
	b.tree = res.Tree
	b.res.Packages = len(b.mans)
	return fmt.Sprintf("%d paths from %d packages", b.tree.Len(), len(b.mans)), nil
}

// replacesFunc answers "does newer Replace older" from the packages'
// Replaces fields, version relations included.
func replacesFunc(mans []*unpack.Manifest) assemble.ReplacesFunc {
	version := map[string]string{}
	rel := map[string][]resolve.Group{}
	for _, m := range mans {
		version[m.Package.Name] = m.Package.Version
		if g, err := resolve.ParseRelations(m.Package.Control.Get("Replaces")); err == nil {
			rel[m.Package.Name] = g
		}
	}
	return func(newer, older string) bool {
		for _, g := range rel[newer] {
			for _, r := range g {
				if r.Name == older && r.Satisfies(version[older]) {
					return true
				}
			}
		}
		return false
	}
}

// contents reads payloads from the repository.
type contents struct{ repo *ostreerepo.Repo }

func (c contents) Open(p string, e *fstree.Entry) (io.ReadCloser, error) {
	if e.Data != nil || e.Object == "" {
		return io.NopCloser(strings.NewReader(string(e.Data))), nil
	}
	rc, _, err := c.repo.OpenFile(e.Object)
	if err != nil {
		return nil, fmt.Errorf("%s: %w", p, err)
	}
	return rc, nil
}

func (b *builder) configureStage(ctx context.Context, st *progress.Stage) (string, error) {
	c := contents{b.repo}
	opts := configure.Options{
		Users:  users(b.tf.Users),
		Groups: groups(b.tf.Groups),
		Units: units.Options{
			Enable:        b.tf.Units.Enable,
			Disable:       b.tf.Units.Disable,
			Mask:          b.tf.Units.Mask,
			DefaultTarget: b.tf.DefaultTarget,
		},
		Now:      b.timestamp(),
		CacheDir: b.opts.CacheDir,
		Facts:    b.facts,
	}
	report, err := configure.Configure(ctx, b.tree, c, b.pkgs, opts)
	if err != nil {
		return "", err
	}
	if b.factsErr != nil {
		// Not trusted, not fatal: the libraries were read afresh.
		report.Notef("%v; reading libraries afresh", b.factsErr)
	}
	for _, w := range report.Warnings {
		st.Warn("%s", w.String())
		b.res.Warnings = append(b.res.Warnings, w.String())
	}
	root := sysroot.New(b.tree, c, b.pkgs)
	root.Report = report
	if err := applyTreefile(root, b.tf); err != nil {
		return "", err
	}
	kver, err := layout(root)
	if err != nil {
		return "", err
	}
	b.res.KernelVersion = kver
	return fmt.Sprintf("%d actions, %d warnings", len(report.Done), len(report.Warnings)), nil
}

func (b *builder) timestamp() time.Time {
	if !b.opts.Timestamp.IsZero() {
		return b.opts.Timestamp.UTC()
	}
	var newest time.Time
	switch {
	case b.index != nil:
		for _, s := range b.index.Sources {
			if s.Release != nil && s.Release.Date.After(newest) {
				newest = s.Release.Date
			}
		}
	case b.lock != nil:
		// Offline: the lock recorded the same Dates, so the offline
		// rebuild of a lock makes the commit its online build made.
		for _, s := range b.lock.Sources {
			if d := s.ReleaseDate(); d.After(newest) {
				newest = d
			}
		}
	}
	return newest.UTC()
}

// startFlush writes the unpacked objects out to disk while the later
// stages use the CPU, so that the sync that must precede moving the ref
// has little left to wait for. Its error is not needed: that final sync
// reports any.
func (b *builder) startFlush() {
	ch := make(chan error, 1)
	b.flushed = ch
	go func() { ch <- b.repo.Sync() }()
}

func (b *builder) waitFlush() {
	if b.flushed != nil {
		<-b.flushed
		b.flushed = nil
	}
}

func (b *builder) commitStage(ctx context.Context, st *progress.Stage) (string, error) {
	files := 0
	b.tree.Walk(func(p string, e *fstree.Entry) error {
		if e.Kind == fstree.File {
			files++
		}
		return nil
	})
	b.res.Files = files
	root, rootMeta, err := b.repo.WriteTree(ctx, b.tree)
	if err != nil {
		return "", err
	}
	parent, _ := b.repo.ResolveRef(b.tf.Ref)
	version, err := b.version(b.repo, parent)
	if err != nil {
		return "", err
	}
	b.res.Version = version
	md := []ostreerepo.MetaItem{ostreerepo.MetaString("version", version)}
	keys := make([]string, 0, len(b.tf.Metadata))
	for k := range b.tf.Metadata {
		keys = append(keys, k)
	}
	sort.Strings(keys)
	for _, k := range keys {
		md = append(md, ostreerepo.MetaString(k, b.tf.Metadata[k]))
	}
	md = append(md, ostreerepo.MetaString("debatom.variant", b.tf.Variant))
	ts := b.timestamp()
	csum, err := b.repo.Commit(ctx, root, rootMeta, ostreerepo.CommitOptions{
		Parent:        parent,
		Subject:       fmt.Sprintf("%s %s", b.tf.Ref, version),
		Timestamp:     ts,
		Metadata:      md,
		Bindings:      true,
		Ref:           b.tf.Ref,
		KernelVersion: b.res.KernelVersion,
	})
	if err != nil {
		return "", err
	}
	b.res.Commit = csum
	if err := b.repo.UpdateSummary(); err != nil {
		return "", err
	}
	lockOut := filepath.Join(b.opts.OutDir, "debatom.lock")
	if err := b.lock.WriteFile(lockOut); err != nil {
		return "", err
	}
	b.res.LockFile = lockOut
	return fmt.Sprintf("%s → %.12s (version %s)", b.tf.Ref, csum, version), nil
}

// version is the treefile's version, or the automatic one: prefix.N, one
// more than the parent commit's N (in repo) under the same prefix.
func (b *builder) version(repo *ostreerepo.Repo, parent string) (string, error) {
	if b.tf.Version != "" {
		return b.tf.Version, nil
	}
	prefix := b.tf.AutomaticVersionPrefix
	if prefix == "" {
		return "", nil
	}
	n := 0
	if parent != "" && repo != nil {
		c, err := repo.ReadCommit(parent)
		if err != nil {
			return "", fmt.Errorf("reading parent commit %s: %w", parent, err)
		}
		v, _ := c.Lookup("version")
		pv, _ := v.Value.(string)
		if last, ok := strings.CutPrefix(pv, prefix+"."); ok {
			if v, err := strconv.Atoi(last); err == nil {
				n = v + 1
			}
		}
	}
	return fmt.Sprintf("%s.%d", prefix, n), nil
}
