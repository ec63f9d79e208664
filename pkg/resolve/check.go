package resolve

import (
	"fmt"
	"slices"
	"strings"

	"github.com/debatom/debatom/pkg/apt"
)

// Check verifies that a set of packages is installable together on arch:
// every Pre-Depends and Depends is met inside the set, and no Conflicts or
// Breaks holds between two members. The error names the packages involved.
// Resolve runs it on every plan; the assembler can run it on a lockfile.
func Check(pkgs []*apt.Package, arch string) error {
	r := &resolver{
		arch:      arch,
		best:      map[string]*apt.Package{},
		nodes:     map[string]*node{},
		provIdx:   map[string][]*apt.Package{},
		providers: map[string][]provision{},
		excluded:  map[string]bool{},
		foreign:   map[string]string{},
		installed: map[string]*node{},
		marked:    map[string]*node{},
		provided:  map[string][]provision{},
		neg:       map[string][]negRel{},
		busy:      map[string]bool{},
		dropped:   map[string]string{},
	}
	var nodes []*node
	for _, p := range pkgs {
		if p.Architecture != arch && p.Architecture != "all" {
			return fmt.Errorf("package %s is for architecture %s, not %s", p.Name, p.Architecture, arch)
		}
		if r.best[p.Name] != nil {
			return fmt.Errorf("package %s appears twice (%s and %s)", p.Name, r.best[p.Name].Version, p.Version)
		}
		r.best[p.Name] = p
		n := r.cand(p.Name)
		if err := r.parse(n); err != nil {
			return err
		}
		r.mark(n)
		nodes = append(nodes, n)
	}
	r.pkgs = pkgs
	var errs []string
	for _, n := range nodes {
		for _, d := range n.deps {
			if g := r.applicable(d.g); d.critical && len(g) > 0 && !r.satisfied(g) {
				var reasons []string
				for _, rel := range g {
					reasons = append(reasons, r.why(rel))
				}
				errs = append(errs, fmt.Sprintf("%s %s %s, unmet: %s", n.pkg.Name, verb(d.field), d.g, strings.Join(reasons, ", ")))
			}
		}
		// conflict sees n itself as selected; take it out for the check.
		delete(r.marked, n.pkg.Name)
		if why := r.conflict(n); why != "" {
			errs = append(errs, why)
		}
		r.marked[n.pkg.Name] = n
	}
	if len(errs) > 0 {
		slices.Sort(errs)
		errs = slices.Compact(errs)
		if len(errs) > 3 {
			errs = append(errs[:3], fmt.Sprintf("and %d more problems", len(errs)-3))
		}
		return fmt.Errorf("%s", strings.Join(errs, "; "))
	}
	return nil
}
