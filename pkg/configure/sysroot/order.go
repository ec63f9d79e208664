package sysroot

import (
	"sort"
	"strings"
)

// ConfigureOrder returns pkgs in an order dpkg could configure them in:
// every package after what it Pre-Depends and Depends on (among pkgs),
// ties and dependency cycles broken by name, so the order is stable. Like
// debootstrap and mmdebstrap, the Essential packages (and what they need)
// come first, then the rest. Account IDs allocated by scripts, and whether
// systemctl exists when a unit is enabled, depend on this order.
func ConfigureOrder(pkgs []*Package) []*Package {
	essential, rest := Phases(pkgs)
	return append(essential, rest...)
}

// Phases splits pkgs, each part in configuration order, into the
// Essential packages with what they depend on, which debootstrap and
// mmdebstrap install first, and the rest.
func Phases(pkgs []*Package) (essential, rest []*Package) {
	byName := map[string]*Package{}
	provides := map[string]string{}
	for _, p := range pkgs {
		byName[p.Name] = p
	}
	for _, p := range pkgs {
		if p.Control == nil {
			continue
		}
		for _, v := range splitRel(p.Control.Get("Provides")) {
			if _, ok := provides[v]; !ok {
				provides[v] = p.Name
			}
		}
	}
	deps := map[string][]string{}
	for _, p := range pkgs {
		if p.Control == nil {
			continue
		}
		for _, field := range []string{"Pre-Depends", "Depends"} {
			for _, alt := range strings.Split(p.Control.Get(field), ",") {
				for _, name := range splitRel(strings.ReplaceAll(alt, "|", ",")) {
					if _, ok := byName[name]; !ok {
						name = provides[name]
					}
					if name != "" && name != p.Name {
						deps[p.Name] = append(deps[p.Name], name)
						break
					}
				}
			}
		}
	}
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
