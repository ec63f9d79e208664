package initramfs

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"io/fs"
	"path"
	"slices"
	"strings"

	"github.com/debatom/debatom/pkg/cpio"
	"github.com/debatom/debatom/pkg/depmod"
)

// moduleSet decides which kernel modules go in: the wanted names, their
// dependencies (modules.dep) and soft dependencies (modinfo softdep=,
// resolved like modprobe through names, built-ins and aliases).
type moduleSet struct {
	kver    string
	byName  map[string]string   // module name → path relative to the modules dir
	deps    map[string][]string // path → dependency paths
	builtin map[string]bool
	aliases [][2]string // pattern, module name
	in      map[string]bool
}

func (s *moduleSet) addModule(name string) {
	p := s.byName[name]
	s.in[name] = true
	for _, d := range s.deps[p] {
		s.in[depmod.ModuleName(d)] = true
	}
}

// want adds name; it reports whether the kernel knows it at all.
func (s *moduleSet) want(name string) bool {
	if n := depmod.ModuleName(name); s.byName[n] != "" {
		s.addModule(n)
		return true
	} else if s.builtin[n] {
		return true
	}
	norm := strings.ReplaceAll(name, "-", "_")
	found := false
	for _, a := range s.aliases {
		if ok, _ := path.Match(a[0], name); ok || a[0] == norm {
			found = true
			if s.byName[a[1]] != "" {
				s.addModule(a[1])
			}
		} else if ok, _ := path.Match(strings.ReplaceAll(a[0], "-", "_"), norm); ok {
			found = true
			if s.byName[a[1]] != "" {
				s.addModule(a[1])
			}
		}
	}
	return found
}

func (b *builder) modules(ctx context.Context, kver string, opts Options) error {
	dir := depmod.ModulesDir(kver)
	full := opts.Kernel
	if full != nil && full.KVer != kver {
		return fmt.Errorf("initramfs: the module tree given is kernel %s's, not %s's", full.KVer, kver)
	}
	var depB, aliasB []byte
	if full != nil {
		files, err := full.Files()
		if err != nil {
			return fmt.Errorf("initramfs: %w", err)
		}
		depB, aliasB = files["modules.dep"], files["modules.alias"]
	} else {
		var errDep, errAlias error
		depB, errDep = fs.ReadFile(b.fsys, dir+"/modules.dep")
		aliasB, errAlias = fs.ReadFile(b.fsys, dir+"/modules.alias")
		if errDep != nil || errAlias != nil {
			// The tree has no depmod output yet: compute it for the whole
			// kernel (slow: every module is decompressed once).
			t, err := depmod.Load(ctx, b.fsys, kver, opts.Depmod)
			if err != nil {
				return fmt.Errorf("initramfs: %w", err)
			}
			files, err := t.Files()
			if err != nil {
				return fmt.Errorf("initramfs: %w", err)
			}
			depB, aliasB = files["modules.dep"], files["modules.alias"]
		}
	}
	deps, err := depmod.ParseDep(depB)
	if err != nil {
		return fmt.Errorf("initramfs: %s/%w", dir, err)
	}
	s := &moduleSet{kver: kver, byName: map[string]string{}, deps: deps, builtin: map[string]bool{}, in: map[string]bool{}}
	for p := range deps {
		s.byName[depmod.ModuleName(p)] = p
	}
	for _, line := range strings.Split(string(aliasB), "\n") {
		f := strings.Fields(line)
		if len(f) == 3 && f[0] == "alias" {
			s.aliases = append(s.aliases, [2]string{f[1], f[2]})
		}
	}
	if bi, err := fs.ReadFile(b.fsys, dir+"/modules.builtin"); err == nil {
		for _, l := range strings.Split(string(bi), "\n") {
			if l != "" {
				s.builtin[depmod.ModuleName(l)] = true
			}
		}
	}
	for _, n := range DefaultModules {
		s.want(n)
	}
	for _, n := range opts.Modules {
		if !s.want(n) {
			return fmt.Errorf("initramfs: kernel %s has no module, built-in or alias %s", kver, n)
		}
	}

	// Soft dependencies need each module's modinfo: load, extend, repeat.
	dopts := opts.Depmod
	var tree *depmod.Tree
	for round := 0; ; round++ {
		if round > 10 {
			return fmt.Errorf("initramfs: kernel %s: soft dependencies do not settle", kver)
		}
		before := len(s.in)
		if full != nil {
			// Subset keeps the whole tree's order, which is depmod's
			// order of the subset: a module's place depends only on its
			// own name and modules.order line.
			names := make([]string, 0, len(s.in))
			for n := range s.in {
				names = append(names, n)
			}
			tree = full.Subset(names)
		} else {
			in := maps2set(s.in)
			dopts.Only = func(n string) bool { return in[n] }
			tree, err = depmod.Load(ctx, b.fsys, kver, dopts)
			if err != nil {
				return fmt.Errorf("initramfs: %w", err)
			}
		}
		for _, m := range tree.Modules {
			for _, kv := range m.Info {
				if kv.Key != "softdep" {
					continue
				}
				for _, tok := range strings.Fields(kv.Value) {
					if tok != "pre:" && tok != "post:" {
						s.want(tok)
					}
				}
			}
		}
		if len(s.in) == before {
			break
		}
	}
	if len(tree.Modules) != len(s.in) {
		var missing []string
		for n := range s.in {
			if tree.Find(n) == nil {
				missing = append(missing, n)
			}
		}
		slices.Sort(missing)
		return fmt.Errorf("initramfs: kernel %s: modules.dep lists %s but the files are missing", kver, strings.Join(missing, ", "))
	}
	files, err := tree.Files()
	if err != nil {
		return fmt.Errorf("initramfs: %w", err)
	}
	for _, m := range tree.Modules {
		if err := b.add(dir+"/"+m.Path, true); err != nil {
			return err
		}
	}
	for name, data := range files {
		b.mkdirs(dir + "/" + name)
		b.put(cpio.Entry{Name: dir + "/" + name, Mode: 0o644, Data: bytes.Clone(data)})
	}
	for _, f := range []string{"modules.order", "modules.builtin", "modules.builtin.modinfo"} {
		if err := b.add(dir+"/"+f, false); err != nil && !errors.Is(err, fs.ErrNotExist) {
			return err
		}
	}
	return nil
}

func maps2set(m map[string]bool) map[string]bool {
	out := make(map[string]bool, len(m))
	for k, v := range m {
		out[k] = v
	}
	return out
}
