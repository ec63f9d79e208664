// Package treefile reads debatom treefiles: declarative YAML descriptions of
// an OS tree, in the spirit of rpm-ostree's treefiles, with what Debian needs
// (apt sources, mmdebstrap-style baselines, Recommends).
//
// A treefile may include others; included values come first and the
// including file overrides scalars, extends lists and merges maps. Unknown
// keys are errors naming the file and line, because a typo'd key silently
// ignored is a package silently missing from an OS image.
package treefile

import (
	"bytes"
	"embed"
	"errors"
	"fmt"
	"io/fs"
	"os"
	"path"
	"path/filepath"
	"regexp"
	"sort"
	"strings"

	yaml "go.yaml.in/yaml/v3"
)

// Source is one apt source.
type Source struct {
	Mirror     string   `yaml:"mirror"`
	Suite      string   `yaml:"suite,omitempty"`
	Suites     []string `yaml:"suites,omitempty"`
	Components []string `yaml:"components,omitempty"`
	Keyring    string   `yaml:"keyring,omitempty"`
}

// AllSuites returns Suite followed by Suites.
func (s Source) AllSuites() []string {
	var out []string
	if s.Suite != "" {
		out = append(out, s.Suite)
	}
	return append(out, s.Suites...)
}

// Units lists systemd units to act on after the packages' own enablement.
type Units struct {
	Enable  []string `yaml:"enable,omitempty"`
	Disable []string `yaml:"disable,omitempty"`
	Mask    []string `yaml:"mask,omitempty"`
}

// User is an account the image should have.
type User struct {
	Name         string   `yaml:"name"`
	UID          *uint32  `yaml:"uid,omitempty"`
	GID          *uint32  `yaml:"gid,omitempty"`
	Groups       []string `yaml:"groups,omitempty"`
	PasswordHash string   `yaml:"password-hash,omitempty"` // crypt(3) string; "" locks the password
	SSHKeys      []string `yaml:"ssh-keys,omitempty"`
	Home         string   `yaml:"home,omitempty"`
	Shell        string   `yaml:"shell,omitempty"`
	Gecos        string   `yaml:"gecos,omitempty"`
}

// Group is a group the image should have.
type Group struct {
	Name string  `yaml:"name"`
	GID  *uint32 `yaml:"gid,omitempty"`
}

// File is a file added to the tree after configuration.
type File struct {
	Path    string `yaml:"path"`
	Content string `yaml:"content,omitempty"`
	Source  string `yaml:"source,omitempty"` // relative to the treefile that names it
	Mode    string `yaml:"mode,omitempty"`   // octal, default 0644
	Owner   string `yaml:"owner,omitempty"`  // "uid:gid", default 0:0
	// Dir is the directory of the treefile that declared the file, for
	// resolving Source; set by Load.
	Dir string `yaml:"-"`
}

// Initramfs adds to the generic initramfs.
type Initramfs struct {
	Modules []string `yaml:"modules,omitempty"`
	Files   []string `yaml:"files,omitempty"`
}

// Treefile is a fully merged treefile.
type Treefile struct {
	Ref                    string            `yaml:"ref,omitempty"`
	Variant                string            `yaml:"variant,omitempty"`
	Architectures          []string          `yaml:"architectures,omitempty"`
	Sources                []Source          `yaml:"sources,omitempty"`
	Baseline               string            `yaml:"baseline,omitempty"`
	Packages               []string          `yaml:"packages,omitempty"`
	ExcludePackages        []string          `yaml:"exclude-packages,omitempty"`
	Recommends             *bool             `yaml:"recommends,omitempty"`
	Units                  Units             `yaml:"units,omitempty"`
	DefaultTarget          string            `yaml:"default-target,omitempty"`
	Users                  []User            `yaml:"users,omitempty"`
	Groups                 []Group           `yaml:"groups,omitempty"`
	AddFiles               []File            `yaml:"add-files,omitempty"`
	RemoveFiles            []string          `yaml:"remove-files,omitempty"`
	KernelArgs             []string          `yaml:"kernel-args,omitempty"`
	OSRelease              map[string]string `yaml:"os-release,omitempty"`
	Version                string            `yaml:"version,omitempty"`
	AutomaticVersionPrefix string            `yaml:"automatic-version-prefix,omitempty"`
	Initramfs              Initramfs         `yaml:"initramfs,omitempty"`
	Metadata               map[string]string `yaml:"metadata,omitempty"`
}

// raw is one file as written: Treefile plus include.
type raw struct {
	Include  stringList `yaml:"include,omitempty"`
	Treefile `yaml:",inline"`
}

// stringList accepts a scalar or a sequence.
type stringList []string

func (s *stringList) UnmarshalYAML(n *yaml.Node) error {
	switch n.Kind {
	case yaml.ScalarNode:
		*s = []string{n.Value}
		return nil
	case yaml.SequenceNode:
		var l []string
		if err := n.Decode(&l); err != nil {
			return err
		}
		*s = l
		return nil
	}
	return fmt.Errorf("line %d: include must be a file name or a list of them", n.Line)
}

//go:embed variants/*.yaml
var embedded embed.FS

// Variants lists the embedded variants a user can build by name.
func Variants() []string {
	ents, _ := fs.ReadDir(embedded, "variants")
	var out []string
	for _, e := range ents {
		n := strings.TrimSuffix(e.Name(), ".yaml")
		if n != "common" {
			out = append(out, n)
		}
	}
	sort.Strings(out)
	return out
}

// Embedded returns the embedded variant files (name → YAML), so the CLI can
// write them out for users to copy and edit.
func Embedded() map[string][]byte {
	out := map[string][]byte{}
	ents, _ := fs.ReadDir(embedded, "variants")
	for _, e := range ents {
		b, _ := fs.ReadFile(embedded, "variants/"+e.Name())
		out[e.Name()] = b
	}
	return out
}

// LoadVariant loads an embedded variant by name.
func LoadVariant(name string) (*Treefile, error) {
	if name == "common" || !fs.ValidPath(name) || strings.Contains(name, "/") {
		return nil, fmt.Errorf("unknown variant %q (have %s)", name, strings.Join(Variants(), ", "))
	}
	if _, err := fs.Stat(embedded, "variants/"+name+".yaml"); err != nil {
		return nil, fmt.Errorf("unknown variant %q (have %s)", name, strings.Join(Variants(), ", "))
	}
	t, err := load(embeddedFS{}, "variants/"+name+".yaml")
	if err != nil {
		return nil, err
	}
	if t.Variant == "" {
		t.Variant = name
	}
	return t, nil
}

// Load reads the treefile at path, resolving includes relative to each
// including file. An include naming an embedded variant file that does not
// exist on disk ("common.yaml", "base.yaml") falls back to the embedded one,
// so user treefiles can build on the shipped variants.
func Load(file string) (*Treefile, error) {
	return load(osFS{}, file)
}

// Parse reads a treefile from memory (no includes allowed).
func Parse(name string, data []byte) (*Treefile, error) {
	r, err := decode(name, data)
	if err != nil {
		return nil, err
	}
	if len(r.Include) > 0 {
		return nil, fmt.Errorf("%s: include is not allowed here", name)
	}
	t := &Treefile{}
	merge(t, &r.Treefile)
	return t, t.validate(name)
}

type opener interface {
	read(name string) ([]byte, error)
	join(dir, name string) string
	dir(name string) string
}

type osFS struct{}

func (osFS) read(name string) ([]byte, error) {
	b, err := os.ReadFile(name)
	if errors.Is(err, fs.ErrNotExist) {
		if eb, eerr := fs.ReadFile(embedded, "variants/"+filepath.Base(name)); eerr == nil {
			return eb, nil
		}
	}
	return b, err
}
func (osFS) join(dir, name string) string {
	if filepath.IsAbs(name) {
		return name
	}
	return filepath.Join(dir, name)
}
func (osFS) dir(name string) string { return filepath.Dir(name) }

type embeddedFS struct{}

func (embeddedFS) read(name string) ([]byte, error) { return fs.ReadFile(embedded, name) }
func (embeddedFS) join(dir, name string) string     { return path.Join(dir, name) }
func (embeddedFS) dir(name string) string           { return path.Dir(name) }

func load(o opener, file string) (*Treefile, error) {
	t := &Treefile{}
	if err := loadInto(o, file, t, nil); err != nil {
		return nil, err
	}
	return t, t.validate(file)
}

func loadInto(o opener, file string, into *Treefile, stack []string) error {
	for i, s := range stack {
		if s == file {
			return fmt.Errorf("include cycle: %s", strings.Join(append(stack[i:], file), " → "))
		}
	}
	if len(stack) > 32 {
		return fmt.Errorf("%s: includes nested more than 32 deep", file)
	}
	data, err := o.read(file)
	if err != nil {
		return fmt.Errorf("treefile: %w", err)
	}
	r, err := decode(file, data)
	if err != nil {
		return err
	}
	stack = append(stack, file)
	for _, inc := range r.Include {
		if err := loadInto(o, o.join(o.dir(file), inc), into, stack); err != nil {
			return err
		}
	}
	for i := range r.AddFiles {
		r.AddFiles[i].Dir = o.dir(file)
	}
	merge(into, &r.Treefile)
	return nil
}

var lineRE = regexp.MustCompile(`line (\d+)`)

func decode(name string, data []byte) (*raw, error) {
	dec := yaml.NewDecoder(bytes.NewReader(data))
	dec.KnownFields(true)
	var r raw
	if err := dec.Decode(&r); err != nil {
		if errors.Is(err, errEOF) || err.Error() == "EOF" {
			return &r, nil // an empty file is an empty treefile
		}
		msg := err.Error()
		msg = strings.TrimPrefix(msg, "yaml: unmarshal errors:\n  ")
		msg = strings.ReplaceAll(msg, "\n  ", "; ")
		msg = strings.TrimPrefix(msg, "yaml: ")
		msg = strings.ReplaceAll(msg, "\n", `\n`) // quoted YAML values may hold newlines
		// "line 3: field pakages not found in type treefile.raw" → "NAME:3: unknown key "pakages""
		if m := unknownRE.FindStringSubmatch(msg); m != nil {
			return nil, fmt.Errorf("%s:%s: unknown key %q", name, m[1], m[2])
		}
		if m := lineRE.FindStringSubmatch(msg); m != nil {
			msg = strings.Replace(msg, m[0]+": ", "", 1)
			return nil, fmt.Errorf("%s:%s: %s", name, m[1], msg)
		}
		return nil, fmt.Errorf("%s: %s", name, msg)
	}
	return &r, nil
}

var (
	unknownRE = regexp.MustCompile(`^line (\d+): field (\S+) not found in type`)
	errEOF    = errors.New("EOF")
)

// merge applies src over dst: scalars replace when set, lists append
// (without duplicates), maps merge.
func merge(dst, src *Treefile) {
	setS := func(d *string, s string) {
		if s != "" {
			*d = s
		}
	}
	setS(&dst.Ref, src.Ref)
	setS(&dst.Variant, src.Variant)
	setS(&dst.Baseline, src.Baseline)
	setS(&dst.DefaultTarget, src.DefaultTarget)
	setS(&dst.Version, src.Version)
	setS(&dst.AutomaticVersionPrefix, src.AutomaticVersionPrefix)
	if src.Recommends != nil {
		v := *src.Recommends
		dst.Recommends = &v
	}
	if len(src.Architectures) > 0 {
		dst.Architectures = append([]string(nil), src.Architectures...)
	}
	if len(src.Sources) > 0 {
		dst.Sources = append([]Source(nil), src.Sources...)
	}
	dst.Packages = appendUnique(dst.Packages, src.Packages)
	dst.ExcludePackages = appendUnique(dst.ExcludePackages, src.ExcludePackages)
	dst.Units.Enable = appendUnique(dst.Units.Enable, src.Units.Enable)
	dst.Units.Disable = appendUnique(dst.Units.Disable, src.Units.Disable)
	dst.Units.Mask = appendUnique(dst.Units.Mask, src.Units.Mask)
	dst.RemoveFiles = appendUnique(dst.RemoveFiles, src.RemoveFiles)
	dst.KernelArgs = appendUnique(dst.KernelArgs, src.KernelArgs)
	dst.Initramfs.Modules = appendUnique(dst.Initramfs.Modules, src.Initramfs.Modules)
	dst.Initramfs.Files = appendUnique(dst.Initramfs.Files, src.Initramfs.Files)
	dst.Users = append(dst.Users, src.Users...)
	dst.Groups = append(dst.Groups, src.Groups...)
	dst.AddFiles = append(dst.AddFiles, src.AddFiles...)
	dst.OSRelease = mergeMap(dst.OSRelease, src.OSRelease)
	dst.Metadata = mergeMap(dst.Metadata, src.Metadata)
}

func appendUnique(dst, src []string) []string {
	seen := make(map[string]bool, len(dst))
	for _, s := range dst {
		seen[s] = true
	}
	for _, s := range src {
		if !seen[s] {
			seen[s] = true
			dst = append(dst, s)
		}
	}
	return dst
}

func mergeMap(dst, src map[string]string) map[string]string {
	if len(src) == 0 {
		return dst
	}
	if dst == nil {
		dst = map[string]string{}
	}
	for k, v := range src {
		dst[k] = v
	}
	return dst
}

var baselines = map[string]bool{"": true, "essential": true, "minbase": true, "required": true, "important": true, "standard": true}

func (t *Treefile) validate(name string) error {
	if !baselines[t.Baseline] {
		return fmt.Errorf("%s: baseline %q is not one of essential, minbase, required, important, standard", name, t.Baseline)
	}
	for _, s := range t.Sources {
		if s.Mirror == "" {
			return fmt.Errorf("%s: a source lacks mirror", name)
		}
	}
	for _, u := range t.Users {
		if u.Name == "" {
			return fmt.Errorf("%s: a user lacks name", name)
		}
	}
	for _, g := range t.Groups {
		if g.Name == "" {
			return fmt.Errorf("%s: a group lacks name", name)
		}
	}
	for _, f := range t.AddFiles {
		if f.Path == "" {
			return fmt.Errorf("%s: an add-files entry lacks path", name)
		}
		if (f.Content == "") == (f.Source == "") && f.Content == "" && f.Source == "" {
			continue // an empty file is allowed
		}
		if f.Content != "" && f.Source != "" {
			return fmt.Errorf("%s: add-files %s has both content and source", name, f.Path)
		}
	}
	for _, k := range t.KernelArgs {
		if strings.ContainsAny(k, "\n\"") {
			return fmt.Errorf("%s: kernel argument %q contains a newline or quote", name, k)
		}
	}
	return nil
}

// Vars are the values ${name} expands to in Ref and Version. compose sets
// arch, basearch, variant and releasever (the Debian major version being
// built: "13" for trixie, "14" for forky, "sid" for sid; see ReleaseVer).
type Vars map[string]string

var varRE = regexp.MustCompile(`\$\{([A-Za-z_][A-Za-z0-9_]*)\}`)

// UnknownVarError is an expansion of a variable that has no value, so a
// caller can tell why (compose explains a ${releasever} it could not learn).
type UnknownVarError struct {
	Name  string   // the variable, without ${}
	In    string   // the string it was found in
	Known []string // the variables that have values, sorted
}

func (e *UnknownVarError) Error() string {
	return fmt.Sprintf("unknown variable ${%s} in %q (known: %s)", e.Name, e.In, strings.Join(e.Known, ", "))
}

// Expand replaces ${name} in s; an unknown name is an error
// (*UnknownVarError), so a typo does not end up in a ref.
func Expand(s string, vars Vars) (string, error) {
	var bad []string
	out := varRE.ReplaceAllStringFunc(s, func(m string) string {
		k := m[2 : len(m)-1]
		v, ok := vars[k]
		if !ok {
			bad = append(bad, k)
			return m
		}
		return v
	})
	if len(bad) > 0 {
		known := make([]string, 0, len(vars))
		for k := range vars {
			known = append(known, k)
		}
		sort.Strings(known)
		return "", &UnknownVarError{Name: bad[0], In: s, Known: known}
	}
	return out, nil
}

// Marshal writes the merged treefile back as YAML (for `debatom treefile`).
func (t *Treefile) Marshal() ([]byte, error) {
	var b bytes.Buffer
	enc := yaml.NewEncoder(&b)
	enc.SetIndent(2)
	if err := enc.Encode(t); err != nil {
		return nil, err
	}
	return b.Bytes(), enc.Close()
}

// Expand substitutes ${name} variables in the ref, the package lists, the
// version, os-release and metadata values.
func (t *Treefile) Expand(vars Vars) error {
	var err error
	one := func(s *string) {
		if err == nil {
			*s, err = Expand(*s, vars)
		}
	}
	one(&t.Ref)
	one(&t.Version)
	one(&t.AutomaticVersionPrefix)
	for i := range t.Packages {
		one(&t.Packages[i])
	}
	for i := range t.ExcludePackages {
		one(&t.ExcludePackages[i])
	}
	for _, m := range []map[string]string{t.OSRelease, t.Metadata} {
		for k, v := range m {
			one(&v)
			m[k] = v
		}
	}
	return err
}

// Clone returns a copy that Expand, or a caller adding packages, can change
// without changing t.
func (t *Treefile) Clone() *Treefile {
	c := *t
	c.OSRelease = mergeMap(nil, t.OSRelease)
	c.Metadata = mergeMap(nil, t.Metadata)
	c.Packages = append([]string(nil), t.Packages...)
	c.ExcludePackages = append([]string(nil), t.ExcludePackages...)
	if t.Recommends != nil {
		r := *t.Recommends
		c.Recommends = &r
	}
	return &c
}

// Request returns the packages to install: Packages without those named in
// ExcludePackages, so a variant can drop what the one it includes asked for.
func (t *Treefile) Request() []string {
	ex := map[string]bool{}
	for _, e := range t.ExcludePackages {
		ex[e] = true
	}
	var out []string
	for _, p := range t.Packages {
		name, _, _ := strings.Cut(p, "=")
		if !ex[name] {
			out = append(out, p)
		}
	}
	return out
}
