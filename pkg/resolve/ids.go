package resolve

import (
	"math"

	"github.com/debatom/debatom/pkg/apt"
)

// idScanner orders package names the way apt's cache generator numbers
// them: a package gets the next ID when its name is first met, reading the
// index in order, each stanza's own name first and then the names its
// relationship fields mention, in the order apt's debListParser reads the
// fields. apt orders the packages a pattern such as ?essential matches by
// these IDs, and breaks ties between providers with them, so they decide
// real choices.
//
// Only the relative order matters, so a name's key is the position of its
// first mention (stanza index and occurrence within the stanza). Keys are
// found for the names asked about only, scanning until all of them have
// been met: that avoids a table of every name in the index.
//
// "name:any" targets are separate packages in apt ("name" of architecture
// "any") and do not count as mentions of the plain name.
type idScanner struct {
	pkgs []*apt.Package
	arch string
	pos  map[string]int
}

// maxMentions bounds the occurrences counted per stanza in a key.
const maxMentions = 1 << 16

// id returns the cache-order key of name.
func (s *idScanner) id(name string) int {
	if k, ok := s.pos[name]; ok {
		return k
	}
	s.find([]string{name})
	return s.pos[name]
}

// find computes the keys of names in one pass over the index.
func (s *idScanner) find(names []string) {
	want := make(map[string]bool, len(names))
	// A cheap filter on length and last two bytes (first bytes are mostly
	// "lib") spares hashing almost every name in the index against want.
	var filter [64]uint64
	for _, n := range names {
		if _, ok := s.pos[n]; !ok && n != "" {
			want[n] = true
			h := nameBits(n)
			filter[h>>6] |= 1 << (h & 63)
		}
	}
	for i := 0; i < len(s.pkgs) && len(want) > 0; i++ {
		p := s.pkgs[i]
		if p.Architecture != s.arch && p.Architecture != "all" {
			continue
		}
		k := 0
		see := func(name string) {
			if h := nameBits(name); filter[h>>6]&(1<<(h&63)) != 0 && want[name] {
				delete(want, name)
				s.pos[name] = i*maxMentions + min(k, maxMentions-1)
			}
			k++
		}
		see(p.Name)
		enhances := ""
		if p.Paragraph != nil {
			for _, f := range p.Paragraph.Fields {
				if f.Name == "Enhances" { // index files use the canonical case
					enhances = f.Value
				}
			}
		}
		for _, f := range [...]string{p.PreDepends, p.Depends, p.Conflicts, p.Breaks, p.Recommends, p.Suggests, p.Replaces, enhances, p.Provides} {
			if f != "" {
				eachName(f, s.arch, see)
			}
		}
	}
	for n := range want {
		s.pos[n] = math.MaxInt // never mentioned: created last
	}
}

// nameBits is a 12-bit fingerprint of a non-empty name for find's filter.
func nameBits(n string) uint {
	l := len(n)
	return (uint(l)*131 + uint(n[l-1])*31 + uint(n[(l-1)/2])) & 4095
}

// eachName calls fn for each package name of a relationship field that
// refers to the native architecture, without building Relations.
func eachName(f, arch string, fn func(string)) {
	i := 0
	for i < len(f) {
		for i < len(f) && (f[i] == ' ' || f[i] == '\t' || f[i] == '\n' || f[i] == ',' || f[i] == '|') {
			i++
		}
		start := i
		for i < len(f) && isNameChar(f[i]) {
			i++
		}
		name := f[start:i]
		qual := ""
		if i < len(f) && f[i] == ':' {
			j := i + 1
			for j < len(f) && isNameChar(f[j]) {
				j++
			}
			qual = f[i+1 : j]
			i = j
		}
		if name != "" && (qual == "" || qual == "native" || qual == arch) {
			fn(name)
		}
		for i < len(f) && f[i] != ',' && f[i] != '|' {
			i++
		}
	}
}
