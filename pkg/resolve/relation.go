package resolve

import (
	"fmt"
	"strings"

	"github.com/debatom/debatom/pkg/debversion"
)

// Op is a version relation operator of a relationship field.
type Op uint8

// The operators of deb-control(5). The obsolete "<" and ">" mean "<=" and
// ">=" (dpkg and apt read them so), and parse to OpLE and OpGE.
const (
	OpNone Op = iota // no version restriction
	OpLT             // <<
	OpLE             // <=
	OpEQ             // =
	OpGE             // >=
	OpGT             // >>
)

func (o Op) String() string {
	return [...]string{"", "<<", "<=", "=", ">=", ">>"}[o]
}

// Relation is one package reference of a relationship field, such as
// "libc6:any (>= 2.34) [amd64] <!nocheck>".
type Relation struct {
	Name    string
	Arch    string // "" (none), "any", "native" or an architecture name
	Op      Op
	Version string // "" when Op is OpNone
	// ArchRestrict is the "[...]" list as written ("amd64", "!i386"); binary
	// package indexes never carry one, but source-style fields do.
	ArchRestrict []string
	// Profiles holds the "<...>" build-profile lists, each a list of terms.
	Profiles [][]string
}

// Group is an OR-group: alternatives separated by "|".
type Group []Relation

// String formats the relation the way Debian writes it.
func (r Relation) String() string {
	var b strings.Builder
	b.WriteString(r.Name)
	if r.Arch != "" {
		b.WriteString(":" + r.Arch)
	}
	if r.Op != OpNone {
		b.WriteString(" (" + r.Op.String() + " " + r.Version + ")")
	}
	if len(r.ArchRestrict) > 0 {
		b.WriteString(" [" + strings.Join(r.ArchRestrict, " ") + "]")
	}
	for _, p := range r.Profiles {
		b.WriteString(" <" + strings.Join(p, " ") + ">")
	}
	return b.String()
}

func (g Group) String() string {
	s := make([]string, len(g))
	for i, r := range g {
		s[i] = r.String()
	}
	return strings.Join(s, " | ")
}

// Satisfies reports whether version v meets the relation's version
// restriction.
func (r Relation) Satisfies(v string) bool {
	if r.Op == OpNone {
		return true
	}
	c := debversion.Compare(v, r.Version)
	switch r.Op {
	case OpLT:
		return c < 0
	case OpLE:
		return c <= 0
	case OpEQ:
		return c == 0
	case OpGE:
		return c >= 0
	case OpGT:
		return c > 0
	}
	return false
}

// AppliesTo reports whether the relation is active when building for arch
// with no build profiles enabled, the state binary package fields are in.
func (r Relation) AppliesTo(arch string) bool {
	if len(r.ArchRestrict) > 0 {
		neg := strings.HasPrefix(r.ArchRestrict[0], "!")
		match := false
		for _, a := range r.ArchRestrict {
			// Wildcards as dpkg-architecture knows them for a Linux arch.
			switch a = strings.TrimPrefix(a, "!"); a {
			case arch, "any", "linux-any", "any-" + arch, "linux-" + arch:
				match = true
			}
		}
		if neg == match {
			return false
		}
	}
	if len(r.Profiles) == 0 {
		return true
	}
	// A formula is a disjunction of lists, each a conjunction of terms; with
	// no profile active, "!p" holds and "p" does not.
	for _, list := range r.Profiles {
		ok := true
		for _, term := range list {
			if !strings.HasPrefix(term, "!") {
				ok = false
			}
		}
		if ok {
			return true
		}
	}
	return false
}

// ParseRelations parses a relationship field (Depends, Pre-Depends,
// Recommends, Conflicts, Breaks, Replaces, Provides, ...) into its
// comma-separated groups. Line breaks count as blanks, as in any folded
// field. An empty field gives no groups.
func ParseRelations(field string) ([]Group, error) {
	if strings.TrimSpace(field) == "" {
		return nil, nil
	}
	parts := strings.Split(field, ",")
	groups := make([]Group, 0, len(parts))
	for i, part := range parts {
		if strings.TrimSpace(part) == "" {
			if i == len(parts)-1 && i > 0 {
				break // dpkg tolerates a trailing comma
			}
			return nil, fmt.Errorf("relationship field %q: empty element", oneLine(field))
		}
		alts := strings.Split(part, "|")
		g := make(Group, 0, len(alts))
		for _, alt := range alts {
			r, err := parseRelation(alt)
			if err != nil {
				return nil, fmt.Errorf("relationship field %q: %w", oneLine(field), err)
			}
			g = append(g, r)
		}
		groups = append(groups, g)
	}
	return groups, nil
}

func oneLine(s string) string {
	s = strings.Join(strings.Fields(s), " ")
	if len(s) > 80 {
		s = s[:77] + "..."
	}
	return s
}

func isBlank(c byte) bool { return c == ' ' || c == '\t' || c == '\n' || c == '\r' }

func skipBlanks(s string, i int) int {
	for i < len(s) && isBlank(s[i]) {
		i++
	}
	return i
}

// parseRelation parses one alternative.
func parseRelation(s string) (Relation, error) {
	var r Relation
	i := skipBlanks(s, 0)
	start := i
	for i < len(s) && isNameChar(s[i]) {
		i++
	}
	if i == start {
		if strings.TrimSpace(s) == "" {
			return r, fmt.Errorf("empty alternative")
		}
		return r, fmt.Errorf("%q: missing package name", strings.TrimSpace(s))
	}
	r.Name = s[start:i]
	if !validName(r.Name) {
		return r, fmt.Errorf("%q: invalid package name", r.Name)
	}
	if i < len(s) && s[i] == ':' {
		i++
		as := i
		for i < len(s) && isNameChar(s[i]) {
			i++
		}
		if i == as {
			return r, fmt.Errorf("%q: empty architecture qualifier", r.Name)
		}
		r.Arch = s[as:i]
	}
	i = skipBlanks(s, i)
	if i < len(s) && s[i] == '(' {
		end := strings.IndexByte(s[i:], ')')
		if end < 0 {
			return r, fmt.Errorf("%q: unclosed version restriction", r.Name)
		}
		inner := strings.TrimSpace(s[i+1 : i+end])
		i += end + 1
		var op Op
		switch {
		case strings.HasPrefix(inner, "<<"):
			op, inner = OpLT, inner[2:]
		case strings.HasPrefix(inner, "<="):
			op, inner = OpLE, inner[2:]
		case strings.HasPrefix(inner, ">>"):
			op, inner = OpGT, inner[2:]
		case strings.HasPrefix(inner, ">="):
			op, inner = OpGE, inner[2:]
		case strings.HasPrefix(inner, "="):
			op, inner = OpEQ, inner[1:]
		case strings.HasPrefix(inner, "<"):
			op, inner = OpLE, inner[1:]
		case strings.HasPrefix(inner, ">"):
			op, inner = OpGE, inner[1:]
		default:
			return r, fmt.Errorf("%q: version restriction %q has no operator", r.Name, inner)
		}
		inner = strings.TrimSpace(inner)
		if _, err := debversion.Parse(inner); err != nil {
			return r, fmt.Errorf("%s: %w", r.Name, err)
		}
		r.Op, r.Version = op, inner
		i = skipBlanks(s, i)
	}
	if i < len(s) && s[i] == '[' {
		end := strings.IndexByte(s[i:], ']')
		if end < 0 {
			return r, fmt.Errorf("%q: unclosed architecture restriction", r.Name)
		}
		r.ArchRestrict = strings.Fields(s[i+1 : i+end])
		if len(r.ArchRestrict) == 0 {
			return r, fmt.Errorf("%q: empty architecture restriction", r.Name)
		}
		neg := strings.HasPrefix(r.ArchRestrict[0], "!")
		for _, a := range r.ArchRestrict {
			if strings.HasPrefix(a, "!") != neg {
				return r, fmt.Errorf("%q: architecture restriction mixes negated and plain names", r.Name)
			}
		}
		i = skipBlanks(s, i+end+1)
	}
	for i < len(s) && s[i] == '<' {
		end := strings.IndexByte(s[i:], '>')
		if end < 0 {
			return r, fmt.Errorf("%q: unclosed build profile restriction", r.Name)
		}
		terms := strings.Fields(s[i+1 : i+end])
		if len(terms) == 0 {
			return r, fmt.Errorf("%q: empty build profile restriction", r.Name)
		}
		r.Profiles = append(r.Profiles, terms)
		i = skipBlanks(s, i+end+1)
	}
	if i != len(s) {
		return r, fmt.Errorf("%q: unexpected %q", r.Name, strings.TrimSpace(s[i:]))
	}
	return r, nil
}

// isNameChar accepts the characters of package and architecture names.
func isNameChar(c byte) bool {
	return c >= 'a' && c <= 'z' || c >= '0' && c <= '9' || c == '+' || c == '-' || c == '.' ||
		c >= 'A' && c <= 'Z' || c == '_' // upper case and '_' occur in old and third-party indexes
}

// validName applies policy §5.6.1 loosely: at least two characters
// starting with an alphanumeric.
func validName(n string) bool {
	if len(n) < 2 {
		return false
	}
	c := n[0]
	return c >= 'a' && c <= 'z' || c >= '0' && c <= '9' || c >= 'A' && c <= 'Z'
}
