package resolve

import (
	"fmt"
	"slices"
	"strings"
)

// This file replays apt's marking. Names in comments refer to apt's
// apt-pkg/depcache.cc and apt-private/private-install.cc (apt 2.6–3.0).

// aptInstall does what `apt-get install` does with its package list:
// first every requested package is marked for installation without its
// dependencies (TryToInstall), so requested packages satisfy each other;
// then each, in the same order, gets its dependencies installed
// (doAutoInstall → MarkInstall with AutoInst).
func (r *resolver) aptInstall(list []*node) error {
	for _, n := range list {
		if r.installed[n.pkg.Name] != n {
			r.mark(n)
		}
	}
	for _, n := range list {
		if r.installed[n.pkg.Name] == n {
			continue
		}
		if err := r.ctx.Err(); err != nil {
			return err
		}
		if ok, why := r.processDeps(n, true); !ok {
			if r.stop != nil {
				return r.stop
			}
			return fmt.Errorf("cannot install %s: %s", n.pkg.Name, why)
		}
	}
	if err := r.repair(); err != nil {
		return err
	}
	for _, n := range list {
		if r.selected(n.pkg.Name) != n {
			return fmt.Errorf("cannot install %s: %s", n.pkg.Name, r.dropped[n.pkg.Name])
		}
	}
	return nil
}

// maxSteps bounds the installation attempts of one resolve. Like apt,
// the marking retries alternatives without remembering failures, which
// hostile indexes can make exponential; real ones need a few hundred
// (273 for standard plus Recommends on Debian 13).
const maxSteps = 20000

// install is MarkInstall(Pkg, AutoInst=true, FromUser=false): mark the
// candidate, then its dependencies depth-first; if one cannot be satisfied
// the candidate (but not what was already installed for it, as in apt) is
// unmarked again.
//
// The candidate's own Conflicts and Breaks are handled as apt's
// MarkInstall_RemoveConflictsIfNotUpgradeable does: packages they hit that
// are only marked get unmarked, unless they are being processed further up
// the recursion (apt's Protected flag), in which case the candidate fails.
// The other direction, a selected package whose Conflicts or Breaks hit the
// candidate, apt leaves to its problem resolver; here the candidate is
// simply not taken, so the next alternative or provider is tried.
func (r *resolver) install(n *node) (bool, string) {
	name := n.pkg.Name
	if r.marked[name] == n || (r.marked[name] == nil && r.installed[name] == n) {
		return true, ""
	}
	r.steps++
	if r.steps&1023 == 0 {
		if err := r.ctx.Err(); err != nil {
			r.stop = err
		}
	}
	if r.steps > maxSteps && r.stop == nil {
		r.stop = fmt.Errorf("gave up after %d installation attempts (dependencies too entangled)", maxSteps)
	}
	if r.stop != nil {
		return false, r.stop.Error()
	}
	hits, why := r.ownConflicts(n)
	for _, h := range hits {
		if r.installed[h.pkg.Name] == h || r.busy[h.pkg.Name] {
			return false, why
		}
	}
	for _, h := range hits {
		r.unmark(h)
		r.dropped[h.pkg.Name] = why + ", and " + name + " was chosen"
	}
	if why := r.reverseConflict(n); why != "" {
		return false, why
	}
	r.mark(n)
	if ok, why := r.processDeps(n, false); !ok {
		r.unmark(n)
		return false, why
	}
	return true, ""
}

// repair re-processes marked packages left with an unmet dependency
// because a later conflict unmarked what satisfied it; apt hands this
// state to its problem resolver, whose first move is the same.
func (r *resolver) repair() error {
	for range 3 {
		var broken []*node
		for _, n := range r.marked {
			if r.parse(n) != nil {
				continue
			}
			for _, d := range n.deps {
				if g := r.applicable(d.g); d.critical && len(g) > 0 && !r.satisfied(g) {
					broken = append(broken, n)
					break
				}
			}
		}
		if len(broken) == 0 {
			return nil
		}
		names := make([]string, len(broken))
		for i, n := range broken {
			names[i] = n.pkg.Name
		}
		r.ids.find(names)
		slices.SortFunc(broken, func(a, b *node) int { return cmpInt(r.ids.id(a.pkg.Name), r.ids.id(b.pkg.Name)) })
		for _, n := range broken {
			if r.marked[n.pkg.Name] != n {
				continue
			}
			if ok, why := r.processDeps(n, true); !ok {
				if r.stop != nil {
					return r.stop
				}
				return fmt.Errorf("cannot install %s: %s", n.pkg.Name, why)
			}
		}
	}
	return nil
}

// processDeps is MarkInstall_InstallDependencies. For a requested package
// (fromUser) a failed dependency does not stop the others, as in apt; the
// first failure is reported.
func (r *resolver) processDeps(n *node, fromUser bool) (bool, string) {
	if err := r.parse(n); err != nil {
		return false, err.Error()
	}
	if !r.busy[n.pkg.Name] {
		r.busy[n.pkg.Name] = true
		defer delete(r.busy, n.pkg.Name)
	}
	var first string
	for _, d := range n.deps {
		if !d.critical && r.installed[n.pkg.Name] == n {
			continue // apt ignores old unsatisfied Recommends of installed packages
		}
		g := r.applicable(d.g)
		if len(g) == 0 || r.satisfied(g) {
			continue
		}
		alts, reasons := r.solutions(g)
		found := false
		tried := map[*node]bool{}
		r.eachSolution(alts, func(s *node) bool {
			if tried[s] {
				return true // apt drops repeats; a second try would fail again
			}
			tried[s] = true
			ok, why := r.install(s)
			if ok {
				found = true
				return false
			}
			reasons = append(reasons, why)
			return true
		})
		if found || !d.critical {
			continue
		}
		why := fmt.Sprintf("%s %s %s; %s", n.pkg.Name, verb(d.field), d.g, strings.Join(reasons, ", "))
		if !fromUser {
			return false, why
		}
		if first == "" {
			first = why
		}
	}
	return first == "", first
}

// verb says what a relationship field does, for messages.
func verb(field string) string {
	switch field {
	case "Pre-Depends":
		return "pre-depends on"
	case "Depends":
		return "depends on"
	case "Recommends":
		return "recommends"
	case "Conflicts":
		return "conflicts with"
	}
	return "breaks"
}

// parse reads a node's relationship fields on first use.
func (r *resolver) parse(n *node) error {
	if n.parsed {
		return n.parseError
	}
	n.parsed = true
	fields := []struct {
		name, text string
		critical   bool
	}{
		{"Pre-Depends", n.pkg.PreDepends, true},
		{"Depends", n.pkg.Depends, true},
	}
	if r.recommends {
		fields = append(fields, struct {
			name, text string
			critical   bool
		}{"Recommends", n.pkg.Recommends, false})
	}
	for _, f := range fields {
		gs, err := ParseRelations(f.text)
		if err != nil {
			n.parseError = fmt.Errorf("package %s %s: %s: %w", n.pkg.Name, n.pkg.Version, f.name, err)
			return n.parseError
		}
		for _, g := range gs {
			n.deps = append(n.deps, dep{g: g, critical: f.critical, field: f.name})
		}
	}
	for _, f := range []struct {
		name, text string
		out        *[]Relation
	}{{"Conflicts", n.pkg.Conflicts, &n.conflicts}, {"Breaks", n.pkg.Breaks, &n.breaks}} {
		gs, err := ParseRelations(f.text)
		if err != nil {
			n.parseError = fmt.Errorf("package %s %s: %s: %w", n.pkg.Name, n.pkg.Version, f.name, err)
			return n.parseError
		}
		for _, g := range gs {
			for _, rel := range g {
				if rel.AppliesTo(r.arch) {
					*f.out = append(*f.out, rel)
				}
			}
		}
	}
	return nil
}

// applicable drops alternatives restricted to other architectures or
// build profiles (never present in binary indexes, but tolerated).
func (r *resolver) applicable(g Group) Group {
	for _, rel := range g {
		if !rel.AppliesTo(r.arch) {
			out := make(Group, 0, len(g))
			for _, rel := range g {
				if rel.AppliesTo(r.arch) {
					out = append(out, rel)
				}
			}
			return out
		}
	}
	return g
}

func (r *resolver) mark(n *node) {
	if old := r.marked[n.pkg.Name]; old != nil {
		r.unmark(old)
	}
	r.marked[n.pkg.Name] = n
	r.index(n)
}

func (r *resolver) unmark(n *node) {
	delete(r.marked, n.pkg.Name)
	for _, p := range n.provides {
		r.provided[p.Name] = slices.DeleteFunc(r.provided[p.Name], func(x provision) bool { return x.by == n })
	}
	r.parse(n)
	for _, rel := range append(slices.Clone(n.conflicts), n.breaks...) {
		r.neg[rel.Name] = slices.DeleteFunc(r.neg[rel.Name], func(x negRel) bool { return x.by == n })
	}
}

// index records what a selected package provides, conflicts with and
// breaks, so that satisfaction and conflict checks are map lookups.
func (r *resolver) index(n *node) {
	for _, p := range n.provides {
		r.provided[p.Name] = append(r.provided[p.Name], provision{by: n, version: p.Version})
	}
	if r.parse(n) != nil {
		return // reported when its dependencies are processed
	}
	for _, rel := range n.conflicts {
		r.neg[rel.Name] = append(r.neg[rel.Name], negRel{by: n, rel: rel, field: "Conflicts"})
	}
	for _, rel := range n.breaks {
		r.neg[rel.Name] = append(r.neg[rel.Name], negRel{by: n, rel: rel, field: "Breaks"})
	}
}

// selected is the version that will be on the system: marked, else
// installed.
func (r *resolver) selected(name string) *node {
	if n := r.marked[name]; n != nil {
		return n
	}
	return r.installed[name]
}

// archOK says whether node n may satisfy rel as far as architecture
// qualifiers go. Only the native architecture (and "all") is loaded, so a
// qualifier naming another architecture is never satisfied, and ":any"
// needs Multi-Arch: allowed, as in dpkg and apt.
func (r *resolver) archOK(rel Relation, n *node) bool {
	switch rel.Arch {
	case "", "native", r.arch:
		return true
	case "any":
		return n.pkg.MultiArch == "allowed"
	}
	return false
}

func provSatisfies(rel Relation, p provision) bool {
	if rel.Op == OpNone {
		return true
	}
	// A versioned relation is only met by a versioned Provides.
	return p.version != "" && rel.Satisfies(p.version)
}

// satisfied is apt's DepInstall check over an OR-group.
func (r *resolver) satisfied(g Group) bool {
	for _, rel := range g {
		if n := r.selected(rel.Name); n != nil && rel.Satisfies(n.pkg.Version) && r.archOK(rel, n) {
			return true
		}
		for _, p := range r.provided[rel.Name] {
			if provSatisfies(rel, p) && r.archOK(rel, p.by) && r.selected(p.by.pkg.Name) == p.by {
				return true
			}
		}
	}
	return false
}

// alternative is the candidates satisfying one alternative of a group.
type alternative struct {
	target string
	nodes  []*node
}

// solutions collects, per alternative, the candidates that satisfy it (the
// package itself and its providers), and says why alternatives with none
// have none.
func (r *resolver) solutions(g Group) ([]alternative, []string) {
	var alts []alternative
	var reasons []string
	for _, rel := range g {
		var list []*node
		if c := r.cand(rel.Name); c != nil && rel.Satisfies(c.pkg.Version) && r.archOK(rel, c) {
			list = append(list, c)
		}
		for _, p := range r.providersOf(rel.Name) {
			if provSatisfies(rel, p) && r.archOK(rel, p.by) {
				list = append(list, p.by)
			}
		}
		if len(list) == 0 {
			reasons = append(reasons, r.why(rel))
			continue
		}
		alts = append(alts, alternative{rel.Name, list})
	}
	return alts, reasons
}

// eachSolution calls try on the candidates in the order of apt's
// getAllPossibleSolutions (installed packages of every alternative first,
// then the rest; alternatives in order, each sorted by CompareProviders)
// until try returns false. The order is produced by selecting the minimum
// each time rather than by sorting, so comparisons that only matter once
// the first choices failed (and that may need apt's cache IDs, which cost
// a scan of the index) are usually never made.
func (r *resolver) eachSolution(alts []alternative, try func(*node) bool) {
	for _, installed := range []bool{true, false} {
		for _, alt := range alts {
			var rest []*node
			for _, n := range alt.nodes {
				if (r.installed[n.pkg.Name] != nil) == installed {
					rest = append(rest, n)
				}
			}
			cmp := r.compareProviders(alt.target, alt.nodes)
			for len(rest) > 0 {
				best := 0
				for i := 1; i < len(rest); i++ {
					if cmp(rest[i], rest[best]) < 0 {
						best = i
					}
				}
				n := rest[best]
				rest = slices.Delete(rest, best, best+1)
				if !try(n) {
					return
				}
			}
		}
	}
}

// compareProviders is apt's CompareProviders for a single architecture:
// installed first, then the package named by the dependency itself, then
// Essential, then Important/Protected, then the more important Priority, and
// last the higher cache ID.
func (r *resolver) compareProviders(target string, list []*node) func(a, b *node) int {
	idsKnown := false
	return func(a, b *node) int {
		if a == b {
			return 0 // a package that also provides its own name
		}
		if ai, bi := r.installed[a.pkg.Name] != nil, r.installed[b.pkg.Name] != nil; ai != bi {
			return boolFirst(ai)
		}
		if at, bt := a.pkg.Name == target, b.pkg.Name == target; at != bt {
			return boolFirst(at)
		}
		if a.pkg.Essential != b.pkg.Essential {
			return boolFirst(a.pkg.Essential)
		}
		if ai, bi := important(a), important(b); ai != bi {
			return boolFirst(ai)
		}
		if a.prio != b.prio {
			return a.prio - b.prio
		}
		if !idsKnown {
			// One scan for the whole list, and only when a tie needs it.
			names := make([]string, len(list))
			for i, n := range list {
				names[i] = n.pkg.Name
			}
			r.ids.find(names)
			idsKnown = true
		}
		return cmpInt(r.ids.id(b.pkg.Name), r.ids.id(a.pkg.Name))
	}
}

func boolFirst(a bool) int {
	if a {
		return -1
	}
	return 1
}

// important is apt's Flag::Important, set by "Important: yes" or by its
// newer spelling "Protected: yes".
func important(n *node) bool {
	p := n.pkg.Paragraph
	return p != nil && (p.Get("Important") == "yes" || p.Get("Protected") == "yes")
}

// why explains why no candidate satisfies rel.
func (r *resolver) why(rel Relation) string {
	name := rel.Name
	switch {
	case rel.Arch != "" && rel.Arch != "any" && rel.Arch != "native" && rel.Arch != r.arch:
		return fmt.Sprintf("%s:%s needs architecture %s, which is not configured (only %s)", name, rel.Arch, rel.Arch, r.arch)
	case r.excluded[name]:
		return name + " is excluded"
	}
	c := r.cand(name)
	if c == nil && len(r.providersOf(name)) == 0 {
		if a, ok := r.foreign[name]; ok {
			return fmt.Sprintf("%s exists only for architecture %s", name, a)
		}
		return name + " is not in the index"
	}
	if rel.Arch == "any" && (c == nil || c.pkg.MultiArch != "allowed") {
		return fmt.Sprintf("%s is not Multi-Arch: allowed, so %s:any cannot be met", name, name)
	}
	if c != nil {
		return fmt.Sprintf("no %s %s %s (have %s)", name, rel.Op, rel.Version, strings.Join(r.versionList(name), ", "))
	}
	var by []string
	for _, p := range r.providersOf(name) {
		v := p.version
		if v == "" {
			v = "unversioned"
		}
		by = append(by, p.by.pkg.Name+" "+v)
	}
	return fmt.Sprintf("no provider of %s has a version %s %s (provided by %s)", name, rel.Op, rel.Version, strings.Join(by, ", "))
}

// conflict reports a Conflicts or Breaks between n and the selected
// packages, in either direction, as a sentence naming both; "" if none.
func (r *resolver) conflict(n *node) string {
	if _, why := r.ownConflicts(n); why != "" {
		return why
	}
	return r.reverseConflict(n)
}

// ownConflicts lists the selected packages that n's Conflicts and Breaks
// hit, with a sentence about the first. dpkg ignores a package's relations
// with itself.
func (r *resolver) ownConflicts(n *node) ([]*node, string) {
	if err := r.parse(n); err != nil {
		return nil, err.Error()
	}
	var hits []*node
	first := ""
	for _, f := range []struct {
		field string
		rels  []Relation
	}{{"Conflicts", n.conflicts}, {"Breaks", n.breaks}} {
		for _, rel := range f.rels {
			if s := r.selected(rel.Name); s != nil && s.pkg.Name != n.pkg.Name && rel.Satisfies(s.pkg.Version) && r.archOK(rel, s) {
				if first == "" {
					first = fmt.Sprintf("%s %s %s %s %s (%s)", n.pkg.Name, n.pkg.Version, verb(f.field), s.pkg.Name, s.pkg.Version, rel)
				}
				hits = append(hits, s)
			}
			for _, p := range r.provided[rel.Name] {
				if p.by.pkg.Name != n.pkg.Name && provSatisfies(rel, p) && r.archOK(rel, p.by) && r.selected(p.by.pkg.Name) == p.by {
					if first == "" {
						first = fmt.Sprintf("%s %s %s %s %s, which provides %s (%s)", n.pkg.Name, n.pkg.Version, verb(f.field), p.by.pkg.Name, p.by.pkg.Version, rel.Name, rel)
					}
					hits = append(hits, p.by)
				}
			}
		}
	}
	return slices.Compact(hits), first
}

// reverseConflict reports a selected package whose Conflicts or Breaks
// hit n; "" if none.
func (r *resolver) reverseConflict(n *node) string {
	if err := r.parse(n); err != nil {
		return err.Error()
	}
	for _, x := range r.neg[n.pkg.Name] {
		if x.by.pkg.Name != n.pkg.Name && x.rel.Satisfies(n.pkg.Version) && r.archOK(x.rel, n) {
			return fmt.Sprintf("%s %s %s %s %s (%s)", x.by.pkg.Name, x.by.pkg.Version, verb(x.field), n.pkg.Name, n.pkg.Version, x.rel)
		}
	}
	for _, p := range n.provides {
		for _, x := range r.neg[p.Name] {
			if x.by.pkg.Name != n.pkg.Name && provSatisfies(x.rel, provision{by: n, version: p.Version}) && r.archOK(x.rel, n) {
				return fmt.Sprintf("%s %s %s %s %s, which provides %s (%s)", x.by.pkg.Name, x.by.pkg.Version, verb(x.field), n.pkg.Name, n.pkg.Version, p.Name, x.rel)
			}
		}
	}
	return ""
}
