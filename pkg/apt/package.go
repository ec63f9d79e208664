package apt

import (
	"fmt"
	"strconv"
	"strings"

	"github.com/debatom/debatom/pkg/deb822"
)

// Package is one binary package stanza of a Packages index, with the fields
// the resolver and the fetcher need already picked out. Relationship fields
// are kept as their raw text; the resolver parses them.
type Package struct {
	Name          string
	Version       string
	Architecture  string
	MultiArch     string // "", "same", "foreign", "allowed"
	Essential     bool
	Priority      string
	Section       string
	Source        string // "name" or "name (version)"; "" means same as Name
	InstalledSize int64  // KiB
	Filename      string // pool path, relative to the mirror root
	Size          int64
	SHA256        string // lower-case hex

	PreDepends string
	Depends    string
	Recommends string
	Suggests   string
	Conflicts  string
	Breaks     string
	Replaces   string
	Provides   string

	// Origin names the source this stanza came from (mirror URL + suite +
	// component), so a lockfile can record it.
	Origin string

	// Paragraph is the whole stanza, for fields nobody picked out (a dpkg
	// status database copies most of them).
	Paragraph *deb822.Paragraph
}

// ID is "name version arch", the form plans are printed in.
func (p *Package) ID() string { return p.Name + " " + p.Version + " " + p.Architecture }

// The fields PackageFromParagraph picks out, in the order of pickedNames.
const (
	fPackage = iota
	fVersion
	fArchitecture
	fMultiArch
	fEssential
	fPriority
	fSection
	fSource
	fFilename
	fSHA256
	fPreDepends
	fDepends
	fRecommends
	fSuggests
	fConflicts
	fBreaks
	fReplaces
	fProvides
	fSize
	fInstalledSize
	fNone = -1
)

var pickedNames = [...]string{
	"Package", "Version", "Architecture", "Multi-Arch", "Essential", "Priority", "Section", "Source",
	"Filename", "SHA256", "Pre-Depends", "Depends", "Recommends", "Suggests", "Conflicts", "Breaks",
	"Replaces", "Provides", "Size", "Installed-Size",
}

// pickedField maps a field name (any case) to its f* constant, or fNone.
func pickedField(name string) int {
	for i, n := range pickedNames {
		if len(n) == len(name) && strings.EqualFold(n, name) {
			return i
		}
	}
	return fNone
}

// picking is the state of one pass over a stanza's fields.
type picking struct {
	seen        uint32 // picked fields already set: the first occurrence wins, as with Get
	size, isize string // raw Size and Installed-Size, parsed by check
}

// set stores one picked field.
func (p *Package) set(f int, v string, st *picking) {
	if f == fNone || st.seen&(1<<f) != 0 {
		return
	}
	st.seen |= 1 << f
	switch f {
	case fPackage:
		p.Name = v
	case fVersion:
		p.Version = v
	case fArchitecture:
		p.Architecture = v
	case fMultiArch:
		p.MultiArch = v
	case fEssential:
		p.Essential = v == "yes"
	case fPriority:
		p.Priority = v
	case fSection:
		p.Section = v
	case fSource:
		p.Source = v
	case fFilename:
		p.Filename = v
	case fSHA256:
		p.SHA256 = v
	case fPreDepends:
		p.PreDepends = v
	case fDepends:
		p.Depends = v
	case fRecommends:
		p.Recommends = v
	case fSuggests:
		p.Suggests = v
	case fConflicts:
		p.Conflicts = v
	case fBreaks:
		p.Breaks = v
	case fReplaces:
		p.Replaces = v
	case fProvides:
		p.Provides = v
	case fSize:
		st.size = v // parsed in check, so the error can name the package
	case fInstalledSize:
		st.isize = v
	}
}

// check validates the picked fields and parses the numeric ones.
func (p *Package) check(para *deb822.Paragraph, st *picking) error {
	if p.Name == "" || p.Version == "" || p.Architecture == "" {
		return fmt.Errorf("stanza at line %d lacks Package, Version or Architecture", para.Line)
	}
	var ok bool
	if st.seen&(1<<fSize) != 0 {
		if p.Size, ok = parseSize(st.size); !ok {
			return fmt.Errorf("package %s: bad Size %q", p.Name, st.size)
		}
	}
	if st.seen&(1<<fInstalledSize) != 0 {
		if p.InstalledSize, ok = parseSize(st.isize); !ok {
			return fmt.Errorf("package %s: bad Installed-Size %q", p.Name, st.isize)
		}
	}
	return nil
}

// parseSize parses a non-negative decimal as strconv.ParseInt(s, 10, 64)
// does. Plain digits, which is every size an index holds, take a short
// path: loading an index parses two per stanza, 137,000 a run.
func parseSize(s string) (int64, bool) {
	if n, ok := parseDigits(s); ok {
		return n, true
	}
	n, err := strconv.ParseInt(s, 10, 64)
	return n, err == nil && n >= 0
}

// parseDigits parses 1 to 18 ASCII digits (too few to overflow an int64).
func parseDigits(s string) (int64, bool) {
	if len(s) == 0 || len(s) > 18 {
		return 0, false
	}
	var n int64
	for i := 0; i < len(s); i++ {
		c := s[i]
		if c < '0' || c > '9' {
			return 0, false
		}
		n = n*10 + int64(c-'0')
	}
	return n, true
}

// PackageFromParagraph picks the fields out of one Packages stanza.
func PackageFromParagraph(para *deb822.Paragraph) (*Package, error) {
	p := &Package{Paragraph: para}
	if err := p.fill(para, nil); err != nil {
		return nil, err
	}
	return p, nil
}

// fill picks p's fields out of para in one pass over its fields. names, when
// not nil, caches pickedField per field name (index files repeat a few dozen
// names 68,000 times).
func (p *Package) fill(para *deb822.Paragraph, names map[string]int) error {
	var st picking
	for _, f := range para.Fields {
		var k int
		if names != nil {
			var ok bool
			if k, ok = names[f.Name]; !ok {
				k = pickedField(f.Name)
				names[f.Name] = k
			}
		} else {
			k = pickedField(f.Name)
		}
		p.set(k, f.Value, &st)
	}
	return p.check(para, &st)
}
