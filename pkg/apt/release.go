package apt

import (
	"fmt"
	"strconv"
	"strings"
	"time"

	"github.com/debatom/debatom/pkg/deb822"
)

// Release is the verified content of an InRelease file.
type Release struct {
	Origin, Label, Suite, Codename, Version string
	Date, ValidUntil                        time.Time // zero when absent
	Architectures, Components               []string
	AcquireByHash                           bool
	// NoArchAllPackages is "No-Support-for-Architecture-all: Packages": the
	// arch "all" stanzas are inside every binary-<arch>/Packages, and
	// binary-all must not be read as well.
	NoArchAllPackages bool
	// Files maps a path relative to dists/<suite>/ to its SHA256 and size.
	Files map[string]FileHash
}

// FileHash is one line of a Release file's SHA256 section.
type FileHash struct {
	Path   string
	Size   int64
	SHA256 string // lower-case hex
}

// ParseRelease parses a Release file (the plaintext of a verified
// InRelease); name is used in errors.
func ParseRelease(data []byte, name string) (*Release, error) {
	paras, err := deb822.Parse(data, name)
	if err != nil {
		return nil, err
	}
	if len(paras) != 1 {
		return nil, fmt.Errorf("%s: want one paragraph, found %d", name, len(paras))
	}
	p := paras[0]
	r := &Release{
		Origin: p.Get("Origin"), Label: p.Get("Label"), Suite: p.Get("Suite"),
		Codename: p.Get("Codename"), Version: p.Get("Version"),
		Architectures:     strings.Fields(p.Get("Architectures")),
		Components:        strings.Fields(p.Get("Components")),
		AcquireByHash:     strings.EqualFold(p.Get("Acquire-By-Hash"), "yes"),
		NoArchAllPackages: contains(strings.Fields(p.Get("No-Support-for-Architecture-all")), "Packages"),
		Files:             map[string]FileHash{},
	}
	if r.Suite == "" && r.Codename == "" {
		return nil, fmt.Errorf("%s: neither Suite nor Codename is set", name)
	}
	for _, f := range []struct {
		field string
		t     *time.Time
	}{{"Date", &r.Date}, {"Valid-Until", &r.ValidUntil}} {
		if v := p.Get(f.field); v != "" {
			if *f.t, err = parseReleaseTime(v); err != nil {
				return nil, fmt.Errorf("%s: bad %s %q", name, f.field, v)
			}
		}
	}
	sums, ok := p.Lookup("SHA256")
	if !ok {
		return nil, fmt.Errorf("%s: no SHA256 section (weaker hashes are not trusted)", name)
	}
	for _, line := range strings.Split(sums, "\n") {
		f := strings.Fields(line)
		if len(f) == 0 {
			continue
		}
		if len(f) != 3 || !isHex(f[0], 64) {
			return nil, fmt.Errorf("%s: bad SHA256 line %q", name, line)
		}
		size, err := strconv.ParseInt(f[1], 10, 64)
		if err != nil || size < 0 {
			return nil, fmt.Errorf("%s: bad size in SHA256 line %q", name, line)
		}
		if strings.HasPrefix(f[2], "/") || strings.Contains("/"+f[2]+"/", "/../") {
			return nil, fmt.Errorf("%s: unsafe path in SHA256 line %q", name, line)
		}
		r.Files[f[2]] = FileHash{Path: f[2], Size: size, SHA256: strings.ToLower(f[0])}
	}
	if len(r.Files) == 0 {
		return nil, fmt.Errorf("%s: SHA256 section lists no files", name)
	}
	return r, nil
}

// parseReleaseTime accepts the RFC 1123 forms archives use.
func parseReleaseTime(v string) (time.Time, error) {
	var err error
	for _, layout := range []string{time.RFC1123, time.RFC1123Z, "Mon, 2 Jan 2006 15:04:05 MST", "Mon, 2 Jan 2006 15:04:05 -0700"} {
		var t time.Time
		if t, err = time.Parse(layout, v); err == nil {
			return t.UTC(), nil
		}
	}
	return time.Time{}, err
}

func isHex(s string, n int) bool {
	if len(s) != n {
		return false
	}
	for i := 0; i < len(s); i++ {
		c := s[i]
		if !('0' <= c && c <= '9' || 'a' <= c && c <= 'f' || 'A' <= c && c <= 'F') {
			return false
		}
	}
	return true
}
