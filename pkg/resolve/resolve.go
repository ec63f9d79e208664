// Package resolve turns a request (a baseline like mmdebstrap's variants,
// plus packages to include or exclude) into the exact set of packages apt
// would install, given the parsed Packages index.
//
// "Exact" is the point: the plan must match, package for package and
// version for version, what `mmdebstrap --variant=... --include=...`
// installs. So the resolver does not search for some valid solution; it
// replays the decisions of apt's pkgDepCache::MarkInstall (the "internal"
// solver of apt 2.x/3.0): depth-first, dependencies in field order, the
// first alternative whose candidate can be installed, virtual packages
// ordered by apt's CompareProviders, and requested packages processed in
// apt's cache order. Like mmdebstrap it installs the Essential set first and
// then the rest on top of it, which changes some choices (a dependency that
// an installed Essential package already provides is not installed again).
package resolve

import (
	"context"
	"errors"
	"fmt"
	"slices"
	"strings"

	"github.com/debatom/debatom/pkg/apt"
	"github.com/debatom/debatom/pkg/debversion"
)

// Request says what to install.
type Request struct {
	Arch string // native architecture, e.g. "amd64"
	// Baseline is "", "essential", "minbase" (= "required"), "required",
	// "important" or "standard", with mmdebstrap's meaning.
	Baseline string
	// Include lists packages to install on top of the baseline, as "name"
	// or "name=version".
	Include []string
	// Exclude lists packages that must not be installed; a plan that would
	// need one fails.
	Exclude []string
	// Recommends makes Recommends count as apt does with
	// APT::Install-Recommends=true (installed when installable).
	Recommends bool
}

// Plan is the resolved set of packages.
type Plan struct {
	Packages []*apt.Package // sorted by name
}

// baselinePriorities gives the priorities a baseline installs after the
// Essential set (mmdebstrap's run_install patterns).
func baselinePriorities(b string) ([]string, bool) {
	switch b {
	case "essential":
		return nil, true
	case "minbase", "required":
		return []string{"required"}, true
	case "important":
		return []string{"required", "important"}, true
	case "standard":
		return []string{"required", "important", "standard"}, true
	}
	return nil, false
}

// Resolve computes the plan for req from the packages of one or more
// Packages indexes.
func Resolve(ctx context.Context, pkgs []*apt.Package, req Request) (*Plan, error) {
	if req.Arch == "" {
		return nil, errors.New("resolve: no architecture given")
	}
	prios, ok := baselinePriorities(req.Baseline)
	if !ok && req.Baseline != "" {
		return nil, fmt.Errorf("resolve: unknown baseline %q (want essential, minbase, required, important or standard)", req.Baseline)
	}
	r, err := newResolver(ctx, pkgs, req)
	if err != nil {
		return nil, err
	}
	includes, err := r.includes(req.Include)
	if err != nil {
		return nil, err
	}

	// Both phases order the packages their patterns match by apt's cache
	// IDs; one scan of the index finds them all.
	var patterned []string
	for _, p := range r.patterned {
		patterned = append(patterned, p.Name)
	}
	if req.Baseline != "" {
		r.ids.find(patterned)
	}

	if req.Baseline != "" {
		// Phase 1: `apt-get install ?essential` on an empty system.
		ess := r.inCacheOrder(func(p *apt.Package) bool { return p.Essential })
		if err := r.aptInstall(ess); err != nil {
			return nil, fmt.Errorf("resolve: essential set: %w", err)
		}
		// mmdebstrap installs those with dpkg before running apt again.
		r.installed, r.marked = r.marked, map[string]*node{}
		r.provided, r.neg = map[string][]provision{}, map[string][]negRel{}
		for _, n := range r.installed {
			r.index(n)
		}
	}

	// Phase 2: the includes, then the priority pattern in cache order.
	todo := includes
	if len(prios) > 0 {
		todo = append(todo, r.inCacheOrder(func(p *apt.Package) bool {
			return !p.Essential && slices.Contains(prios, p.Priority)
		})...)
	}
	if err := r.aptInstall(todo); err != nil {
		return nil, fmt.Errorf("resolve: %w", err)
	}

	plan := &Plan{}
	for name, n := range r.installed {
		if r.marked[name] == nil {
			plan.Packages = append(plan.Packages, n.pkg)
		}
	}
	for _, n := range r.marked {
		plan.Packages = append(plan.Packages, n.pkg)
	}
	slices.SortFunc(plan.Packages, func(a, b *apt.Package) int { return strings.Compare(a.Name, b.Name) })
	if err := Check(plan.Packages, req.Arch); err != nil {
		// Requested packages are marked without checks, as apt does; a
		// conflict among them (or a resolver bug) shows up here.
		return nil, fmt.Errorf("resolve: the requested packages cannot be installed together: %w", err)
	}
	return plan, nil
}

// node is a package's candidate version, with its relationship fields
// parsed on first use (most of the index is never looked at).
type node struct {
	pkg  *apt.Package
	prio int // apt's priority number: required 1 … extra 5, none 0

	parsed     bool
	deps       []dep // Pre-Depends, Depends, Recommends, in apt's order
	conflicts  []Relation
	breaks     []Relation
	provides   []Relation
	parseError error
}

type dep struct {
	g        Group
	critical bool // Pre-Depends and Depends; Recommends are not
	field    string
}

// provision records that a package provides a name.
type provision struct {
	by      *node
	version string // "" for an unversioned Provides
}

// negRel is a Conflicts or Breaks of a selected package.
type negRel struct {
	by    *node
	rel   Relation
	field string
}

type resolver struct {
	ctx        context.Context
	pkgs       []*apt.Package
	arch       string
	recommends bool

	best      map[string]*apt.Package   // candidate stanza per package name
	nodes     map[string]*node          // candidates made into nodes so far
	provIdx   map[string][]*apt.Package // stanzas naming a name in Provides, in index order
	providers map[string][]provision    // candidates' Provides of a name, made on first use
	excluded  map[string]bool
	foreign   map[string]string // name → an architecture it exists for, when not native
	ids       *idScanner
	patterned []*apt.Package // stanzas with Essential or a baseline priority

	installed map[string]*node // phase-1 result (dpkg's status in phase 2)
	marked    map[string]*node // apt's install marks in the current phase
	provided  map[string][]provision
	neg       map[string][]negRel
	busy      map[string]bool // packages whose dependencies are being processed
	steps     int
	stop      error             // set when the context ends or the step budget runs out
	dropped   map[string]string // why a conflict unmarked a package
}

// prioNum is apt's number for a Priority word; apt reads an unknown word
// as extra and a missing field as 0, which sorts first.
func prioNum(p string) int {
	switch p {
	case "":
		return 0
	case "required":
		return 1
	case "important":
		return 2
	case "standard":
		return 3
	case "optional":
		return 4
	}
	return 5
}

func newResolver(ctx context.Context, pkgs []*apt.Package, req Request) (*resolver, error) {
	r := &resolver{
		ctx:        ctx,
		pkgs:       pkgs,
		arch:       req.Arch,
		recommends: req.Recommends,
		best:       make(map[string]*apt.Package, len(pkgs)),
		nodes:      map[string]*node{},
		provIdx:    make(map[string][]*apt.Package, 1<<15),
		providers:  map[string][]provision{},
		excluded:   map[string]bool{},
		foreign:    map[string]string{},
		ids:        &idScanner{pkgs: pkgs, arch: req.Arch, pos: map[string]int{}},
		installed:  map[string]*node{},
		marked:     map[string]*node{},
		provided:   map[string][]provision{},
		neg:        map[string][]negRel{},
		busy:       map[string]bool{},
		dropped:    map[string]string{},
	}
	for _, x := range req.Exclude {
		r.excluded[x] = true
	}
	var providing []*apt.Package
	for _, p := range pkgs {
		if p.Architecture != req.Arch && p.Architecture != "all" {
			r.foreign[p.Name] = p.Architecture
			continue
		}
		if len(r.excluded) > 0 && r.excluded[p.Name] {
			continue
		}
		// apt's candidate, all pins being equal: the highest version; the
		// first stanza wins a tie.
		if b := r.best[p.Name]; b == nil || debversion.Compare(p.Version, b.Version) > 0 {
			r.best[p.Name] = p
		}
		if p.Provides != "" {
			providing = append(providing, p)
		}
		if p.Essential || p.Priority == "required" || p.Priority == "important" || p.Priority == "standard" {
			r.patterned = append(r.patterned, p)
		}
	}
	// Only names are indexed here; a provider's Provides is parsed when a
	// dependency on one of its names is looked at.
	for _, p := range providing {
		if r.best[p.Name] == p {
			eachName(p.Provides, r.arch, func(name string) {
				if l := r.provIdx[name]; len(l) == 0 || l[len(l)-1] != p {
					r.provIdx[name] = append(l, p)
				}
			})
		}
	}
	return r, nil
}

// providersOf returns the candidates that provide name, with the version
// each provides, in index order.
func (r *resolver) providersOf(name string) []provision {
	if l, ok := r.providers[name]; ok {
		return l
	}
	var l []provision
	for _, p := range r.provIdx[name] {
		if r.best[p.Name] != p {
			continue // replaced by a pinned version
		}
		n := r.cand(p.Name)
		for _, rel := range n.provides {
			if rel.Name == name {
				l = append(l, provision{by: n, version: rel.Version})
			}
		}
	}
	r.providers[name] = l
	return l
}

// cand returns the candidate of a package name, or nil if there is none.
func (r *resolver) cand(name string) *node {
	if n, ok := r.nodes[name]; ok {
		return n
	}
	p := r.best[name]
	if p == nil {
		return nil
	}
	n := &node{pkg: p, prio: prioNum(p.Priority)}
	if p.Provides != "" {
		provs, err := ParseRelations(p.Provides)
		if err != nil {
			// The package cannot be used; say why when something needs it.
			n.parsed = true
			n.parseError = fmt.Errorf("package %s %s: Provides: %w", p.Name, p.Version, err)
		}
		for _, g := range provs {
			for _, rel := range g {
				if rel.Op != OpNone && rel.Op != OpEQ {
					continue // apt ignores non-equal Provides
				}
				n.provides = append(n.provides, rel)
			}
		}
	}
	r.nodes[name] = n
	return n
}

// inCacheOrder returns the candidates among the patterned stanzas that
// keep, in apt's cache order, which is the order apt-get processes the
// packages a pattern matches.
func (r *resolver) inCacheOrder(keep func(*apt.Package) bool) []*node {
	var out []*node
	for _, p := range r.patterned {
		if r.best[p.Name] == p && keep(p) {
			out = append(out, r.cand(p.Name))
		}
	}
	names := make([]string, len(out))
	for i, n := range out {
		names[i] = n.pkg.Name
	}
	r.ids.find(names)
	slices.SortFunc(out, func(a, b *node) int { return cmpInt(r.ids.id(a.pkg.Name), r.ids.id(b.pkg.Name)) })
	return out
}

// includes turns Request.Include into candidate nodes, applying
// "name=version" by making that version the candidate.
func (r *resolver) includes(list []string) ([]*node, error) {
	var out []*node
	for _, s := range list {
		name, ver, pinned := strings.Cut(s, "=")
		if r.excluded[name] {
			return nil, fmt.Errorf("resolve: %s is both included and excluded", name)
		}
		if r.best[name] == nil {
			return nil, r.unknown(name)
		}
		if pinned && r.best[name].Version != ver {
			var p *apt.Package
			for _, q := range r.pkgs {
				if q.Name == name && q.Version == ver && (q.Architecture == r.arch || q.Architecture == "all") {
					p = q
				}
			}
			if p == nil {
				return nil, fmt.Errorf("resolve: %s has no version %s (have %s)", name, ver, strings.Join(r.versionList(name), ", "))
			}
			delete(r.nodes, name)
			r.best[name] = p
			eachName(p.Provides, r.arch, func(v string) {
				r.provIdx[v] = append(r.provIdx[v], p)
			})
			clear(r.providers)
		}
		out = append(out, r.cand(name))
	}
	return out, nil
}

// versionList lists a name's versions for messages (an error path, so a
// scan of the index is fine).
func (r *resolver) versionList(name string) []string {
	var vs []string
	for _, p := range r.pkgs {
		if p.Name == name && (p.Architecture == r.arch || p.Architecture == "all") {
			vs = append(vs, p.Version)
		}
	}
	return vs
}

func (r *resolver) unknown(name string) error {
	if a, ok := r.foreign[name]; ok {
		return fmt.Errorf("resolve: package %s exists only for architecture %s, not %s", name, a, r.arch)
	}
	if provs := r.providersOf(name); len(provs) > 0 {
		var by []string
		for _, p := range provs {
			by = append(by, p.by.pkg.Name)
		}
		return fmt.Errorf("resolve: %s is a virtual package provided by %s: name one of them", name, strings.Join(by, ", "))
	}
	return fmt.Errorf("resolve: package %s is not in the index", name)
}

func cmpInt(a, b int) int {
	switch {
	case a < b:
		return -1
	case a > b:
		return 1
	}
	return 0
}
