package ociwriter

import (
	"archive/tar"
	"bufio"
	"fmt"
	"io"
	"path"
	"time"

	"github.com/debatom/debatom/pkg/fstree"
	"github.com/debatom/debatom/pkg/gvariant"
	"github.com/debatom/debatom/pkg/ostreerepo"
)

// repoConfig marks the embedded repository as a tar export, as ostree-ext
// writes it (ostreedev/ostree#2499).
const repoConfig = "[core]\nrepo_version=1\nmode=bare-split-xattrs\n"

// layerWriter writes one layer's tar stream.
type layerWriter struct {
	repo *ostreerepo.Repo
	s    *snapshot
	tw   *tar.Writer
	dirs map[string]bool // parents already written in this layer
}

func newLayerWriter(repo *ostreerepo.Repo, s *snapshot, w io.Writer) *layerWriter {
	return &layerWriter{repo: repo, s: s, tw: tar.NewWriter(w), dirs: map[string]bool{}}
}

func (l *layerWriter) header(h *tar.Header) error {
	// Checkouts have mtime 0 too, and a fixed time keeps layers
	// reproducible.
	h.ModTime = time.Unix(0, 0)
	if err := l.tw.WriteHeader(h); err != nil {
		return fmt.Errorf("tar entry %s: %w", h.Name, err)
	}
	return nil
}

func (l *layerWriter) dir(name string, m fstree.Meta) error {
	return l.header(&tar.Header{Typeflag: tar.TypeDir, Name: name + "/", Mode: int64(m.Mode & 0o7777), Uid: int(m.UID), Gid: int(m.GID)})
}

func (l *layerWriter) data(name string, b []byte) error {
	if err := l.header(&tar.Header{Typeflag: tar.TypeReg, Name: name, Mode: 0o644, Size: int64(len(b))}); err != nil {
		return err
	}
	if _, err := l.tw.Write(b); err != nil {
		return fmt.Errorf("tar entry %s: %w", name, err)
	}
	return nil
}

// repoStructure writes sysroot/ostree/repo's directories and config, which
// every ostree-ext layer starts with.
func (l *layerWriter) repoStructure() error {
	root := fstree.Meta{Mode: 0o755}
	for _, d := range []string{"sysroot", "sysroot/ostree", "sysroot/ostree/repo", "sysroot/ostree/repo/objects"} {
		if err := l.dir(d, root); err != nil {
			return err
		}
	}
	for i := 0; i < 256; i++ {
		if err := l.dir(fmt.Sprintf("sysroot/ostree/repo/objects/%02x", i), root); err != nil {
			return err
		}
	}
	for _, d := range []string{"extensions", "refs", "refs/heads", "refs/mirrors", "refs/remotes", "state", "tmp", "tmp/cache"} {
		if err := l.dir("sysroot/ostree/repo/"+d, root); err != nil {
			return err
		}
	}
	return l.data("sysroot/ostree/repo/config", []byte(repoConfig))
}

// commitLayer writes the first layer: the root, the repository skeleton,
// the commit and every dirtree and dirmeta object, every directory of the
// checkout, /var/tmp and /var/run, then the objects no package owns.
func (l *layerWriter) commitLayer(rest []string) error {
	s := l.s
	if err := l.header(&tar.Header{Typeflag: tar.TypeDir, Name: "./", Mode: int64(s.dirs[0].meta.Mode & 0o7777), Uid: int(s.dirs[0].meta.UID), Gid: int(s.dirs[0].meta.GID)}); err != nil {
		return err
	}
	if err := l.repoStructure(); err != nil {
		return err
	}
	for _, m := range s.meta {
		if err := l.data(objectPath(m.typ, m.csum), m.data); err != nil {
			return err
		}
	}
	hasVar, hasTmp, hasRun := false, false, false
	for _, d := range s.dirs[1:] {
		switch d.path {
		case "var":
			hasVar = true
		case "var/tmp":
			hasTmp = true
		case "var/run":
			hasRun = true
		}
		// sysroot is already in the stream as the repository's parent;
		// tar streams for containers cannot repeat it.
		if d.path == "sysroot" {
			continue
		}
		if err := l.dir(tarPath(d.path), d.meta); err != nil {
			return err
		}
		l.dirs[tarPath(d.path)] = true
	}
	for _, f := range s.files {
		if f.path == "var/run" {
			hasRun = true
		}
	}
	// OSTree's /var starts empty and is filled at boot by tmpfiles.d, but a
	// container runs no tmpfiles: ostree-ext adds /var/tmp, and bootc's lint
	// wants /var/run to be a link to /run.
	if !hasVar {
		if err := l.dir("var", fstree.Meta{Mode: 0o755}); err != nil {
			return err
		}
	}
	if !hasTmp {
		if err := l.dir("var/tmp", fstree.Meta{Mode: 0o1777}); err != nil {
			return err
		}
	}
	if !hasRun {
		if err := l.header(&tar.Header{Typeflag: tar.TypeSymlink, Name: "var/run", Linkname: "../run", Mode: 0o777}); err != nil {
			return err
		}
	}
	return l.objects(rest)
}

// chunkLayer writes a package layer: the repository skeleton, then each
// object and its checkout paths as hard links.
func (l *layerWriter) chunkLayer(c chunk) error {
	if err := l.repoStructure(); err != nil {
		return err
	}
	return l.objects(c.objects)
}

// objects writes content objects under the repository, each preceded by
// its xattrs (the importer needs them first) and followed by a hard link at
// every path the commit has it. Parent directories are written with their
// commit metadata so each layer unpacks on its own.
func (l *layerWriter) objects(objs []string) error {
	for _, cs := range objs {
		o := l.s.objects[cs]
		if err := l.object(cs, o); err != nil {
			return err
		}
	}
	return nil
}

func (l *layerWriter) object(cs string, o *object) error {
	info := o.info
	xb, err := xattrBytes(info.Meta.Xattrs)
	if err != nil {
		return fmt.Errorf("xattrs of object %s: %w", cs, err)
	}
	if err := l.data(objectPath(ostreerepo.ObjFile, cs)+"-xattrs-link", xb); err != nil {
		return err
	}
	objPath := objectPath(ostreerepo.ObjFile, cs)
	h := tar.Header{Name: objPath, Mode: int64(info.Meta.Mode & 0o7777), Uid: int(info.Meta.UID), Gid: int(info.Meta.GID)}
	for _, x := range info.Meta.Xattrs {
		// containers/storage drops security.selinux, so ostree-ext never
		// relies on it in the tar headers; it stays in the xattrs object.
		if x.Name == "security.selinux" {
			continue
		}
		if h.PAXRecords == nil {
			h.PAXRecords = map[string]string{}
		}
		h.PAXRecords["SCHILY.xattr."+x.Name] = string(x.Value)
	}
	if info.Kind == fstree.Symlink {
		h.Typeflag = tar.TypeSymlink
		h.Linkname = info.Target
		if err := l.header(&h); err != nil {
			return err
		}
	} else {
		h.Typeflag = tar.TypeReg
		h.Size = info.Size
		rc, _, err := l.repo.OpenFile(cs)
		if err != nil {
			return fmt.Errorf("object %s (/%s): %w", cs, o.paths[0], err)
		}
		err = l.header(&h)
		if err == nil {
			var n int64
			n, err = io.Copy(l.tw, bufio.NewReaderSize(rc, 128<<10))
			if err == nil && n != info.Size {
				err = fmt.Errorf("payload is %d bytes, header says %d", n, info.Size)
			}
		}
		rc.Close()
		if err != nil {
			return fmt.Errorf("object %s (/%s): %w", cs, o.paths[0], err)
		}
	}
	for _, p := range o.paths {
		tp := tarPath(p)
		if err := l.parents(tp); err != nil {
			return err
		}
		lh := tar.Header{Name: tp, Mode: h.Mode, Uid: h.Uid, Gid: h.Gid, Typeflag: tar.TypeLink, Linkname: objPath}
		// An empty file is written as itself rather than as a link, so a
		// derived image that edits it cannot change the object (as
		// ostree-ext does).
		if info.Kind == fstree.File && info.Size == 0 {
			lh.Typeflag, lh.Linkname = tar.TypeReg, ""
		}
		if err := l.header(&lh); err != nil {
			return err
		}
	}
	return nil
}

// parents writes the missing parent directories of tar path p.
func (l *layerWriter) parents(p string) error {
	dir := path.Dir(p)
	if dir == "." || l.dirs[dir] {
		return nil
	}
	if err := l.parents(dir); err != nil {
		return err
	}
	src := dir
	if src == "etc" || len(src) > 4 && src[:4] == "etc/" {
		src = "usr/" + src
	}
	m, ok := l.s.dirMetas[src]
	if !ok {
		m = fstree.Meta{Mode: 0o755}
	}
	l.dirs[dir] = true
	return l.dir(dir, m)
}

func (l *layerWriter) close() error {
	if err := l.tw.Close(); err != nil {
		return fmt.Errorf("finish tar: %w", err)
	}
	return nil
}

// xattrBytes serializes xattrs as OSTree's a(ayay): names with their NUL.
func xattrBytes(xs []fstree.Xattr) ([]byte, error) {
	arr := make([]any, len(xs))
	for i, x := range xs {
		arr[i] = gvariant.Tuple{append([]byte(x.Name), 0), x.Value}
	}
	return gvariant.Marshal("a(ayay)", arr)
}
