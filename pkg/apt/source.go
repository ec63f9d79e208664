package apt

import (
	"errors"
	"fmt"
	"io/fs"
	"os"
	"path/filepath"
	"sort"
	"strings"

	"github.com/debatom/debatom/pkg/deb822"
)

// Source is one signed apt repository suite: where it is, which parts of it
// to read and which keys may sign it.
type Source struct {
	URL           string   // mirror root: http://, https:// or file://, no trailing slash
	Suite         string   // "trixie", "trixie-updates", ...
	Components    []string // "main", ...
	Architectures []string // empty: the build architecture
	// Keyring is the path of a keyring file (binary or armored) holding the
	// keys trusted for this source.
	Keyring string
	// SignedBy is an armored public key block given inline, as deb822
	// .sources files may do; it is trusted in addition to Keyring.
	SignedBy string
}

// String names the source in messages: "URL suite".
func (s Source) String() string { return s.URL + " " + s.Suite }

// origin is what Package.Origin holds for stanzas of one component.
func (s Source) origin(component string) string {
	return s.URL + " " + s.Suite + "/" + component
}

// OriginURL returns the mirror URL part of a Package.Origin.
func OriginURL(origin string) string {
	u, _, _ := strings.Cut(origin, " ")
	return u
}

// ReadHostSources reads the apt sources configured under root (normally
// "/"): etc/apt/sources.list, etc/apt/sources.list.d/*.list and
// etc/apt/sources.list.d/*.sources, in apt's order. Only "deb" entries are
// returned; disabled entries and deb-src are skipped. A missing
// configuration yields no sources and no error.
func ReadHostSources(root string) ([]Source, error) {
	var out []Source
	main := filepath.Join(root, "etc/apt/sources.list")
	if data, err := os.ReadFile(main); err == nil {
		s, err := ParseSourcesList(data, main)
		if err != nil {
			return nil, err
		}
		out = append(out, s...)
	} else if !errors.Is(err, fs.ErrNotExist) {
		return nil, fmt.Errorf("read apt sources: %w", err)
	}
	dir := filepath.Join(root, "etc/apt/sources.list.d")
	entries, err := os.ReadDir(dir)
	if err != nil && !errors.Is(err, fs.ErrNotExist) {
		return nil, fmt.Errorf("read apt sources: %w", err)
	}
	names := make([]string, 0, len(entries))
	for _, e := range entries {
		names = append(names, e.Name())
	}
	sort.Strings(names) // apt reads the directory in alphabetical order
	for _, n := range names {
		path := filepath.Join(dir, n)
		var parse func([]byte, string) ([]Source, error)
		switch filepath.Ext(n) {
		case ".list":
			parse = ParseSourcesList
		case ".sources":
			parse = ParseSources
		default:
			continue
		}
		data, err := os.ReadFile(path)
		if err != nil {
			return nil, fmt.Errorf("read apt sources: %w", err)
		}
		s, err := parse(data, path)
		if err != nil {
			return nil, err
		}
		out = append(out, s...)
	}
	return out, nil
}

// ParseSources parses a deb822 .sources file; name is used in errors.
func ParseSources(data []byte, name string) ([]Source, error) {
	paras, err := deb822.Parse(data, name)
	if err != nil {
		return nil, err
	}
	var out []Source
	for _, p := range paras {
		if strings.EqualFold(p.Get("Enabled"), "no") {
			continue
		}
		if !contains(strings.Fields(p.Get("Types")), "deb") {
			continue
		}
		uris, suites := strings.Fields(p.Get("URIs")), strings.Fields(p.Get("Suites"))
		if len(uris) == 0 || len(suites) == 0 {
			return nil, fmt.Errorf("%s:%d: entry lacks URIs or Suites", name, p.Line)
		}
		comps := fieldsOrNil(p.Get("Components"))
		archs := fieldsOrNil(p.Get("Architectures"))
		var keyring, inline string
		if sb := p.Get("Signed-By"); strings.Contains(sb, "BEGIN PGP PUBLIC KEY BLOCK") {
			// Continuation lines keep "." for empty lines; undo that.
			lines := strings.Split(sb, "\n")
			for i, l := range lines {
				if l == "." {
					lines[i] = ""
				}
			}
			inline = strings.Join(lines, "\n")
		} else if f := strings.Fields(sb); len(f) > 0 {
			keyring = f[0] // apt also accepts fingerprints; a path is what Debian ships
		}
		for _, u := range uris {
			for _, s := range suites {
				out = append(out, Source{URL: strings.TrimRight(u, "/"), Suite: s, Components: comps,
					Architectures: archs, Keyring: keyring, SignedBy: inline})
			}
		}
	}
	return out, nil
}

// ParseSourcesList parses the one-line format of sources.list:
//
//	deb [arch=amd64 signed-by=/usr/share/keyrings/x.gpg] http://deb.debian.org/debian trixie main
func ParseSourcesList(data []byte, name string) ([]Source, error) {
	var out []Source
	for i, line := range strings.Split(string(data), "\n") {
		if c := strings.IndexByte(line, '#'); c >= 0 {
			line = line[:c]
		}
		line = strings.TrimSpace(line)
		if line == "" {
			continue
		}
		typ, rest, _ := strings.Cut(line, " ")
		rest = strings.TrimSpace(rest)
		if typ != "deb" && typ != "deb-src" {
			return nil, fmt.Errorf("%s:%d: unknown entry type %q (want deb or deb-src)", name, i+1, typ)
		}
		var opts []string
		if strings.HasPrefix(rest, "[") {
			end := strings.IndexByte(rest, ']')
			if end < 0 {
				return nil, fmt.Errorf("%s:%d: options not closed by ']'", name, i+1)
			}
			opts, rest = strings.Fields(rest[1:end]), rest[end+1:]
		}
		f := strings.Fields(rest)
		if len(f) < 2 {
			return nil, fmt.Errorf("%s:%d: entry needs a URI and a suite", name, i+1)
		}
		if typ != "deb" {
			continue
		}
		s := Source{URL: strings.TrimRight(f[0], "/"), Suite: f[1], Components: fieldsOrNil(strings.Join(f[2:], " "))}
		for _, o := range opts {
			k, v, ok := strings.Cut(o, "=")
			if !ok {
				return nil, fmt.Errorf("%s:%d: option %q is not key=value", name, i+1, o)
			}
			switch k {
			case "arch":
				s.Architectures = strings.Split(v, ",")
			case "signed-by":
				s.Keyring = strings.Split(v, ",")[0]
			}
		}
		out = append(out, s)
	}
	return out, nil
}

func contains(list []string, s string) bool {
	for _, v := range list {
		if v == s {
			return true
		}
	}
	return false
}

// fieldsOrNil is strings.Fields, but nil for no fields, so that sources read
// from either format compare equal.
func fieldsOrNil(s string) []string {
	if f := strings.Fields(s); len(f) > 0 {
		return f
	}
	return nil
}
