// Package deploy writes the sysroot that `ostree admin init-fs --modern`,
// `ostree admin os-init` and `ostree admin deploy` would produce for one
// commit, without running ostree and without a real directory: the result is
// a list of nodes (directories, files, symlinks, hard links) that can be laid
// into an ext4 image (AddTo) or, for tests and tools, onto a real directory
// (WriteDir).
//
// The layout, as libostree 2024.5 and later write it (ostree-sysroot.c,
// ostree-sysroot-deploy.c):
//
//	ostree/repo                          bare repository holding the commit
//	ostree/repo/refs/heads/ostree/1/1/0  keeps the deployed commit from pruning
//	ostree/repo/refs/remotes/R/REF       the origin's ref
//	ostree/deploy/OS/var                 the stateroot's shared /var
//	ostree/deploy/OS/deploy/C.0          the deployment: hard links of the objects
//	ostree/deploy/OS/deploy/C.0/etc      a copy of usr/etc (the 3-way-merge base)
//	ostree/deploy/OS/deploy/C.0.origin   [origin] refspec=R:REF
//	ostree/boot.1 -> boot.1.1
//	ostree/boot.1.1/OS/B/0 -> ../../../deploy/OS/deploy/C.0
//	boot/loader -> loader.1
//	boot/loader.1/entries/ostree-1.conf  the BLS entry
//	boot/ostree/OS-B/vmlinuz-KVER        hard links of the kernel and initramfs
//	boot/ostree/OS-B/initramfs-KVER.img
//
// where B, the boot checksum, is SHA-256(vmlinuz ‖ initramfs). In a bare
// repository every regular file and symlink is stored as itself with its real
// owner, mode and xattrs, so a deployment's file is the same inode as its
// object: nodes of kind Hardlink express that.
//
// Customizations (users, passwords, SSH keys, hostname) go into the
// deployment's etc and the stateroot's var, never into the commit, as
// bootc-image-builder does; ostree's 3-way merge carries them to later
// deployments.
package deploy

import (
	"context"
	"crypto/sha256"
	"encoding/hex"
	"fmt"
	"io"
	"path"
	"sort"
	"strings"

	"github.com/debatom/debatom/pkg/fstree"
	"github.com/debatom/debatom/pkg/ostreerepo"
)

// Kind is a node's type: the fstree kinds plus Hardlink.
type Kind uint8

const (
	Dir Kind = iota + 1
	File
	Symlink
	// Hardlink is another name for the node at Link (a file or symlink).
	Hardlink
)

// Node is one path of the sysroot.
type Node struct {
	Path string
	Kind Kind
	fstree.Meta
	Target string // symlink target
	Link   string // Hardlink: the path this is another name of
	Size   int64  // regular file size
	// Open yields a regular file's Size bytes.
	Open func() (io.ReadCloser, error)
}

// Options describe the deployment.
type Options struct {
	// OSName is the stateroot; default "debian".
	OSName string
	// Remote and Ref make the origin refspec Remote:Ref that `ostree admin
	// upgrade` pulls from. Remote defaults to "debatom"; Ref is required.
	Remote string
	Ref    string
	// RemoteURL, when set, is written to the repository config as the
	// remote's url (gpg-verify=false unless GPGKey is set).
	RemoteURL string
	// KernelArgs start the entry's options (root=..., rw, console=...);
	// then come the commit's kargs.d arguments, ExtraKernelArgs and
	// ostree=.
	KernelArgs, ExtraKernelArgs []string
	// Arch selects kargs.d files by match-architectures; default "x86_64".
	Arch string
	// Customize edits the deployment's etc and var.
	Customize Customizations
}

// Sysroot is a deployed sysroot in memory.
type Sysroot struct {
	nodes []*Node
	index map[string]*Node

	// Commit is the deployed commit; OSName its stateroot.
	Commit, OSName string
	// KernelVersion, BootCsum and the boot paths of the kernel and
	// initramfs (relative to the sysroot, e.g. boot/ostree/debian-B/vmlinuz-KVER).
	KernelVersion, BootCsum string
	Kernel, Initramfs       string
	// Deployment is the deployment's directory (ostree/deploy/OS/deploy/C.0).
	Deployment string
	// Entry is the BLS entry's path (boot/loader.1/entries/ostree-1.conf)
	// and EntryText its contents.
	Entry, EntryText string
}

// Nodes returns the nodes in path order, parents before children.
func (s *Sysroot) Nodes() []*Node {
	out := append([]*Node(nil), s.nodes...)
	sort.Slice(out, func(i, j int) bool { return out[i].Path < out[j].Path })
	return out
}

// Get returns the node at p or nil.
func (s *Sysroot) Get(p string) *Node { return s.index[p] }

// Open opens the regular file at p, following a hard link.
func (s *Sysroot) Open(p string) (io.ReadCloser, int64, error) {
	n := s.index[p]
	if n != nil && n.Kind == Hardlink {
		n = s.index[n.Link]
	}
	if n == nil || n.Kind != File {
		return nil, 0, fmt.Errorf("sysroot: %s is not a regular file", p)
	}
	rc, err := n.Open()
	return rc, n.Size, err
}

func (s *Sysroot) add(n *Node) {
	if old := s.index[n.Path]; old != nil {
		*old = *n
		return
	}
	s.nodes = append(s.nodes, n)
	s.index[n.Path] = n
}

func (s *Sysroot) dir(p string, mode, uid, gid uint32) {
	s.add(&Node{Path: p, Kind: Dir, Meta: fstree.Meta{Mode: mode, UID: uid, GID: gid}})
}

func (s *Sysroot) data(p string, b []byte, mode, uid, gid uint32) {
	s.add(&Node{Path: p, Kind: File, Meta: fstree.Meta{Mode: mode, UID: uid, GID: gid}, Size: int64(len(b)), Open: bytesOpener(b)})
}

func (s *Sysroot) symlink(p, target string) {
	s.add(&Node{Path: p, Kind: Symlink, Meta: fstree.Meta{Mode: 0o777}, Target: target})
}

func bytesOpener(b []byte) func() (io.ReadCloser, error) {
	return func() (io.ReadCloser, error) { return io.NopCloser(strings.NewReader(string(b))), nil }
}

// Deploy builds the sysroot for commit from repo (of any mode).
func Deploy(ctx context.Context, repo *ostreerepo.Repo, commit string, opts Options) (*Sysroot, error) {
	if opts.OSName == "" {
		opts.OSName = "debian"
	}
	if opts.Remote == "" {
		opts.Remote = "debatom"
	}
	if opts.Ref == "" {
		return nil, fmt.Errorf("deploy %s: no ref for the origin", commit)
	}
	if !ostreerepo.ValidChecksum(commit) {
		c, err := repo.ResolveRef(commit)
		if err != nil {
			return nil, fmt.Errorf("deploy: %w", err)
		}
		commit = c
	}
	tree, err := checkout(ctx, repo, commit)
	if err != nil {
		return nil, fmt.Errorf("deploy %s: %w", commit, err)
	}
	kver, err := kernelVersion(tree)
	if err != nil {
		return nil, fmt.Errorf("deploy %s: %w", commit, err)
	}
	s := &Sysroot{index: map[string]*Node{}, Commit: commit, OSName: opts.OSName, KernelVersion: kver}
	open := func(csum string) func() (io.ReadCloser, error) {
		return func() (io.ReadCloser, error) {
			rc, _, err := repo.OpenFile(csum)
			if err != nil {
				return nil, fmt.Errorf("object %s: %w", csum, err)
			}
			return rc, nil
		}
	}

	// init-fs --modern and os-init.
	s.dir("", 0o755, 0, 0)
	s.dir("boot", 0o755, 0, 0)
	s.dir("ostree", 0o755, 0, 0)
	if err := s.addRepo(ctx, repo, commit, tree, open, opts); err != nil {
		return nil, err
	}
	stateroot := "ostree/deploy/" + opts.OSName
	s.dir("ostree/deploy", 0o755, 0, 0)
	s.dir(stateroot, 0o755, 0, 0)
	s.dir(stateroot+"/deploy", 0o755, 0, 0)
	// What ostree creates in an empty stateroot var; systemd-tmpfiles
	// makes the rest at boot.
	s.dir(stateroot+"/var", 0o755, 0, 0)
	s.dir(stateroot+"/var/tmp", 0o1777, 0, 0)
	s.dir(stateroot+"/var/lib", 0o755, 0, 0)
	s.dir(stateroot+"/var/log", 0o755, 0, 0)
	s.symlink(stateroot+"/var/run", "../run")
	s.symlink(stateroot+"/var/lock", "../run/lock")

	// The deployment: hard links of the bare objects.
	dep := stateroot + "/deploy/" + commit + ".0"
	s.Deployment = dep
	err = tree.Walk(func(p string, e *fstree.Entry) error {
		dst := path.Join(dep, p)
		switch e.Kind {
		case fstree.Dir:
			s.add(&Node{Path: dst, Kind: Dir, Meta: e.Meta})
		default:
			s.add(&Node{Path: dst, Kind: Hardlink, Link: objectPath(e.Object)})
		}
		return nil
	})
	if err != nil {
		return nil, err
	}
	// etc is a copy, not links: it is the deployment's mutable config.
	err = tree.Walk(func(p string, e *fstree.Entry) error {
		if p != "usr/etc" && !strings.HasPrefix(p, "usr/etc/") {
			return nil
		}
		dst := path.Join(dep, "etc", strings.TrimPrefix(strings.TrimPrefix(p, "usr/etc"), "/"))
		switch e.Kind {
		case fstree.Dir:
			s.add(&Node{Path: dst, Kind: Dir, Meta: e.Meta})
		case fstree.Symlink:
			s.add(&Node{Path: dst, Kind: Symlink, Meta: e.ObjectMeta, Target: e.Target})
		case fstree.File:
			s.add(&Node{Path: dst, Kind: File, Meta: e.ObjectMeta, Size: e.Size, Open: open(e.Object)})
		}
		return nil
	})
	if err != nil {
		return nil, err
	}
	if s.index[dep+"/etc"] == nil {
		return nil, fmt.Errorf("deploy %s: the commit has no usr/etc", commit)
	}
	if err := opts.Customize.apply(s, dep, stateroot+"/var", commit); err != nil {
		return nil, fmt.Errorf("deploy %s: %w", commit, err)
	}
	s.data(dep+".origin", []byte("[origin]\nrefspec="+opts.Remote+":"+opts.Ref+"\n"), 0o644, 0, 0)

	// The boot side.
	kobj := tree.Get("usr/lib/modules/" + kver + "/vmlinuz")
	iobj := tree.Get("usr/lib/modules/" + kver + "/initramfs.img")
	h := sha256.New()
	for _, e := range []*fstree.Entry{kobj, iobj} {
		rc, err := open(e.Object)()
		if err != nil {
			return nil, fmt.Errorf("deploy %s: %w", commit, err)
		}
		_, err = io.Copy(h, rc)
		rc.Close()
		if err != nil {
			return nil, fmt.Errorf("deploy %s: reading the kernel: %w", commit, err)
		}
	}
	s.BootCsum = hex.EncodeToString(h.Sum(nil))
	bootdir := "boot/ostree/" + opts.OSName + "-" + s.BootCsum
	s.dir("boot/ostree", 0o755, 0, 0)
	s.dir(bootdir, 0o755, 0, 0)
	s.Kernel = bootdir + "/vmlinuz-" + kver
	s.Initramfs = bootdir + "/initramfs-" + kver + ".img"
	// ostree hard-links these from the deployment when /boot shares its
	// file system, as it does here.
	s.add(&Node{Path: s.Kernel, Kind: Hardlink, Link: objectPath(kobj.Object)})
	s.add(&Node{Path: s.Initramfs, Kind: Hardlink, Link: objectPath(iobj.Object)})
	s.symlink("ostree/boot.1", "boot.1.1")
	s.dir("ostree/boot.1.1", 0o755, 0, 0)
	s.dir("ostree/boot.1.1/"+opts.OSName, 0o755, 0, 0)
	s.dir("ostree/boot.1.1/"+opts.OSName+"/"+s.BootCsum, 0o755, 0, 0)
	s.symlink("ostree/boot.1.1/"+opts.OSName+"/"+s.BootCsum+"/0", "../../../deploy/"+opts.OSName+"/deploy/"+commit+".0")
	s.symlink("boot/loader", "loader.1")
	s.dir("boot/loader.1", 0o755, 0, 0)
	s.dir("boot/loader.1/entries", 0o755, 0, 0)
	title, err := entryTitle(tree, open, repo, commit)
	if err != nil {
		return nil, fmt.Errorf("deploy %s: %w", commit, err)
	}
	if opts.Arch == "" {
		opts.Arch = "x86_64"
	}
	kargs, err := commitKargs(tree, open, opts.Arch)
	if err != nil {
		return nil, fmt.Errorf("deploy %s: %w", commit, err)
	}
	options := append(append([]string(nil), opts.KernelArgs...), kargs...)
	options = append(append(options, opts.ExtraKernelArgs...), "ostree=/ostree/boot.1/"+opts.OSName+"/"+s.BootCsum+"/0")
	var b strings.Builder
	fmt.Fprintf(&b, "title %s\nversion 1\noptions %s\nlinux /%s\ninitrd /%s\n",
		title, strings.Join(options, " "), strings.TrimPrefix(s.Kernel, "boot/"), strings.TrimPrefix(s.Initramfs, "boot/"))
	s.Entry = "boot/loader.1/entries/ostree-1.conf"
	s.EntryText = b.String()
	s.data(s.Entry, []byte(s.EntryText), 0o644, 0, 0)
	return s, nil
}

// kernelVersion finds the one kernel and initramfs of the tree where
// ostree looks for them: usr/lib/modules/KVER/{vmlinuz,initramfs.img}.
func kernelVersion(t *fstree.Tree) (string, error) {
	var found []string
	for _, k := range t.Children("usr/lib/modules") {
		if e := t.Get("usr/lib/modules/" + k + "/vmlinuz"); e != nil && e.Kind == fstree.File {
			found = append(found, k)
		}
	}
	switch {
	case len(found) == 0:
		return "", fmt.Errorf("no kernel: usr/lib/modules/*/vmlinuz is missing (is the commit bootable?)")
	case len(found) > 1:
		return "", fmt.Errorf("%d kernels in usr/lib/modules (%s); ostree needs exactly one", len(found), strings.Join(found, ", "))
	}
	if e := t.Get("usr/lib/modules/" + found[0] + "/initramfs.img"); e == nil || e.Kind != fstree.File {
		return "", fmt.Errorf("kernel %s has no usr/lib/modules/%s/initramfs.img", found[0], found[0])
	}
	return found[0], nil
}

// entryTitle is what ostree puts in the BLS title: PRETTY_NAME (else ID),
// the commit's version unless PRETTY_NAME holds it, and "(ostree:0)".
func entryTitle(t *fstree.Tree, open func(string) func() (io.ReadCloser, error), repo *ostreerepo.Repo, commit string) (string, error) {
	e := t.Get("usr/lib/os-release")
	if e == nil || e.Kind != fstree.File {
		e = t.Get("usr/etc/os-release")
	}
	if e == nil || e.Kind != fstree.File {
		return "", fmt.Errorf("no usr/lib/os-release")
	}
	rc, err := open(e.Object)()
	if err != nil {
		return "", err
	}
	b, err := io.ReadAll(io.LimitReader(rc, 1<<20))
	rc.Close()
	if err != nil {
		return "", fmt.Errorf("reading os-release: %w", err)
	}
	vals := map[string]string{}
	for _, line := range strings.Split(string(b), "\n") {
		k, v, ok := strings.Cut(strings.TrimSpace(line), "=")
		if ok {
			vals[k] = strings.Trim(v, `"'`)
		}
	}
	title := vals["PRETTY_NAME"]
	if title == "" {
		title = vals["ID"]
	}
	if title == "" {
		return "", fmt.Errorf("os-release has no PRETTY_NAME or ID")
	}
	c, err := repo.ReadCommit(commit)
	if err != nil {
		return "", err
	}
	if v, ok := c.Lookup("version"); ok {
		if ver, ok := v.Value.(string); ok && ver != "" && !strings.Contains(title, ver) {
			title += " " + ver
		}
	}
	return title + " (ostree:0)", nil
}

// objectPath is where a bare repository keeps a content object.
func objectPath(csum string) string {
	return "ostree/repo/objects/" + csum[:2] + "/" + csum[2:] + ".file"
}

// AddEtcFile adds a root-owned file to the deployment's etc (rel is
// relative to /etc), for machine-local configuration a disk image needs.
func (s *Sysroot) AddEtcFile(rel string, data []byte, mode uint32) error {
	p, err := s.etcPath(rel)
	if err != nil {
		return err
	}
	s.data(p, data, mode&0o7777, 0, 0)
	return nil
}

// AddEtcSymlink adds a symlink to the deployment's etc.
func (s *Sysroot) AddEtcSymlink(rel, target string) error {
	p, err := s.etcPath(rel)
	if err != nil {
		return err
	}
	s.symlink(p, target)
	return nil
}

func (s *Sysroot) etcPath(rel string) (string, error) {
	c, err := fstree.Clean(rel)
	if err != nil || c == "" {
		return "", fmt.Errorf("etc path %q: not a relative path", rel)
	}
	p := s.Deployment + "/etc/" + c
	// Parents as directories, like a tree's MkdirAll.
	for d := path.Dir(p); d != s.Deployment+"/etc"; d = path.Dir(d) {
		if n := s.index[d]; n == nil {
			s.dir(d, 0o755, 0, 0)
		} else if n.Kind != Dir {
			return "", fmt.Errorf("etc path %q: %s is not a directory", rel, d)
		}
	}
	return p, nil
}
