package resolve

import "github.com/debatom/debatom/pkg/apt"

// cacheIDs numbers package names the way apt's cache generator does: a
// package gets the next ID when its name is first met, reading the index in
// order, each stanza's own name first and then the names its relationship
// fields mention, in the order apt's debListParser reads the fields. apt
// uses these IDs to order the packages a pattern such as ?essential matches
// and to break ties between providers, so they decide real choices.
//
// "name:any" targets are separate packages in apt ("name" of architecture
// "any") and do not number the plain name.
func cacheIDs(pkgs []*apt.Package, arch string) map[string]int {
	ids := make(map[string]int, len(pkgs)*2)
	add := func(name string) {
		if _, ok := ids[name]; !ok {
			ids[name] = len(ids)
		}
	}
	for _, p := range pkgs {
		if p.Architecture != arch && p.Architecture != "all" {
			continue
		}
		add(p.Name)
		enhances := ""
		if p.Paragraph != nil {
			enhances = p.Paragraph.Get("Enhances")
		}
		for _, f := range [...]string{p.PreDepends, p.Depends, p.Conflicts, p.Breaks, p.Recommends, p.Suggests, p.Replaces, enhances, p.Provides} {
			scanNames(f, arch, add)
		}
	}
	return ids
}

// scanNames calls add for each package name in a relationship field
// without building Relations: this runs over every stanza of the index.
func scanNames(s, arch string, add func(string)) {
	i := 0
	for i < len(s) {
		for i < len(s) && (s[i] == ' ' || s[i] == '\t' || s[i] == '\n' || s[i] == ',' || s[i] == '|') {
			i++
		}
		start := i
		for i < len(s) && isNameChar(s[i]) {
			i++
		}
		name := s[start:i]
		qual := ""
		if i < len(s) && s[i] == ':' {
			j := i + 1
			for j < len(s) && isNameChar(s[j]) {
				j++
			}
			qual = s[i+1 : j]
			i = j
		}
		if name != "" && (qual == "" || qual == "native" || qual == arch) {
			add(name)
		}
		for i < len(s) && s[i] != ',' && s[i] != '|' {
			i++
		}
	}
}
