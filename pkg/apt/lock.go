package apt

import (
	"bytes"
	"encoding/json"
	"errors"
	"fmt"
	"os"
	"sort"
	"strings"
	"time"

	"github.com/debatom/debatom/internal/atomicfile"
)

// LockVersion is the lockfile format version this package writes and reads.
const LockVersion = 1

// Lock records an exact package set: every package with the hash it must
// have, and the sources it came from. Its JSON form is stable: sources in
// the order given, packages sorted, so the same plan gives the same bytes.
type Lock struct {
	Version  int             `json:"version"`
	Arch     string          `json:"arch"`
	Sources  []LockedSource  `json:"sources"`
	Packages []LockedPackage `json:"packages"`
}

// LockedSource is a source as locked, with the hash of the InRelease that
// was verified when the lock was made.
type LockedSource struct {
	URL           string   `json:"url"`
	Suite         string   `json:"suite"`
	Components    []string `json:"components"`
	Architectures []string `json:"architectures,omitempty"`
	Keyring       string   `json:"keyring,omitempty"`
	Date          string   `json:"date,omitempty"` // the Release's Date
	// Release is what the verified Release said the suite is, so that an
	// offline build, which has no Release, can still tell which release an
	// alias suite (stable, testing) was. Nil in lockfiles written before
	// it was recorded: unknown, not "no codename".
	Release         *LockedRelease `json:"release,omitempty"`
	InReleaseSHA256 string         `json:"inrelease_sha256"`
}

// lockDateLayout is how LockedSource.Date is written (always UTC).
const lockDateLayout = "2006-01-02T15:04:05Z"

// ReleaseDate is the Release's Date as the lock recorded it; zero when it
// did not (ParseLock has checked that a recorded one parses).
func (s LockedSource) ReleaseDate() time.Time {
	t, err := time.Parse(lockDateLayout, s.Date)
	if err != nil {
		return time.Time{}
	}
	return t
}

// LockedRelease is the identity of a locked source's Release file. A field
// the Release did not have is empty.
type LockedRelease struct {
	Codename string `json:"codename,omitempty"`
	Version  string `json:"version,omitempty"` // "13.2"; the Release's, not the lockfile's
}

// LockedPackage is one package of a lock.
type LockedPackage struct {
	Name         string `json:"name"`
	Version      string `json:"version"`
	Architecture string `json:"architecture"`
	Size         int64  `json:"size"`
	SHA256       string `json:"sha256"`
	Filename     string `json:"filename"`
	Origin       string `json:"origin"`
}

// ID is "name version arch".
func (p LockedPackage) ID() string { return p.Name + " " + p.Version + " " + p.Architecture }

// NewLock records pkgs, resolved from ix.
func NewLock(ix *Index, pkgs []*Package, arch string) *Lock {
	l := &Lock{Version: LockVersion, Arch: arch}
	for _, si := range ix.Sources {
		s := si.Source
		ls := LockedSource{URL: s.URL, Suite: s.Suite, Components: s.Components, Architectures: s.Architectures,
			Keyring: s.Keyring, InReleaseSHA256: sha256Hex(si.InRelease)}
		if si.Release != nil {
			if !si.Release.Date.IsZero() {
				ls.Date = si.Release.Date.UTC().Format(lockDateLayout)
			}
			ls.Release = &LockedRelease{Codename: si.Release.Codename, Version: si.Release.Version}
		}
		l.Sources = append(l.Sources, ls)
	}
	for _, p := range pkgs {
		l.Packages = append(l.Packages, LockedPackage{Name: p.Name, Version: p.Version, Architecture: p.Architecture,
			Size: p.Size, SHA256: p.SHA256, Filename: p.Filename, Origin: p.Origin})
	}
	l.sort()
	return l
}

func (l *Lock) sort() {
	sort.Slice(l.Packages, func(i, j int) bool {
		a, b := l.Packages[i], l.Packages[j]
		if a.Name != b.Name {
			return a.Name < b.Name
		}
		if a.Architecture != b.Architecture {
			return a.Architecture < b.Architecture
		}
		return a.Version < b.Version
	})
}

// Marshal returns the lock's JSON form, ending in a newline.
func (l *Lock) Marshal() ([]byte, error) {
	c := *l
	c.Packages = append([]LockedPackage(nil), l.Packages...)
	c.sort()
	b, err := json.MarshalIndent(&c, "", "  ")
	if err != nil {
		return nil, err
	}
	return append(b, '\n'), nil
}

// WriteFile writes the lock to path atomically.
func (l *Lock) WriteFile(path string) error {
	b, err := l.Marshal()
	if err != nil {
		return fmt.Errorf("lockfile %s: %w", path, err)
	}
	if err := atomicfile.WriteFile(path, b, 0o644); err != nil {
		return fmt.Errorf("lockfile %s: %w", path, err)
	}
	return nil
}

// ReadLock reads and checks a lockfile.
func ReadLock(path string) (*Lock, error) {
	data, err := os.ReadFile(path)
	if err != nil {
		return nil, fmt.Errorf("read lockfile: %w", err)
	}
	return ParseLock(data, path)
}

// ParseLock parses a lockfile; name is used in errors.
func ParseLock(data []byte, name string) (*Lock, error) {
	var l Lock
	dec := json.NewDecoder(bytes.NewReader(data))
	dec.DisallowUnknownFields()
	if err := dec.Decode(&l); err != nil {
		return nil, fmt.Errorf("lockfile %s: %w", name, err)
	}
	if l.Version != LockVersion {
		return nil, fmt.Errorf("lockfile %s: version %d, this debatom reads version %d", name, l.Version, LockVersion)
	}
	if len(l.Sources) == 0 {
		return nil, fmt.Errorf("lockfile %s: no sources", name)
	}
	for _, s := range l.Sources {
		if s.URL == "" || s.Suite == "" || len(s.Components) == 0 {
			return nil, fmt.Errorf("lockfile %s: source %q lacks url, suite or components", name, s.URL)
		}
		if _, err := time.Parse(lockDateLayout, s.Date); s.Date != "" && err != nil {
			return nil, fmt.Errorf("lockfile %s: source %q: bad date %q", name, s.URL, s.Date)
		}
	}
	seen := map[string]bool{}
	for _, p := range l.Packages {
		switch {
		case p.Name == "" || p.Version == "" || p.Architecture == "":
			return nil, fmt.Errorf("lockfile %s: entry %q lacks name, version or architecture", name, p.ID())
		case !isHex(p.SHA256, 64):
			return nil, fmt.Errorf("lockfile %s: package %s: bad sha256 %q", name, p.ID(), p.SHA256)
		case p.Size < 0 || p.Filename == "" || p.Origin == "":
			return nil, fmt.Errorf("lockfile %s: package %s lacks size, filename or origin", name, p.ID())
		case seen[p.Name+" "+p.Architecture]:
			return nil, fmt.Errorf("lockfile %s: package %s %s is listed twice", name, p.Name, p.Architecture)
		}
		seen[p.Name+" "+p.Architecture] = true
	}
	return &l, nil
}

// SourceList returns the locked sources, to load their index again.
func (l *Lock) SourceList() []Source {
	var out []Source
	for _, s := range l.Sources {
		out = append(out, Source{URL: s.URL, Suite: s.Suite, Components: s.Components,
			Architectures: s.Architectures, Keyring: s.Keyring})
	}
	return out
}

// Items returns what to download for the lock.
func (l *Lock) Items() ([]Item, error) {
	items := make([]Item, 0, len(l.Packages))
	for _, p := range l.Packages {
		it, err := ItemFor(&Package{Name: p.Name, Version: p.Version, Architecture: p.Architecture,
			Filename: p.Filename, Origin: p.Origin, Size: p.Size, SHA256: p.SHA256})
		if err != nil {
			return nil, err
		}
		items = append(items, it)
	}
	return items, nil
}

// Check compares the lock with an index and reports every locked package
// the index no longer has exactly, as one error ("package X: lock says
// 1.2-1, index has 1.2-2"). A package is the same when name, architecture,
// version and SHA256 agree; the mirror it is served from may differ (a
// mirror bundle of the lock, say). When nothing drifted it returns the
// index's packages for the lock, in lock order, preferring the locked
// origin.
func (l *Lock) Check(ix *Index) ([]*Package, error) {
	byName := map[string][]*Package{}
	for _, p := range ix.Packages {
		k := p.Name + " " + p.Architecture
		byName[k] = append(byName[k], p)
	}
	var drift []string
	var out []*Package
	for _, lp := range l.Packages {
		var match, sameVersion *Package
		var versions []string
		for _, p := range byName[lp.Name+" "+lp.Architecture] {
			switch {
			case p.Version != lp.Version:
				versions = append(versions, p.Version)
			case p.SHA256 != lp.SHA256 || p.Size != lp.Size:
				sameVersion = p
			case match == nil || p.Origin == lp.Origin:
				match = p
			}
		}
		switch {
		case match != nil:
			out = append(out, match)
		case sameVersion != nil:
			drift = append(drift, fmt.Sprintf("package %s %s: lock says SHA256 %s, index has %s", lp.Name, lp.Version, lp.SHA256, sameVersion.SHA256))
		case len(versions) == 0:
			drift = append(drift, fmt.Sprintf("package %s: lock says %s, index has none", lp.Name, lp.Version))
		default:
			drift = append(drift, fmt.Sprintf("package %s: lock says %s, index has %s", lp.Name, lp.Version, strings.Join(versions, ", ")))
		}
	}
	if len(drift) > 0 {
		return nil, fmt.Errorf("%w: %s", ErrDrift, strings.Join(drift, "; "))
	}
	return out, nil
}

// ErrDrift is wrapped by Check's error.
var ErrDrift = errors.New("lock and index differ")
