package ociwriter

import (
	"bufio"
	"fmt"
	"io"
	"path"
	"sort"
	"strings"

	"github.com/debatom/debatom/pkg/fstree"
	"github.com/debatom/debatom/pkg/ostreerepo"
)

// dpkgInfoDir is where a debatom commit keeps dpkg's per-package file lists.
const dpkgInfoDir = "usr/lib/sysimage/dpkg/info"

// Chunk names recorded in each layer's ChunkAnnotation, so that a later
// build reading this image with Options.Previous knows which layer held
// what.
const (
	chunkKernel   = "kernel"
	chunkPackages = "packages"
)

// chunk is one content layer: the packages it holds and their objects.
type chunk struct {
	name     string // chunkKernel or chunkPackages
	packages []string
	objects  []string // content checksums, sorted by first checkout path
	size     int64
}

// ownership maps content objects to the package that owns them, from the
// dpkg file lists inside the commit.
type ownership struct {
	objPkg  map[string]string // content checksum → package
	pkgSize map[string]int64
	kernel  []string // objects of the kernel and initramfs
	kpkg    string   // the package owning the kernel's modules directory
	rest    []string // objects no package owns (generated files)
}

// owners reads each package's .list file and assigns every content object
// to one package. Listed paths are dpkg's (/etc/x, /bin/x); the commit has
// moved /etc to /usr/etc and merged /bin into /usr/bin, so they are mapped
// and resolved through the commit's own symlinks. An object several
// packages list goes to the first package in name order, so the answer
// does not depend on map order.
func owners(repo *ostreerepo.Repo, s *snapshot, kver string) (*ownership, error) {
	tree := fstree.New()
	for _, d := range s.dirs[1:] {
		if err := tree.Put(d.path, &fstree.Entry{Kind: fstree.Dir, Meta: d.meta}); err != nil {
			return nil, fmt.Errorf("commit %s: /%s: %w", s.commit, d.path, err)
		}
	}
	for _, f := range s.files {
		info := s.objects[f.csum].info
		if err := tree.Put(f.path, &fstree.Entry{Kind: info.Kind, Target: info.Target, Object: f.csum}); err != nil {
			return nil, fmt.Errorf("commit %s: /%s: %w", s.commit, f.path, err)
		}
	}
	pathPkg := map[string]string{}
	listed := map[string]bool{}
	for _, f := range s.files {
		dir, base := path.Split(f.path)
		if dir != dpkgInfoDir+"/" || !strings.HasSuffix(base, ".list") {
			continue
		}
		pkg := strings.TrimSuffix(base, ".list")
		if i := strings.IndexByte(pkg, ':'); i >= 0 {
			pkg = pkg[:i] // libc6:amd64.list → libc6
		}
		listed[pkg] = true
		rc, _, err := repo.OpenFile(f.csum)
		if err != nil {
			return nil, fmt.Errorf("dpkg file list of %s: %w", pkg, err)
		}
		err = readList(rc, func(p string) {
			p = strings.TrimPrefix(p, "/")
			if p == "etc" || strings.HasPrefix(p, "etc/") {
				p = "usr/" + p
			}
			if r, err := tree.Resolve(p); err == nil {
				p = r
			}
			if old, ok := pathPkg[p]; !ok || pkg < old {
				pathPkg[p] = pkg
			}
		})
		rc.Close()
		if err != nil {
			return nil, fmt.Errorf("dpkg file list of %s: %w", pkg, err)
		}
	}
	// dpkg's own records of a package (info/PKG.list, .md5sums, scripts)
	// travel with the package, so they change only when it does.
	for _, f := range s.files {
		dir, base := path.Split(f.path)
		if dir != dpkgInfoDir+"/" {
			continue
		}
		i := strings.LastIndexByte(base, '.')
		if i <= 0 {
			continue
		}
		pkg, _, _ := strings.Cut(base[:i], ":")
		if listed[pkg] {
			if _, ok := pathPkg[f.path]; !ok {
				pathPkg[f.path] = pkg
			}
		}
	}
	o := &ownership{objPkg: map[string]string{}, pkgSize: map[string]int64{}}
	kernelFiles := map[string]bool{}
	if kver != "" {
		kdir := "usr/lib/modules/" + kver
		kernelFiles[kdir+"/vmlinuz"] = true
		kernelFiles[kdir+"/initramfs.img"] = true
		o.kpkg = pathPkg[kdir]
	}
	inKernel := map[string]bool{}
	for _, f := range s.files {
		if kernelFiles[f.path] && !inKernel[f.csum] {
			inKernel[f.csum] = true
			o.kernel = append(o.kernel, f.csum)
		}
	}
	seen := map[string]bool{}
	for _, f := range s.files {
		if inKernel[f.csum] || seen[f.csum] {
			continue
		}
		seen[f.csum] = true
		best := ""
		for _, p := range s.objects[f.csum].paths {
			if pkg, ok := pathPkg[p]; ok && (best == "" || pkg < best) {
				best = pkg
			}
		}
		if best == "" {
			o.rest = append(o.rest, f.csum)
			continue
		}
		o.objPkg[f.csum] = best
		o.pkgSize[best] += s.objects[f.csum].info.Size
	}
	return o, nil
}

// readList calls fn for each line of a dpkg .list file.
func readList(r io.Reader, fn func(string)) error {
	sc := bufio.NewScanner(r)
	sc.Buffer(make([]byte, 64<<10), 1<<20)
	for sc.Scan() {
		if l := sc.Text(); l != "" && l != "/." {
			fn(l)
		}
	}
	return sc.Err()
}

// pack groups packages into at most bins layers. Without a previous
// packing, the biggest half of the bins hold one package each and the
// rest of the packages, in name order, fill the other half in runs of
// about equal size: big packages change alone, small ones share. With a
// previous packing, every package stays in its old group, so an update
// changes only the layers of packages that changed; new packages get a
// free bin each while there is one, then join the smallest group.
func pack(sizes map[string]int64, bins int, previous [][]string) [][]string {
	if bins < 1 {
		bins = 1
	}
	names := make([]string, 0, len(sizes))
	for n := range sizes {
		names = append(names, n)
	}
	sort.Strings(names)
	if previous != nil {
		return repack(sizes, names, bins, previous)
	}
	if len(names) <= bins {
		out := make([][]string, len(names))
		for i, n := range names {
			out[i] = []string{n}
		}
		return out
	}
	bySize := append([]string(nil), names...)
	sort.SliceStable(bySize, func(i, j int) bool { return sizes[bySize[i]] > sizes[bySize[j]] })
	alone := bins / 2
	var out [][]string
	big := map[string]bool{}
	for _, n := range bySize[:alone] {
		out = append(out, []string{n})
		big[n] = true
	}
	var small []string
	var total int64
	for _, n := range names {
		if !big[n] {
			small = append(small, n)
			total += sizes[n]
		}
	}
	groups := bins - alone
	target := total/int64(groups) + 1
	var cur []string
	var curSize int64
	for _, n := range small {
		cur = append(cur, n)
		curSize += sizes[n]
		if curSize >= target && len(out)-alone < groups-1 {
			out = append(out, cur)
			cur, curSize = nil, 0
		}
	}
	if len(cur) > 0 {
		out = append(out, cur)
	}
	return out
}

func repack(sizes map[string]int64, names []string, bins int, previous [][]string) [][]string {
	placed := map[string]bool{}
	var out [][]string
	for _, g := range previous {
		var keep []string
		for _, n := range g {
			if _, ok := sizes[n]; ok && !placed[n] {
				keep = append(keep, n)
				placed[n] = true
			}
		}
		if len(keep) > 0 {
			sort.Strings(keep)
			out = append(out, keep)
		}
	}
	groupSize := func(g []string) (s int64) {
		for _, n := range g {
			s += sizes[n]
		}
		return s
	}
	// A smaller layer budget than last time: merge the two smallest groups.
	for len(out) > bins {
		i, j := smallestTwo(out, groupSize)
		out[i] = append(out[i], out[j]...)
		sort.Strings(out[i])
		out = append(out[:j], out[j+1:]...)
	}
	var fresh []string
	for _, n := range names {
		if !placed[n] {
			fresh = append(fresh, n)
		}
	}
	sort.SliceStable(fresh, func(i, j int) bool { return sizes[fresh[i]] > sizes[fresh[j]] })
	for _, n := range fresh {
		if len(out) < bins {
			out = append(out, []string{n})
			continue
		}
		best := 0
		for i := range out {
			if groupSize(out[i]) < groupSize(out[best]) {
				best = i
			}
		}
		out[best] = append(out[best], n)
		sort.Strings(out[best])
	}
	return out
}

// smallestTwo returns the indices i < j of the two smallest groups.
func smallestTwo(gs [][]string, size func([]string) int64) (int, int) {
	idx := make([]int, len(gs))
	for i := range idx {
		idx[i] = i
	}
	sort.SliceStable(idx, func(a, b int) bool { return size(gs[idx[a]]) < size(gs[idx[b]]) })
	i, j := idx[0], idx[1]
	if i > j {
		i, j = j, i
	}
	return i, j
}

// chunks turns the ownership and packing into layers: the kernel first,
// then the package groups in the packing's order.
func (o *ownership) chunks(s *snapshot, groups [][]string) []chunk {
	var out []chunk
	first := func(csum string) string { return s.objects[csum].paths[0] }
	sortObjs := func(objs []string) {
		sort.Slice(objs, func(i, j int) bool { return first(objs[i]) < first(objs[j]) })
	}
	if len(o.kernel) > 0 {
		c := chunk{name: chunkKernel, objects: append([]string(nil), o.kernel...)}
		if o.kpkg != "" {
			c.packages = []string{o.kpkg}
		}
		for _, cs := range c.objects {
			c.size += s.objects[cs].info.Size
		}
		sortObjs(c.objects)
		out = append(out, c)
	}
	groupOf := map[string]int{}
	for i, g := range groups {
		for _, p := range g {
			groupOf[p] = i
		}
	}
	pc := make([]chunk, len(groups))
	for i, g := range groups {
		pc[i] = chunk{name: chunkPackages, packages: g}
	}
	for cs, pkg := range o.objPkg {
		i := groupOf[pkg]
		pc[i].objects = append(pc[i].objects, cs)
		pc[i].size += s.objects[cs].info.Size
	}
	for i := range pc {
		sortObjs(pc[i].objects)
	}
	return append(out, pc...)
}
