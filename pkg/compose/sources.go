package compose

import (
	"fmt"
	"strings"

	"github.com/debatom/debatom/pkg/apt"
	"github.com/debatom/debatom/pkg/treefile"
)

// DefaultSuite is what debatom builds when nothing names a suite: Debian 13.
const DefaultSuite = "trixie"

// SourceOverrides are the command line's say over the treefile's sources.
type SourceOverrides struct {
	Mirror  string // replaces every source's mirror
	Keyring string // replaces every source's keyring
	Suite   string // replaces the suites: "forky", or "trixie,trixie-updates"
}

// Sources decides where packages come from: the treefile's sources, with
// the overrides applied; without treefile sources, the host's apt
// configuration (its Debian mirror and the keyring it trusts, for the
// target suite). hostRoot is normally "/".
func Sources(tf *treefile.Treefile, o SourceOverrides, arch, hostRoot string) ([]apt.Source, error) {
	var out []apt.Source
	suites := splitList(o.Suite)
	for _, s := range tf.Sources {
		ss := s.AllSuites()
		if len(suites) > 0 {
			ss = suites
		}
		if len(ss) == 0 {
			ss = []string{DefaultSuite}
		}
		comps := s.Components
		if len(comps) == 0 {
			comps = []string{"main"}
		}
		for _, suite := range ss {
			out = append(out, apt.Source{URL: pick(o.Mirror, s.Mirror), Suite: suite, Components: comps, Keyring: pick(o.Keyring, s.Keyring)})
		}
	}
	if len(out) > 0 {
		return out, checkSources(out)
	}
	if len(suites) == 0 {
		suites = []string{DefaultSuite}
	}
	if o.Mirror != "" {
		if o.Keyring == "" {
			return nil, fmt.Errorf("--mirror %s needs --keyring FILE (the keys that sign it)", o.Mirror)
		}
		for _, suite := range suites {
			out = append(out, apt.Source{URL: strings.TrimRight(o.Mirror, "/"), Suite: suite, Components: []string{"main"}, Keyring: o.Keyring})
		}
		return out, nil
	}
	mirror, security, err := apt.ReadHostMirror(hostRoot)
	if err != nil {
		return nil, fmt.Errorf("reading the host's apt sources: %w", err)
	}
	host := security
	if mirror != nil {
		host = append(host, *mirror)
	}
	for _, h := range host {
		kr := pick(o.Keyring, h.Keyring)
		if kr == "" && h.SignedBy == "" {
			kr = "/usr/share/keyrings/debian-archive-keyring.gpg"
		}
		// The host may run another release: take its mirror, not its suite.
		for _, suite := range suites {
			if strings.HasSuffix(strings.TrimRight(h.URL, "/"), "-security") {
				if suite == DefaultSuite || !strings.Contains(suite, "-") {
					out = append(out, apt.Source{URL: h.URL, Suite: suite + "-security", Components: []string{"main"}, Keyring: kr, SignedBy: h.SignedBy})
				}
				continue
			}
			out = append(out, apt.Source{URL: h.URL, Suite: suite, Components: []string{"main"}, Keyring: kr, SignedBy: h.SignedBy})
		}
	}
	out = dedupe(out)
	if len(out) == 0 {
		return nil, fmt.Errorf("no Debian mirror: the treefile names no sources and the host's apt configuration has no Debian archive; pass --mirror URL --keyring FILE")
	}
	return out, checkSources(out)
}

func checkSources(ss []apt.Source) error {
	for _, s := range ss {
		if s.Keyring == "" && s.SignedBy == "" {
			return fmt.Errorf("source %s has no keyring: pass --keyring FILE or set keyring in the treefile", s)
		}
	}
	return nil
}

func dedupe(ss []apt.Source) []apt.Source {
	seen := map[string]bool{}
	var out []apt.Source
	for _, s := range ss {
		k := s.URL + " " + s.Suite
		if !seen[k] {
			seen[k] = true
			out = append(out, s)
		}
	}
	return out
}

func pick(a, b string) string {
	if a != "" {
		return a
	}
	return b
}

func splitList(s string) []string {
	var out []string
	for _, f := range strings.FieldsFunc(s, func(r rune) bool { return r == ',' || r == ' ' }) {
		out = append(out, f)
	}
	return out
}
