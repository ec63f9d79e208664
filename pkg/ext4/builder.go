package ext4

import (
	"fmt"
	"io"
	"sort"
	"strings"
	"time"
)

// Xattr is one extended attribute. Name is the full name with its namespace
// ("user.foo", "security.selinux", "trusted.overlay.opaque").
type Xattr struct {
	Name  string
	Value []byte
}

// Options fixes everything about an image that does not come from the
// tree, so that the same tree and Options give the same bytes.
type Options struct {
	// Size of the image in bytes, rounded down to whole blocks. 0 computes
	// one: 1.5 × the space the tree needs plus the journal and metadata,
	// at least 1 GiB, rounded up to whole 128 MiB block groups, so that a
	// deployed system has room to grow.
	Size int64
	// BlockSize must be 0 or 4096, the only size written.
	BlockSize int
	// Label is the volume name (at most 16 bytes), e.g. "root".
	Label string
	// UUID is the filesystem UUID; HashSeed seeds directory hashing.
	// Both are written as given (all zeros is allowed but unwise).
	UUID     [16]byte
	HashSeed [16]byte
	// Timestamp is used for every inode time and the superblock times;
	// the clock is never read. The zero Time means the Unix epoch; ext4
	// holds times from 1901-12-13 to 2446-05-10.
	Timestamp time.Time
	// InodeRatio is bytes of image per inode (mkfs.ext4's -i); 0 picks
	// mkfs.ext4's default for the size (16384 from 512 MiB to 4 TiB).
	// More inodes are made if the tree needs them.
	InodeRatio int
	// JournalBlocks is the journal size in blocks; 0 picks mkfs.ext4's
	// default for the image size.
	JournalBlocks int
}

type nodeKind uint8

const (
	kindDir nodeKind = iota + 1
	kindFile
	kindSymlink
)

// node is one inode. Hard links share a node.
type node struct {
	kind     nodeKind
	mode     uint32 // permission bits only (07777)
	uid, gid uint32
	xattrs   []Xattr
	size     int64
	open     func() (io.ReadCloser, error)
	target   string
	children map[string]*node
	path     string // first path, for error messages

	// Filled in by layout.
	ino    uint32
	nlink  uint32
	lay    *inodeLayout
	parent *node
}

type pendingLink struct{ path, existing string }

// Builder collects a tree and writes it as an ext4 image. It is not safe
// for concurrent use. Errors in Mkdir, AddFile, Symlink and Hardlink are
// returned at once; errors that need the whole tree (a hard link to a path
// never added, an image too small) come from Write (and Size).
type Builder struct {
	opts  Options
	root  *node
	links []pendingLink
}

// NewBuilder returns a Builder holding the root directory (0755 root:root)
// and lost+found (0700), which mkfs.ext4 also makes.
func NewBuilder(opts Options) *Builder {
	root := &node{kind: kindDir, mode: 0o755, children: map[string]*node{}, path: "/"}
	lf := &node{kind: kindDir, mode: 0o700, children: map[string]*node{}, path: "/lost+found", parent: root}
	root.children["lost+found"] = lf
	return &Builder{opts: opts, root: root}
}

// cleanPath splits p into components, refusing anything that could leave
// the root or that ext4 cannot store.
func cleanPath(p string) ([]string, error) {
	if strings.IndexByte(p, 0) >= 0 {
		return nil, fmt.Errorf("path %q contains a NUL byte", p)
	}
	var out []string
	for _, c := range strings.Split(p, "/") {
		switch c {
		case "", ".":
			continue
		case "..":
			return nil, fmt.Errorf("path %q leaves the root", p)
		}
		if len(c) > 255 {
			return nil, fmt.Errorf("path %q: name longer than 255 bytes", p)
		}
		out = append(out, c)
	}
	return out, nil
}

// parentOf returns the directory that will hold the last component of
// comps, creating missing parents as 0755 root:root directories.
func (b *Builder) parentOf(p string, comps []string) (*node, error) {
	dir := b.root
	for i, c := range comps[:len(comps)-1] {
		child := dir.children[c]
		if child == nil {
			child = &node{kind: kindDir, mode: 0o755, children: map[string]*node{},
				path: "/" + strings.Join(comps[:i+1], "/"), parent: dir}
			dir.children[c] = child
		}
		if child.kind != kindDir {
			return nil, fmt.Errorf("ext4: %s: parent %s is not a directory", p, child.path)
		}
		dir = child
	}
	return dir, nil
}

func checkXattrs(p string, xs []Xattr) ([]Xattr, error) {
	out := append([]Xattr(nil), xs...)
	sort.Slice(out, func(i, j int) bool { return out[i].Name < out[j].Name })
	for i, x := range out {
		idx, _, err := xattrIndex(x.Name)
		if err != nil {
			return nil, fmt.Errorf("ext4: %s: %w", p, err)
		}
		if idx == 2 || idx == 3 {
			if _, err := aclToDisk(x.Value); err != nil {
				return nil, fmt.Errorf("ext4: %s: xattr %s: %w", p, x.Name, err)
			}
		}
		if i > 0 && out[i-1].Name == x.Name {
			return nil, fmt.Errorf("ext4: %s: xattr %s given twice", p, x.Name)
		}
		if len(x.Value) > blockSize-64 {
			return nil, fmt.Errorf("ext4: %s: xattr %s value of %d bytes does not fit a block", p, x.Name, len(x.Value))
		}
	}
	return out, nil
}

func (b *Builder) add(p string, n *node) error {
	comps, err := cleanPath(p)
	if err != nil {
		return fmt.Errorf("ext4: %w", err)
	}
	if n.mode&^0o7777 != 0 {
		return fmt.Errorf("ext4: %s: mode %#o has bits beyond 07777", p, n.mode)
	}
	if n.xattrs, err = checkXattrs(p, n.xattrs); err != nil {
		return err
	}
	if len(comps) == 0 {
		if n.kind != kindDir {
			return fmt.Errorf("ext4: the root must be a directory")
		}
		b.root.mode, b.root.uid, b.root.gid, b.root.xattrs = n.mode, n.uid, n.gid, n.xattrs
		return nil
	}
	dir, err := b.parentOf(p, comps)
	if err != nil {
		return err
	}
	name := comps[len(comps)-1]
	n.path = "/" + strings.Join(comps, "/")
	if old := dir.children[name]; old != nil {
		if old.kind == kindDir && n.kind == kindDir {
			// Mkdir on an existing directory (made implicitly, or
			// lost+found) sets its metadata.
			old.mode, old.uid, old.gid, old.xattrs = n.mode, n.uid, n.gid, n.xattrs
			return nil
		}
		return fmt.Errorf("ext4: %s already exists", n.path)
	}
	if dir == b.root && name == "lost+found" {
		return fmt.Errorf("ext4: /lost+found is reserved for a directory")
	}
	n.parent = dir
	dir.children[name] = n
	return nil
}

// Mkdir adds a directory, or sets the metadata of one that exists (the
// root is ""). Missing parents are created 0755 root:root. mode holds
// permission bits only (07777).
func (b *Builder) Mkdir(path string, mode, uid, gid uint32, xattrs []Xattr) error {
	return b.add(path, &node{kind: kindDir, mode: mode, uid: uid, gid: gid, xattrs: xattrs, children: map[string]*node{}})
}

// AddFile adds a regular file of size bytes whose content open yields.
// open is called once, during Write; the stream must hold exactly size
// bytes.
func (b *Builder) AddFile(path string, mode, uid, gid uint32, xattrs []Xattr, size int64, open func() (io.ReadCloser, error)) error {
	if size < 0 {
		return fmt.Errorf("ext4: %s: negative size %d", path, size)
	}
	if size > 0 && open == nil {
		return fmt.Errorf("ext4: %s: no content for %d bytes", path, size)
	}
	return b.add(path, &node{kind: kindFile, mode: mode, uid: uid, gid: gid, xattrs: xattrs, size: size, open: open})
}

// Symlink adds a symbolic link (mode 0777).
func (b *Builder) Symlink(path, target string, uid, gid uint32, xattrs []Xattr) error {
	if target == "" || len(target) >= blockSize {
		return fmt.Errorf("ext4: %s: symlink target length %d not in 1..%d", path, len(target), blockSize-1)
	}
	return b.add(path, &node{kind: kindSymlink, mode: 0o777, uid: uid, gid: gid, xattrs: xattrs, target: target, size: int64(len(target))})
}

// Hardlink makes path another name for existing, a file or symlink. The
// target is looked up when Write runs, so it may be added later.
func (b *Builder) Hardlink(path, existing string) error {
	comps, err := cleanPath(path)
	if err != nil {
		return fmt.Errorf("ext4: %w", err)
	}
	if len(comps) == 0 {
		return fmt.Errorf("ext4: cannot hard-link over the root")
	}
	if _, err := cleanPath(existing); err != nil {
		return fmt.Errorf("ext4: hard link %s: %w", path, err)
	}
	if _, err := b.parentOf(path, comps); err != nil {
		return err
	}
	b.links = append(b.links, pendingLink{path: path, existing: existing})
	return nil
}

func (b *Builder) lookup(p string) (*node, error) {
	comps, err := cleanPath(p)
	if err != nil {
		return nil, err
	}
	n := b.root
	for _, c := range comps {
		if n.kind != kindDir {
			return nil, fmt.Errorf("%s: not found", p)
		}
		if n = n.children[c]; n == nil {
			return nil, fmt.Errorf("%s: not found", p)
		}
	}
	return n, nil
}

// resolveLinks inserts the pending hard links, in the order they were made.
func (b *Builder) resolveLinks() error {
	for _, l := range b.links {
		target, err := b.lookup(l.existing)
		if err != nil {
			return fmt.Errorf("ext4: hard link %s: target %w", l.path, err)
		}
		if target.kind == kindDir {
			return fmt.Errorf("ext4: hard link %s: target %s is a directory", l.path, l.existing)
		}
		comps, _ := cleanPath(l.path)
		dir, err := b.parentOf(l.path, comps)
		if err != nil {
			return err
		}
		name := comps[len(comps)-1]
		if dir.children[name] != nil {
			return fmt.Errorf("ext4: hard link %s: path already exists", l.path)
		}
		dir.children[name] = target
	}
	b.links = nil
	return nil
}
