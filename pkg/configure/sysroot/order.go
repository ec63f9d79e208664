package sysroot

import (
	"sort"
	"strings"
)

// ConfigureOrder returns pkgs in the order an mmdebstrap installation
// configures them in. Like debootstrap and mmdebstrap, the Essential
// packages (and what they need) come first, each after what it depends
// on. apt then installs the rest: it configures at once what another
// package Pre-Depends on (and what that needs), and leaves everything else
// to "dpkg --configure --pending", which takes the pending packages in the
// order of its package hash table and defers each whose dependencies are
// not configured yet to the end of its queue. Account IDs allocated by
// scripts, the order of rows in the account files, and whether systemctl
// exists when a unit is enabled depend on this order.
func ConfigureOrder(pkgs []*Package) []*Package {
	essential, rest := Phases(pkgs)
	g := newGraph(pkgs)
	done := map[string]bool{}
	out := make([]*Package, 0, len(pkgs))
	for _, p := range essential {
		done[p.Name] = true
		out = append(out, p)
	}
	inRest := map[string]bool{}
	for _, p := range rest {
		inRest[p.Name] = true
	}
	// What apt configures immediately: pre-dependency targets among the
	// packages it installs, with what they depend on.
	now := map[string]bool{}
	var mark func(n string)
	mark = func(n string) {
		if now[n] || !inRest[n] {
			return
		}
		now[n] = true
		for _, d := range g.deps[n] {
			mark(d)
		}
	}
	for _, p := range rest {
		for _, d := range g.pre[p.Name] {
			mark(d)
		}
	}
	var queue []*Package
	for _, p := range rest { // rest is in dependency order
		if now[p.Name] {
			done[p.Name] = true
			out = append(out, p)
		} else {
			queue = append(queue, p)
		}
	}
	sort.SliceStable(queue, func(i, j int) bool {
		bi, bj := pkgBin(queue[i].Name), pkgBin(queue[j].Name)
		if bi != bj {
			return bi < bj
		}
		return queue[i].Name < queue[j].Name
	})
	ready := func(p *Package) bool {
		for _, alts := range g.groups[p.Name] {
			ok := false
			for _, a := range alts {
				if done[a] || a == p.Name {
					ok = true
					break
				}
			}
			if !ok {
				return false
			}
		}
		return true
	}
	for len(queue) > 0 {
		var deferred []*Package
		for _, p := range queue {
			if ready(p) {
				done[p.Name] = true
				out = append(out, p)
			} else {
				deferred = append(deferred, p)
			}
		}
		if len(deferred) == len(queue) {
			// A dependency cycle: dpkg breaks it by configuring one
			// of its members regardless.
			p := deferred[0]
			done[p.Name] = true
			out = append(out, p)
			deferred = deferred[1:]
		}
		queue = deferred
	}
	return out
}

// dpkg's package hash table: FNV-1a of the name in this many bins.
// "dpkg --configure --pending" walks the table bin by bin.
const pkgBins = 65521

func pkgBin(name string) uint32 {
	h := uint32(2166136261)
	for _, c := range []byte(name) {
		h ^= uint32(c)
		h *= 16777619
	}
	return h % pkgBins
}

// graph holds the dependency relations among one package set.
type graph struct {
	// deps are the Pre-Depends and Depends targets, the first
	// alternative of each group found in the set; pre the Pre-Depends
	// ones only.
	deps, pre map[string][]string
	// groups are the Pre-Depends and Depends alternatives groups, as
	// the names in the set that satisfy them; groups nothing in the set
	// satisfies are left out.
	groups map[string][][]string
}

func newGraph(pkgs []*Package) *graph {
	byName := map[string]bool{}
	provides := map[string][]string{}
	for _, p := range pkgs {
		byName[p.Name] = true
	}
	for _, p := range pkgs {
		if p.Control == nil {
			continue
		}
		for _, v := range splitRel(p.Control.Get("Provides")) {
			provides[v] = append(provides[v], p.Name)
		}
	}
	g := &graph{deps: map[string][]string{}, pre: map[string][]string{}, groups: map[string][][]string{}}
	for _, p := range pkgs {
		if p.Control == nil {
			continue
		}
		for _, field := range []string{"Pre-Depends", "Depends"} {
			for _, alt := range strings.Split(p.Control.Get(field), ",") {
				var sat []string
				for _, name := range splitRel(strings.ReplaceAll(alt, "|", ",")) {
					if byName[name] {
						sat = append(sat, name)
					} else if len(provides[name]) > 0 {
						sat = append(sat, provides[name][0])
					}
				}
				if len(sat) == 0 {
					continue
				}
				g.groups[p.Name] = append(g.groups[p.Name], sat)
				if sat[0] != p.Name {
					g.deps[p.Name] = append(g.deps[p.Name], sat[0])
					if field == "Pre-Depends" {
						g.pre[p.Name] = append(g.pre[p.Name], sat[0])
					}
				}
			}
		}
	}
	return g
}

// Phases splits pkgs, each part in configuration order, into the
// Essential packages with what they depend on, which debootstrap and
// mmdebstrap install first, and the rest.
func Phases(pkgs []*Package) (essential, rest []*Package) {
	byName := map[string]*Package{}
	for _, p := range pkgs {
		byName[p.Name] = p
	}
	deps := newGraph(pkgs).deps
	names := make([]string, 0, len(pkgs))
	for _, p := range pkgs {
		names = append(names, p.Name)
	}
	sort.Strings(names)
	state := map[string]int{} // 1 visiting, 2 done
	var out *[]*Package
	var visit func(n string)
	visit = func(n string) {
		if state[n] != 0 {
			return // done, or a cycle: break it here
		}
		state[n] = 1
		ds := append([]string(nil), deps[n]...)
		sort.Strings(ds)
		for _, d := range ds {
			visit(d)
		}
		state[n] = 2
		*out = append(*out, byName[n])
	}
	for _, phase := range []bool{true, false} {
		out = &rest
		if phase {
			out = &essential
		}
		for _, n := range names {
			p := byName[n]
			if (p.Control != nil && p.Control.Get("Essential") == "yes") == phase {
				visit(n)
			}
		}
	}
	return essential, rest
}

// splitRel returns the package names of a comma-separated relation field,
// without versions or architecture qualifiers.
func splitRel(s string) []string {
	var out []string
	for _, f := range strings.Split(s, ",") {
		f = strings.TrimSpace(f)
		if k := strings.IndexAny(f, " (["); k >= 0 {
			f = f[:k]
		}
		if k := strings.IndexByte(f, ':'); k >= 0 {
			f = f[:k]
		}
		if f != "" {
			out = append(out, f)
		}
	}
	return out
}
