package compose

import (
	"context"
	"fmt"
	"os"
	"path"
	"path/filepath"
	"sort"
	"strconv"
	"strings"
	"sync"

	"github.com/debatom/debatom/pkg/configure"
	"github.com/debatom/debatom/pkg/configure/ostreelayout"
	"github.com/debatom/debatom/pkg/configure/sysroot"
	"github.com/debatom/debatom/pkg/depmod"
	"github.com/debatom/debatom/pkg/fstree"
	"github.com/debatom/debatom/pkg/initramfs"
	"github.com/debatom/debatom/pkg/ostreerepo"
	"github.com/debatom/debatom/pkg/progress"
	"github.com/debatom/debatom/pkg/treefile"
	"github.com/debatom/debatom/pkg/unpack"
)

func users(in []treefile.User) []configure.User {
	var out []configure.User
	for _, u := range in {
		cu := configure.User{
			Name:           u.Name,
			Groups:         u.Groups,
			PasswordHash:   u.PasswordHash,
			AuthorizedKeys: u.SSHKeys,
			Home:           u.Home,
			Shell:          u.Shell,
			GECOS:          u.Gecos,
		}
		if u.UID != nil {
			cu.UID = *u.UID
		}
		out = append(out, cu)
	}
	return out
}

func groups(in []treefile.Group) []configure.Group {
	var out []configure.Group
	for _, g := range in {
		cg := configure.Group{Name: g.Name}
		if g.GID != nil {
			cg.GID = *g.GID
		}
		out = append(out, cg)
	}
	return out
}

// applyTreefile makes the treefile's own edits, after the packages are
// configured and before the OSTree layout moves /etc, so paths are written
// as users think of them (/etc/..., not /usr/etc/...).
func applyTreefile(r *sysroot.Root, tf *treefile.Treefile) error {
	for _, pattern := range tf.RemoveFiles {
		if err := removeMatching(r.Tree, pattern); err != nil {
			return err
		}
	}
	for _, f := range tf.AddFiles {
		data := []byte(f.Content)
		if f.Source != "" {
			src := f.Source
			if !filepath.IsAbs(src) {
				src = filepath.Join(f.Dir, src)
			}
			b, err := os.ReadFile(src)
			if err != nil {
				return fmt.Errorf("add-files %s: %w", f.Path, err)
			}
			data = b
		}
		mode := uint32(0o644)
		if f.Mode != "" {
			m, err := strconv.ParseUint(f.Mode, 8, 32)
			if err != nil || m > 0o7777 {
				return fmt.Errorf("add-files %s: mode %q is not octal permission bits", f.Path, f.Mode)
			}
			mode = uint32(m)
		}
		var uid, gid uint64
		if f.Owner != "" {
			u, g, ok := strings.Cut(f.Owner, ":")
			var err1, err2 error
			uid, err1 = strconv.ParseUint(u, 10, 32)
			gid, err2 = strconv.ParseUint(g, 10, 32)
			if !ok || err1 != nil || err2 != nil {
				return fmt.Errorf("add-files %s: owner %q is not uid:gid", f.Path, f.Owner)
			}
		}
		p, err := fstree.Clean(f.Path)
		if err != nil || p == "" {
			return fmt.Errorf("add-files %s: not a file path", f.Path)
		}
		if err := r.WriteFile(p, data, mode, uint32(uid), uint32(gid)); err != nil {
			return fmt.Errorf("add-files %s: %w", f.Path, err)
		}
	}
	if len(tf.OSRelease) > 0 {
		if err := editOSRelease(r, tf.OSRelease); err != nil {
			return err
		}
	}
	if len(tf.KernelArgs) > 0 {
		// bootc reads kernel arguments from kargs.d; disk image writers
		// read the same file, so there is one source of truth.
		var b strings.Builder
		b.WriteString("# Kernel arguments from the debatom treefile.\nkargs = [")
		for i, k := range tf.KernelArgs {
			if i > 0 {
				b.WriteString(", ")
			}
			b.WriteString(strconv.Quote(k))
		}
		b.WriteString("]\n")
		if err := r.WriteFile("usr/lib/bootc/kargs.d/10-debatom.toml", []byte(b.String()), 0o644, 0, 0); err != nil {
			return err
		}
	}
	return nil
}

func removeMatching(t *fstree.Tree, pattern string) error {
	pat, err := fstree.Clean(pattern)
	if err != nil || pat == "" {
		return fmt.Errorf("remove-files %q: not a path pattern", pattern)
	}
	if _, err := path.Match(pat, ""); err != nil {
		return fmt.Errorf("remove-files %q: %w", pattern, err)
	}
	var victims []string
	t.Walk(func(p string, e *fstree.Entry) error {
		if ok, _ := path.Match(pat, p); ok {
			victims = append(victims, p)
		}
		return nil
	})
	for _, v := range victims {
		t.RemoveAll(v)
	}
	return nil
}

// editOSRelease rewrites usr/lib/os-release (etc/os-release links to it in
// Debian) with the overrides, keeping the file's order and appending new keys
// sorted.
func editOSRelease(r *sysroot.Root, over map[string]string) error {
	const p = "usr/lib/os-release"
	data, err := r.ReadFile(p)
	if err != nil {
		return fmt.Errorf("os-release: %w", err)
	}
	done := map[string]bool{}
	var out []string
	for _, line := range strings.Split(strings.TrimRight(string(data), "\n"), "\n") {
		k, _, ok := strings.Cut(line, "=")
		if v, set := over[k]; ok && set {
			line = k + "=" + quoteOSRelease(v)
			done[k] = true
		}
		out = append(out, line)
	}
	keys := make([]string, 0, len(over))
	for k := range over {
		if !done[k] {
			keys = append(keys, k)
		}
	}
	sort.Strings(keys)
	for _, k := range keys {
		out = append(out, k+"="+quoteOSRelease(over[k]))
	}
	return r.WriteFile(p, []byte(strings.Join(out, "\n")+"\n"), 0o644, 0, 0)
}

func quoteOSRelease(v string) string {
	if v != "" && strings.IndexFunc(v, func(c rune) bool {
		return !(c >= 'a' && c <= 'z' || c >= 'A' && c <= 'Z' || c >= '0' && c <= '9' || strings.ContainsRune("._-", c))
	}) < 0 {
		return v
	}
	return strconv.Quote(v)
}

func layout(r *sysroot.Root) (string, error) {
	return ostreelayout.Apply(r)
}

// bootStage writes depmod's files and the initramfs next to the kernel.
func (b *builder) bootStage(ctx context.Context, st *progress.Stage) (string, error) {
	kver := b.res.KernelVersion
	if kver == "" {
		b.early.stop() // modules of no kernel the tree boots
		return "no kernel in the tree: not bootable", nil
	}
	if b.opts.NoInitramfs {
		return "skipped (--no-initramfs)", nil
	}
	key := treeKey(b.tree, kver, fmt.Sprint(b.timestamp().Unix()), fmt.Sprint(b.tf.Initramfs.Modules), fmt.Sprint(b.tf.Initramfs.Files))
	art, cached := loadBootCache(b.opts.CacheDir, key)
	if cached {
		b.early.stop() // its work is not needed
	} else {
		fsys := b.tree.FS(contents{b.repo}.Open)
		mods, err := depmod.Load(ctx, fsys, kver, depmod.Options{
			Workers: b.opts.Workers,
			Warnf:   func(format string, args ...any) { st.Warn(format, args...) },
			Parsed:  b.early.lookup(b.tree),
		})
		if err != nil {
			return "", err
		}
		files, err := mods.Files()
		if err != nil {
			return "", err
		}
		// The initramfs takes its modules from the same parsed tree, so
		// each module is decompressed once per build.
		img, err := initramfs.Build(ctx, fsys.(initramfs.FS), initramfs.Options{
			KVer:    kver,
			MTime:   b.timestamp().Unix(),
			Modules: b.tf.Initramfs.Modules,
			Files:   b.tf.Initramfs.Files,
			Kernel:  mods,
		})
		if err != nil {
			return "", err
		}
		art = &bootArtefacts{Files: files, Initramfs: img}
		if err := storeBootCache(b.opts.CacheDir, key, art); err != nil {
			st.Warn("caching the initramfs: %v", err)
		}
	}
	names := make([]string, 0, len(art.Files))
	for n := range art.Files {
		names = append(names, n)
	}
	sort.Strings(names)
	for _, n := range names {
		e := &fstree.Entry{Kind: fstree.File, Meta: fstree.Meta{Mode: 0o644}, Data: art.Files[n], Size: int64(len(art.Files[n]))}
		if err := b.tree.Put(path.Join("usr/lib/modules", kver, n), e); err != nil {
			return "", err
		}
	}
	img := art.Initramfs
	dst := "usr/lib/modules/" + kver + "/initramfs.img"
	if err := b.tree.Put(dst, &fstree.Entry{Kind: fstree.File, Meta: fstree.Meta{Mode: 0o644}, Data: img, Size: int64(len(img))}); err != nil {
		return "", err
	}
	from := "built"
	if cached {
		from = "cached"
	}
	return fmt.Sprintf("kernel %s, %d depmod files, initramfs %s (%s)", kver, len(names), progress.Bytes(int64(len(img))), from), nil
}

// earlyModules parses the module files of the packages that ship them (the
// kernel's) while the other packages still unpack, so that the boot stage,
// which needs the final tree, only assembles depmod's indexes. The kernel
// is the largest package and starts first, so its modules are in the
// object store long before the tree is ready.
//
// Results are keyed by content object and decompression: the final tree
// can differ from the package (diversions, remove-files, a module replaced
// by another package), and a module file whose object was not parsed here
// is read by depmod as usual.
type earlyModules struct {
	mu   sync.Mutex
	jobs []*earlyJob
}

type earlyJob struct {
	cancel context.CancelFunc
	done   chan struct{}
	infos  map[moduleKey]*depmod.ModuleInfo // the goroutine's until done is closed
}

type moduleKey struct{ object, compression string }

// isModuleFile reports whether a package path is a kernel module file
// under (usr/)lib/modules, as depmod would read it.
func isModuleFile(p string) bool {
	return (strings.HasPrefix(p, "usr/lib/modules/") || strings.HasPrefix(p, "lib/modules/")) &&
		depmod.IsModuleName(path.Base(p))
}

// start parses m's module files, if it has any, in the background.
func (e *earlyModules) start(ctx context.Context, repo *ostreerepo.Repo, m *unpack.Manifest) {
	var todo []moduleKey
	seen := map[moduleKey]bool{}
	for i := range m.Entries {
		en := &m.Entries[i]
		if en.Kind != fstree.File || en.Object == "" || !isModuleFile(en.Path) {
			continue
		}
		k := moduleKey{en.Object, depmod.Compression(en.Path)}
		if !seen[k] {
			seen[k] = true
			todo = append(todo, k)
		}
	}
	if len(todo) == 0 {
		return
	}
	ctx, cancel := context.WithCancel(ctx)
	j := &earlyJob{cancel: cancel, done: make(chan struct{}), infos: make(map[moduleKey]*depmod.ModuleInfo, len(todo))}
	e.mu.Lock()
	e.jobs = append(e.jobs, j)
	e.mu.Unlock()
	// One goroutine: the unpack workers keep the cores busy; this one
	// takes what they leave and fills the tail of the unpack stage.
	go func() {
		defer close(j.done)
		var p depmod.Parser
		for _, k := range todo {
			if ctx.Err() != nil {
				return
			}
			rc, _, err := repo.OpenFile(k.object)
			if err != nil {
				continue // depmod reads it again and reports the error
			}
			// Parse wants a name only for its ending.
			info, err := p.Parse("module.ko."+k.compression, rc)
			rc.Close()
			if err == nil {
				j.infos[k] = info
			}
		}
	}()
}

// stop cancels the background work and waits for it to end.
func (e *earlyModules) stop() {
	e.mu.Lock()
	jobs := e.jobs
	e.jobs = nil
	e.mu.Unlock()
	for _, j := range jobs {
		j.cancel()
		<-j.done
	}
}

// lookup waits for the background work and answers depmod's Parsed for
// the module files of t whose content was parsed. It returns nil when
// nothing was started.
func (e *earlyModules) lookup(t *fstree.Tree) func(string) (*depmod.ModuleInfo, bool) {
	e.mu.Lock()
	jobs := e.jobs
	e.jobs = nil
	e.mu.Unlock()
	if len(jobs) == 0 {
		return nil
	}
	infos := map[moduleKey]*depmod.ModuleInfo{}
	for _, j := range jobs {
		<-j.done
		j.cancel()
		for k, v := range j.infos {
			infos[k] = v
		}
	}
	return func(name string) (*depmod.ModuleInfo, bool) {
		en := t.Get(name)
		if en == nil || en.Kind != fstree.File || en.Data != nil || en.Object == "" {
			return nil, false
		}
		info, ok := infos[moduleKey{en.Object, depmod.Compression(name)}]
		return info, ok
	}
}
