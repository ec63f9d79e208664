// Package depmod computes, without running anything, the files kmod's
// depmod writes into usr/lib/modules/KVER: modules.dep, modules.alias,
// modules.softdep, modules.weakdep, modules.symbols, modules.devname and the
// binary indexes modprobe actually reads (modules.dep.bin,
// modules.alias.bin, modules.symbols.bin, modules.builtin.bin,
// modules.builtin.alias.bin).
//
// The output matches depmod byte for byte: module order comes from
// modules.order, dependencies are ordered by depmod's topological sort,
// modules.symbols follows the iteration order of kmod's hash table, and the
// indexes are kmod's trie with the same node splitting and value order. Two
// kmod generations are reproduced (see Compat) because their index layouts
// differ.
//
// Differences from depmod, all irrelevant to a distribution kernel tree:
// depmod.d configuration (search/override/external/exclude) is not read;
// when two files give the same module name, a file under updates/ wins and
// otherwise the first in byte order of path (depmod takes the first in
// readdir order, which is not reproducible); -E/-F symbol checking is not
// done (it only prints warnings).
package depmod

import (
	"bytes"
	"cmp"
	"context"
	"errors"
	"fmt"
	"io/fs"
	"path"
	"runtime"
	"slices"
	"strconv"
	"strings"
	"sync/atomic"

	"golang.org/x/sync/errgroup"
)

// Compat selects which kmod release's output is reproduced.
type Compat int

const (
	// Kmod34 is Debian 13's depmod: pre-order indexes and modules.weakdep.
	Kmod34 Compat = iota
	// Kmod30 is Debian 12's depmod: post-order indexes, no modules.weakdep.
	Kmod30
)

// Options tune Load.
type Options struct {
	Compat Compat
	// Workers bounds how many modules are decompressed and parsed at once;
	// 0 means GOMAXPROCS.
	Workers int
	// Warnf, when set, receives depmod's warnings, and a module that cannot
	// be read is then kept without aliases, symbols or dependencies (what
	// depmod does) instead of failing Load.
	Warnf func(format string, args ...any)
	// Only, when set, limits Load to the modules it accepts (by Name): an
	// initramfs needs a few dozen of a kernel's thousand modules, and
	// decompressing the rest is most of depmod's time. The caller must
	// accept every dependency of what it accepts (see ParseDep).
	Only func(name string) bool
	// Parsed, when set, is asked first for each module file (by its
	// path in fsys); when it answers, the file is not read. It lets a
	// caller that parsed modules earlier (the build parses the kernel
	// package's modules while other packages still unpack) skip the
	// work; it must answer only for files whose content it parsed, with
	// the same Compression. It is called from several goroutines.
	Parsed func(name string) (*ModuleInfo, bool)
}

// Module is one module file of the tree.
type Module struct {
	Path string // relative to usr/lib/modules/KVER, e.g. kernel/fs/ext4/ext4.ko.xz
	Name string // kmod's name: ext4, intel_uncore
	ModuleInfo
}

// Tree is the parsed module tree of one kernel.
type Tree struct {
	KVer    string
	Modules []*Module // in depmod's order

	opts           Options
	order          []byte // modules.order, nil when absent
	builtin        []byte // modules.builtin, nil when absent
	builtinModinfo []byte // modules.builtin.modinfo, nil when absent
}

// ModulesDir is where a kernel's modules live in a merged-/usr tree.
func ModulesDir(kver string) string { return "usr/lib/modules/" + kver }

// Generate is Load followed by Files.
func Generate(ctx context.Context, fsys fs.FS, kver string, opts Options) (map[string][]byte, error) {
	t, err := Load(ctx, fsys, kver, opts)
	if err != nil {
		return nil, err
	}
	return t.Files()
}

// Load finds and parses every module under usr/lib/modules/KVER of fsys, in
// parallel, and reads modules.order and the modules.builtin files.
func Load(ctx context.Context, fsys fs.FS, kver string, opts Options) (*Tree, error) {
	if kver == "" || strings.ContainsAny(kver, "/") || kver == "." || kver == ".." {
		return nil, fmt.Errorf("depmod: bad kernel version %q", kver)
	}
	dir := ModulesDir(kver)
	if _, err := fs.Stat(fsys, dir); err != nil {
		return nil, fmt.Errorf("depmod: kernel %s: %w", kver, err)
	}
	paths, err := findModules(fsys, dir)
	if err != nil {
		return nil, fmt.Errorf("depmod: kernel %s: %w", kver, err)
	}
	if opts.Only != nil {
		paths = slices.DeleteFunc(paths, func(p string) bool { return !opts.Only(ModuleName(p)) })
	}
	t := &Tree{KVer: kver, opts: opts}
	for _, f := range []struct {
		name string
		dst  *[]byte
	}{{"modules.order", &t.order}, {"modules.builtin", &t.builtin}, {"modules.builtin.modinfo", &t.builtinModinfo}} {
		b, err := fs.ReadFile(fsys, dir+"/"+f.name)
		if err == nil {
			*f.dst = b
		} else if !isNotExist(err) {
			return nil, fmt.Errorf("depmod: %w", err)
		}
	}

	mods := make([]*Module, len(paths))
	for i, p := range paths {
		mods[i] = &Module{Path: p, Name: ModuleName(p)}
	}
	g, gctx := errgroup.WithContext(ctx)
	workers := opts.Workers
	if workers <= 0 {
		workers = runtime.GOMAXPROCS(0)
	}
	// Workers take modules in order from a shared counter, each with its
	// own decoder and buffers: a kernel has a thousand modules, and a
	// fresh xz window and image buffer for each made most of depmod's
	// garbage.
	var next atomic.Int64
	for range min(workers, len(paths)) {
		g.Go(func() error {
			var mp Parser
			for {
				i := int(next.Add(1) - 1)
				if i >= len(mods) {
					return nil
				}
				if err := gctx.Err(); err != nil {
					return err
				}
				m := mods[i]
				name := dir + "/" + m.Path
				if opts.Parsed != nil {
					if info, ok := opts.Parsed(name); ok {
						m.ModuleInfo = *info
						continue
					}
				}
				info, err := mp.read(fsys, name)
				if err != nil {
					err = fmt.Errorf("depmod: module %s: %w", path.Join(dir, m.Path), err)
					if opts.Warnf == nil {
						return err
					}
					opts.Warnf("%v (kept without aliases, symbols or dependencies)", err)
					continue
				}
				m.ModuleInfo = *info
			}
		})
	}
	if err := g.Wait(); err != nil {
		return nil, err
	}
	t.Modules = mods
	t.sortModules()
	return t, nil
}

func isNotExist(err error) bool { return err != nil && errors.Is(err, fs.ErrNotExist) }

// findModules lists module files below dir (relative paths), skipping
// build/ and source/ as depmod does and resolving duplicate module names.
func findModules(fsys fs.FS, dir string) ([]string, error) {
	byName := map[string]string{}
	var walk func(rel string) error
	walk = func(rel string) error {
		full := dir
		if rel != "" {
			full += "/" + rel
		}
		ents, err := fs.ReadDir(fsys, full)
		if err != nil {
			return err
		}
		for _, e := range ents {
			name := e.Name()
			if name == "build" || name == "source" || name == "." || name == ".." {
				continue
			}
			p := name
			if rel != "" {
				p = rel + "/" + name
			}
			typ := e.Type()
			if typ&fs.ModeSymlink != 0 {
				st, err := fs.Stat(fsys, full+"/"+name) // depmod follows links
				if err != nil {
					continue
				}
				typ = st.Mode().Type()
			}
			switch {
			case typ.IsDir():
				if err := walk(p); err != nil {
					return err
				}
			case typ.IsRegular() && IsModuleName(name):
				mn := ModuleName(name)
				if old, ok := byName[mn]; ok && !(strings.HasPrefix(p, "updates/") && !strings.HasPrefix(old, "updates/")) {
					continue
				}
				byName[mn] = p
			}
		}
		return nil
	}
	if err := walk(""); err != nil {
		return nil, err
	}
	out := make([]string, 0, len(byName))
	for _, p := range byName {
		out = append(out, p)
	}
	slices.Sort(out)
	return out, nil
}

// uncompressedRelPath is depmod's key for matching modules.order lines:
// the relative path cut right after "<basename up to modname length>.ko".
func uncompressedRelPath(rel, modname string) string {
	dirLen := strings.LastIndexByte(rel, '/') + 1
	n := dirLen + len(modname) + len(".ko")
	if n > len(rel) {
		n = len(rel)
	}
	return rel[:n]
}

// sortModules puts modules in depmod's order: kmod's module hash iteration
// order, then (stably) by position in modules.order, unlisted ones last.
func (t *Tree) sortModules() {
	sortHashOrder(t.Modules, func(m *Module) string { return m.Name }, 512)
	if t.order == nil {
		return
	}
	if len(t.order) > 0 && t.order[len(t.order)-1] != '\n' {
		t.warnf("depmod: %s/modules.order: last line misses '\\n', modules left unsorted", ModulesDir(t.KVer))
		return
	}
	byPath := make(map[string]*Module, len(t.Modules))
	for _, m := range t.Modules {
		byPath[uncompressedRelPath(m.Path, m.Name)] = m
	}
	idx := make(map[*Module]int, len(t.Modules))
	lines := strings.Split(string(t.order[:len(t.order)-1]), "\n")
	for i, l := range lines {
		m := byPath[l]
		if m == nil {
			continue
		}
		if _, seen := idx[m]; seen && t.opts.Compat != Kmod30 {
			continue // kmod 34 keeps the first listing, kmod 30 the last
		}
		idx[m] = i - len(lines) - 1
	}
	slices.SortStableFunc(t.Modules, func(a, b *Module) int {
		ia, ok := idx[a]
		if !ok {
			ia = 1
		}
		ib, ok := idx[b]
		if !ok {
			ib = 1
		}
		return cmp.Compare(ia, ib)
	})
}

func (t *Tree) warnf(format string, args ...any) {
	if t.opts.Warnf != nil {
		t.opts.Warnf(format, args...)
	}
}

// Subset returns a tree of only the named modules (by Name), for an
// initramfs; the caller includes their dependencies (see Closure).
func (t *Tree) Subset(names []string) *Tree {
	want := map[string]bool{}
	for _, n := range names {
		want[n] = true
	}
	s := *t
	s.Modules = nil
	for _, m := range t.Modules {
		if want[m.Name] {
			s.Modules = append(s.Modules, m)
		}
	}
	return &s
}

// Find returns the module called name, or nil.
func (t *Tree) Find(name string) *Module {
	name = ModuleName(name)
	for _, m := range t.Modules {
		if m.Name == name {
			return m
		}
	}
	return nil
}

// ParseDep reads a modules.dep file into module path → dependency paths.
func ParseDep(b []byte) (map[string][]string, error) {
	out := map[string][]string{}
	for n, line := range strings.Split(string(b), "\n") {
		if line == "" {
			continue
		}
		mod, deps, ok := strings.Cut(line, ":")
		if !ok || mod == "" || !IsModuleName(path.Base(mod)) {
			return nil, fmt.Errorf("modules.dep line %d: not \"module: deps\": %.80q", n+1, line)
		}
		fields := strings.Fields(deps)
		for _, d := range fields {
			if !IsModuleName(path.Base(d)) {
				return nil, fmt.Errorf("modules.dep line %d: %.80q is not a module file", n+1, d)
			}
		}
		out[mod] = fields
	}
	return out, nil
}

// graph is depmod's dependency computation over t.Modules.
type graph struct {
	mods    []*Module
	idx     map[*Module]int
	deps    [][]int // direct dependencies, sorted by sortIdx once computed
	sortIdx []int   // position in depmod's topological order
	symbols []symbolOwner
}

type symbolOwner struct {
	name  string
	owner int
}

func (t *Tree) graph() (*graph, error) {
	g := &graph{mods: t.Modules, idx: make(map[*Module]int, len(t.Modules))}
	owner := map[string]int{}
	for i, m := range t.Modules {
		g.idx[m] = i
		for _, s := range m.Exports {
			owner[s] = i // a later module replaces an earlier owner, as in kmod's hash_add
		}
	}
	for s, o := range owner {
		g.symbols = append(g.symbols, symbolOwner{s, o})
	}
	sortHashOrder(g.symbols, func(s symbolOwner) string { return s.name }, 2048)

	users := make([]int, len(t.Modules))
	g.deps = make([][]int, len(t.Modules))
	for i, m := range t.Modules {
		for _, need := range m.Needs {
			need = strings.TrimPrefix(need, ".") // PPC64: .foo == foo
			o, ok := owner[need]
			if !ok || slices.Contains(g.deps[i], o) {
				continue
			}
			g.deps[i] = append(g.deps[i], o)
			users[o]++
		}
	}
	// Kahn's algorithm with a stack, roots seeded in module order: the
	// exact traversal depmod uses, which fixes the order of modules.dep.
	var roots []int
	for i := range t.Modules {
		if users[i] == 0 {
			roots = append(roots, i)
		}
	}
	g.sortIdx = make([]int, len(t.Modules))
	sorted := 0
	for len(roots) > 0 {
		src := roots[len(roots)-1]
		roots = roots[:len(roots)-1]
		g.sortIdx[src] = sorted
		sorted++
		for _, d := range g.deps[src] {
			users[d]--
			if users[d] == 0 {
				roots = append(roots, d)
			}
		}
	}
	if sorted < len(t.Modules) {
		var cyc []string
		for i, u := range users {
			if u > 0 {
				cyc = append(cyc, t.Modules[i].Name)
			}
		}
		return nil, fmt.Errorf("depmod: kernel %s: dependency cycle among modules %s", t.KVer, strings.Join(cyc, ", "))
	}
	for i := range g.deps {
		slices.SortFunc(g.deps[i], func(a, b int) int { return cmp.Compare(g.sortIdx[a], g.sortIdx[b]) })
	}
	return g, nil
}

// allDeps returns module i's transitive dependencies in depmod's order.
func (g *graph) allDeps(i int) []int {
	seen := map[int]bool{}
	var out []int
	var fill func(int)
	fill = func(m int) {
		for _, d := range g.deps[m] {
			if !seen[d] {
				seen[d] = true
				out = append(out, d)
				fill(d)
			}
		}
	}
	fill(i)
	slices.SortFunc(out, func(a, b int) int { return cmp.Compare(g.sortIdx[a], g.sortIdx[b]) })
	return out
}

// Closure returns the named modules and everything they depend on, by
// name, in depmod's module order. Unknown names are an error.
func (t *Tree) Closure(names []string) ([]string, error) {
	g, err := t.graph()
	if err != nil {
		return nil, err
	}
	byName := map[string]int{}
	for i, m := range t.Modules {
		byName[m.Name] = i
	}
	in := map[int]bool{}
	for _, n := range names {
		i, ok := byName[ModuleName(n)]
		if !ok {
			return nil, fmt.Errorf("depmod: kernel %s has no module %s", t.KVer, n)
		}
		in[i] = true
		for _, d := range g.allDeps(i) {
			in[d] = true
		}
	}
	var out []string
	for i, m := range t.Modules {
		if in[i] {
			out = append(out, m.Name)
		}
	}
	return out, nil
}

// Files returns the depmod output files by name (relative to
// usr/lib/modules/KVER).
func (t *Tree) Files() (map[string][]byte, error) {
	g, err := t.graph()
	if err != nil {
		return nil, err
	}
	layout := PreOrder
	if t.opts.Compat == Kmod30 {
		layout = PostOrder
	}
	out := map[string][]byte{}
	wrap := func(name string, err error) error {
		return fmt.Errorf("depmod: kernel %s: %s: %w", t.KVer, name, err)
	}

	// modules.dep and modules.dep.bin
	var dep bytes.Buffer
	depIdx := newTrie()
	for i, m := range t.Modules {
		line := m.Path + ":"
		for _, d := range g.allDeps(i) {
			line += " " + t.Modules[d].Path
		}
		dep.WriteString(line)
		dep.WriteByte('\n')
		if err := depIdx.insert(m.Name, line, uint32(i)); err != nil {
			return nil, wrap("modules.dep.bin", err)
		}
	}
	out["modules.dep"] = dep.Bytes()
	out["modules.dep.bin"] = depIdx.bytes(layout)

	// modules.alias and modules.alias.bin
	alias := bytes.NewBufferString("# Aliases extracted from modules themselves.\n")
	aliasIdx := newTrie()
	for i, m := range t.Modules {
		for _, kv := range m.Info {
			if kv.Key != "alias" {
				continue
			}
			fmt.Fprintf(alias, "alias %s %s\n", kv.Value, m.Name)
			norm, ok := normalizeAlias(kv.Value)
			if !ok {
				t.warnf("depmod: module %s: unmatched bracket in alias %s", m.Path, kv.Value)
				continue
			}
			if err := aliasIdx.insert(norm, m.Name, uint32(i)); err != nil {
				return nil, wrap("modules.alias.bin", err)
			}
		}
	}
	out["modules.alias"] = alias.Bytes()
	out["modules.alias.bin"] = aliasIdx.bytes(layout)

	out["modules.softdep"] = t.infoLines("softdep", "# Soft dependencies extracted from modules themselves.\n")
	if t.opts.Compat != Kmod30 {
		out["modules.weakdep"] = t.infoLines("weakdep", "# Weak dependencies extracted from modules themselves.\n")
	}

	// modules.symbols and modules.symbols.bin
	syms := bytes.NewBufferString("# Aliases for symbols, used by symbol_request().\n")
	symIdx := newTrie()
	for _, s := range g.symbols {
		owner := t.Modules[s.owner]
		fmt.Fprintf(syms, "alias symbol:%s %s\n", s.name, owner.Name)
		if err := symIdx.insert("symbol:"+s.name, owner.Name, uint32(s.owner)); err != nil {
			return nil, wrap("modules.symbols.bin", err)
		}
	}
	out["modules.symbols"] = syms.Bytes()
	out["modules.symbols.bin"] = symIdx.bytes(layout)

	// modules.builtin.bin: depmod creates the file even without input.
	bi := newTrie()
	for _, line := range splitLinesKeepNL(t.builtin) {
		if c := line[0]; !(c >= 'a' && c <= 'z' || c >= 'A' && c <= 'Z') {
			t.warnf("depmod: invalid modules.builtin line: %s", line)
			continue
		}
		if err := bi.insert(ModuleName(line), "", 0); err != nil {
			return nil, wrap("modules.builtin.bin", err)
		}
	}
	if t.builtin != nil {
		out["modules.builtin.bin"] = bi.bytes(layout)
	} else {
		out["modules.builtin.bin"] = []byte{}
	}

	// modules.builtin.alias.bin
	if t.builtinModinfo != nil {
		idx, err := t.builtinAliases()
		if err != nil {
			return nil, wrap("modules.builtin.alias.bin", err)
		}
		out["modules.builtin.alias.bin"] = idx.bytes(layout)
	} else {
		out["modules.builtin.alias.bin"] = []byte{}
	}

	out["modules.devname"] = t.devnames()
	return out, nil
}

func (t *Tree) infoLines(key, header string) []byte {
	b := bytes.NewBufferString(header)
	for _, m := range t.Modules {
		for _, kv := range m.Info {
			if kv.Key == key {
				fmt.Fprintf(b, "%s %s %s\n", key, m.Name, kv.Value)
			}
		}
	}
	return b.Bytes()
}

// splitLinesKeepNL splits like fgets: each line keeps its '\n'.
func splitLinesKeepNL(b []byte) []string {
	var out []string
	for len(b) > 0 {
		i := bytes.IndexByte(b, '\n')
		if i < 0 {
			out = append(out, string(b))
			break
		}
		out = append(out, string(b[:i+1]))
		b = b[i+1:]
	}
	return out
}

// builtinAliases parses modules.builtin.modinfo ("modname.key=value\0"...)
// with depmod's stream rules and indexes its alias entries.
func (t *Tree) builtinAliases() (*trie, error) {
	idx := newTrie()
	b := t.builtinModinfo
	// field reads up to end, a NUL or EOF; it reports the text only when
	// it stopped at end, like depmod's flush_stream_to.
	field := func(end byte) (string, bool) {
		i := 0
		for i < len(b) && b[i] != end && b[i] != 0 {
			i++
		}
		s := string(b[:i])
		hit := i < len(b) && b[i] == end
		if i < len(b) {
			b = b[i+1:]
		} else {
			b = b[i:]
		}
		if !hit {
			return "", false
		}
		return s, true
	}
	for len(b) > 0 {
		mod, ok := field('.')
		if !ok || mod == "" {
			continue
		}
		key, _ := field('=')
		if key != "alias" {
			field(0)
			continue
		}
		val, ok := field(0)
		if !ok || val == "" {
			continue
		}
		norm, ok := normalizeAlias(val)
		if !ok {
			t.warnf("depmod: modules.builtin.modinfo: unmatched bracket in alias %s", val)
			continue
		}
		if err := idx.insert(norm, mod, 0); err != nil {
			return nil, err
		}
	}
	return idx, nil
}

// normalizeAlias turns '-' into '_' outside [...] ranges, as kmod does
// before indexing; ok is false for an unmatched bracket.
func normalizeAlias(s string) (string, bool) {
	b := []byte(s)
	for i := 0; i < len(b); i++ {
		switch b[i] {
		case '-':
			b[i] = '_'
		case ']':
			return "", false
		case '[':
			for i < len(b) && b[i] != ']' {
				i++
			}
			if i == len(b) {
				return "", false
			}
		}
	}
	return string(b), true
}

func (t *Tree) devnames() []byte {
	var b bytes.Buffer
	for _, m := range t.Modules {
		var devname string
		var typ byte
		var major, minor uint64
		for _, kv := range m.Info {
			if kv.Key != "alias" {
				continue
			}
			v := kv.Value
			if d, ok := strings.CutPrefix(v, "devname:"); ok {
				devname = d
			} else if maj, mi, ok := majorMinor(v, "char-major-"); ok {
				typ, major, minor = 'c', maj, mi
			} else if maj, mi, ok := majorMinor(v, "block-major-"); ok {
				typ, major, minor = 'b', maj, mi
			}
			if typ != 0 && devname != "" {
				break
			}
		}
		if devname == "" {
			continue
		}
		if typ == 0 {
			t.warnf("depmod: module %s has devname (%s) but lacks major and minor information; ignoring", m.Name, devname)
			continue
		}
		if b.Len() == 0 {
			b.WriteString("# Device nodes to trigger on-demand module loading.\n")
		}
		fmt.Fprintf(&b, "%s %s %c%d:%d\n", m.Name, devname, typ, major, minor)
	}
	return b.Bytes()
}

// majorMinor parses "<prefix>MAJOR-MINOR..." as sscanf("%u-%u") does for
// plain decimal numbers.
func majorMinor(s, prefix string) (uint64, uint64, bool) {
	rest, ok := strings.CutPrefix(s, prefix)
	if !ok {
		return 0, 0, false
	}
	num := func(s string) (uint64, string, bool) {
		i := 0
		for i < len(s) && s[i] >= '0' && s[i] <= '9' {
			i++
		}
		if i == 0 {
			return 0, s, false
		}
		n, err := strconv.ParseUint(s[:i], 10, 32)
		return n, s[i:], err == nil
	}
	maj, rest, ok := num(rest)
	if !ok || !strings.HasPrefix(rest, "-") {
		return 0, 0, false
	}
	mi, _, ok := num(rest[1:])
	if !ok {
		return 0, 0, false
	}
	return maj, mi, true
}
