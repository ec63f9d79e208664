package apt

import (
	"fmt"
	"strconv"

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

// PackageFromParagraph picks the fields out of one Packages stanza.
func PackageFromParagraph(para *deb822.Paragraph) (*Package, error) {
	p := &Package{
		Name:         para.Get("Package"),
		Version:      para.Get("Version"),
		Architecture: para.Get("Architecture"),
		MultiArch:    para.Get("Multi-Arch"),
		Essential:    para.Get("Essential") == "yes",
		Priority:     para.Get("Priority"),
		Section:      para.Get("Section"),
		Source:       para.Get("Source"),
		Filename:     para.Get("Filename"),
		SHA256:       para.Get("SHA256"),
		PreDepends:   para.Get("Pre-Depends"),
		Depends:      para.Get("Depends"),
		Recommends:   para.Get("Recommends"),
		Suggests:     para.Get("Suggests"),
		Conflicts:    para.Get("Conflicts"),
		Breaks:       para.Get("Breaks"),
		Replaces:     para.Get("Replaces"),
		Provides:     para.Get("Provides"),
		Paragraph:    para,
	}
	if p.Name == "" || p.Version == "" || p.Architecture == "" {
		return nil, fmt.Errorf("stanza at line %d lacks Package, Version or Architecture", para.Line)
	}
	var err error
	if s := para.Get("Size"); s != "" {
		if p.Size, err = strconv.ParseInt(s, 10, 64); err != nil || p.Size < 0 {
			return nil, fmt.Errorf("package %s: bad Size %q", p.Name, s)
		}
	}
	if s := para.Get("Installed-Size"); s != "" {
		if p.InstalledSize, err = strconv.ParseInt(s, 10, 64); err != nil || p.InstalledSize < 0 {
			return nil, fmt.Errorf("package %s: bad Installed-Size %q", p.Name, s)
		}
	}
	return p, nil
}
