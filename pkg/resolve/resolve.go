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

// baselines maps a baseline to the priorities installed after the
// Essential set (mmdebstrap's run_install patterns).
var baselines = map[string][]string{
	"essential": nil,
	"minbase":   {"required"},
	"required":  {"required"},
	"important": {"required", "important"},
	"standard":  {"required", "important", "standard"},
}

// Resolve computes the plan for req from the packages of one or more
// Packages indexes.
func Resolve(ctx context.Context, pkgs []*apt.Package, req Request) (*Plan, error) {
	if req.Arch == "" {
		return nil, errors.New("resolve: no architecture given")
	}
	prios, ok := baselines[req.Baseline]
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

	if req.Baseline != "" {
		// Phase 1: `apt-get install ?essential` on an empty system.
		var ess []*node
		for _, n := range r.byID {
			if n != nil && n.pkg.Essential {
				ess = append(ess, n)
			}
		}
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
		for _, n := range r.byID {
			if n != nil && !n.pkg.Essential && slices.Contains(prios, n.pkg.Priority) {
				todo = append(todo, n)
			}
		}
	}
	if err := r.aptInstall(todo); err != nil {
		return nil, fmt.Errorf("resolve: %w", err)
	}

	plan := &Plan{}
	for _, m := range []map[string]*node{r.installed, r.marked} {
		for _, n := range m {
			plan.Packages = append(plan.Packages, n.pkg)
		}
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
	id   int // apt's package ID: creation order in its cache
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

// provision records that a selected package provides a name.
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
	arch       string
	recommends bool

	cand      map[string]*node          // candidate version per package name
	stanzas   map[string][]*apt.Package // every native or "all" stanza per name
	providers map[string][]provision    // candidate-version Provides, by provided name
	excluded  map[string]bool
	foreign   map[string]string // name → an architecture it exists for, when not native
	byID      []*node           // candidates in apt cache order (nil gaps for virtual names)

	installed map[string]*node // phase-1 result (dpkg's status in phase 2)
	marked    map[string]*node // apt's install marks in the current phase
	provided  map[string][]provision
	neg       map[string][]negRel
	busy      map[string]bool // packages whose dependencies are being processed
	steps     int
}

var prioNum = map[string]int{"required": 1, "important": 2, "standard": 3, "optional": 4, "extra": 5}

func newResolver(ctx context.Context, pkgs []*apt.Package, req Request) (*resolver, error) {
	r := &resolver{
		ctx:        ctx,
		arch:       req.Arch,
		recommends: req.Recommends,
		cand:       make(map[string]*node, len(pkgs)),
		stanzas:    make(map[string][]*apt.Package, len(pkgs)),
		providers:  map[string][]provision{},
		excluded:   map[string]bool{},
		foreign:    map[string]string{},
		installed:  map[string]*node{},
		marked:     map[string]*node{},
		provided:   map[string][]provision{},
		neg:        map[string][]negRel{},
		busy:       map[string]bool{},
	}
	for _, x := range req.Exclude {
		r.excluded[x] = true
	}
	ids := cacheIDs(pkgs, req.Arch)
	for _, p := range pkgs {
		if p.Architecture != req.Arch && p.Architecture != "all" {
			r.foreign[p.Name] = p.Architecture
			continue
		}
		r.stanzas[p.Name] = append(r.stanzas[p.Name], p)
		if r.excluded[p.Name] {
			continue
		}
		// apt's candidate, all pins being equal: the highest version; the
		// first stanza wins a tie.
		if c := r.cand[p.Name]; c == nil || debversion.Compare(p.Version, c.pkg.Version) > 0 {
			n, err := r.newNode(p, ids[p.Name])
			if err != nil {
				return nil, err
			}
			r.cand[p.Name] = n
		}
	}
	r.byID = make([]*node, len(ids))
	for _, n := range r.cand {
		r.byID[n.id] = n
	}
	r.rebuildProviders()
	return r, nil
}

// newNode makes a candidate; Provides is parsed now because every
// candidate's Provides feed the virtual-package table.
func (r *resolver) newNode(p *apt.Package, id int) (*node, error) {
	n := &node{pkg: p, id: id, prio: prioNum[p.Priority]}
	if p.Priority != "" && n.prio == 0 {
		n.prio = 5 // apt reads an unknown word as extra
	}
	provs, err := ParseRelations(p.Provides)
	if err != nil {
		return nil, fmt.Errorf("resolve: package %s %s: Provides: %w", p.Name, p.Version, err)
	}
	for _, g := range provs {
		for _, rel := range g {
			if rel.Op != OpNone && rel.Op != OpEQ {
				continue // apt ignores non-equal Provides
			}
			n.provides = append(n.provides, rel)
		}
	}
	return n, nil
}

// rebuildProviders indexes the Provides of every candidate by provided
// name, in cache order.
func (r *resolver) rebuildProviders() {
	clear(r.providers)
	for _, n := range r.byID {
		if n == nil {
			continue
		}
		for _, rel := range n.provides {
			r.providers[rel.Name] = append(r.providers[rel.Name], provision{by: n, version: rel.Version})
		}
	}
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
		n := r.cand[name]
		if n == nil {
			return nil, r.unknown(name)
		}
		if pinned && n.pkg.Version != ver {
			var p *apt.Package
			for _, q := range r.stanzas[name] {
				if q.Version == ver {
					p = q
				}
			}
			if p == nil {
				return nil, fmt.Errorf("resolve: %s has no version %s (have %s)", name, ver, strings.Join(r.versionList(name), ", "))
			}
			pinnedNode, err := r.newNode(p, n.id)
			if err != nil {
				return nil, err
			}
			r.cand[name], r.byID[n.id] = pinnedNode, pinnedNode
			r.rebuildProviders()
			n = pinnedNode
		}
		out = append(out, n)
	}
	return out, nil
}

func (r *resolver) versionList(name string) []string {
	var vs []string
	for _, p := range r.stanzas[name] {
		vs = append(vs, p.Version)
	}
	return vs
}

func (r *resolver) unknown(name string) error {
	if a, ok := r.foreign[name]; ok {
		return fmt.Errorf("resolve: package %s exists only for architecture %s, not %s", name, a, r.arch)
	}
	if len(r.providers[name]) > 0 {
		var by []string
		for _, p := range r.providers[name] {
			by = append(by, p.by.pkg.Name)
		}
		return fmt.Errorf("resolve: %s is a virtual package provided by %s: name one of them", name, strings.Join(by, ", "))
	}
	return fmt.Errorf("resolve: package %s is not in the index", name)
}
