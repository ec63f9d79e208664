package ociwriter

import (
	"context"
	"crypto/sha256"
	"encoding/hex"
	"errors"
	"fmt"
	"io/fs"
	"os"
	"path/filepath"

	"github.com/debatom/debatom/pkg/fstree"
	"github.com/debatom/debatom/pkg/ostreerepo"
)

// metaObject is one metadata object of the commit, in the order ostree-ext
// writes them into the commit layer.
type metaObject struct {
	typ  ostreerepo.ObjectType
	csum string
	data []byte
}

// dirInfo is one directory of the commit: its checkout path and metadata.
type dirInfo struct {
	path string
	meta fstree.Meta
}

// fileRef is one non-directory entry of the commit: its checkout path and
// content object.
type fileRef struct {
	path string
	csum string
}

// object is a content object as the tar needs it.
type object struct {
	info  *ostreerepo.FileInfo
	paths []string // checkout paths, in commit order
}

// snapshot is everything the image writer needs from the commit, read once.
type snapshot struct {
	commit   string
	c        *ostreerepo.Commit
	meta     []metaObject // commit, commitmeta, then dirmeta/dirtree in walk order
	dirs     []dirInfo    // walk order; dirs[0] is the root ""
	files    []fileRef    // walk order
	objects  map[string]*object
	dirMetas map[string]fstree.Meta // by path
}

// readSnapshot walks the commit the way ostree-ext's tar exporter does:
// root dirmeta, then each dirtree followed by its subdirectories' dirmetas,
// depth first, files before directories, names in byte order. Every
// metadata object is re-serialized and checked against its checksum, so the
// bytes written into the image are the bytes the repository names.
func readSnapshot(ctx context.Context, repo *ostreerepo.Repo, commit string) (*snapshot, error) {
	c, err := repo.ReadCommit(commit)
	if err != nil {
		return nil, fmt.Errorf("read commit %s: %w", commit, err)
	}
	s := &snapshot{commit: commit, c: c, objects: map[string]*object{}, dirMetas: map[string]fstree.Meta{}}
	cb, err := c.Bytes()
	if err != nil {
		return nil, fmt.Errorf("serialize commit %s: %w", commit, err)
	}
	if err := checkSum(cb, commit, "commit"); err != nil {
		return nil, err
	}
	s.meta = append(s.meta, metaObject{ostreerepo.ObjCommit, commit, cb})
	if cm, err := readCommitMeta(repo, commit); err != nil {
		return nil, err
	} else if cm != nil {
		s.meta = append(s.meta, metaObject{ostreerepo.ObjCommitMeta, commit, cm})
	}
	seenTree := map[string]bool{}
	seenMeta := map[string]bool{}
	addMeta := func(csum string) (fstree.Meta, error) {
		dm, err := repo.ReadDirMeta(csum)
		if err != nil {
			return fstree.Meta{}, fmt.Errorf("commit %s: dirmeta %s: %w", commit, csum, err)
		}
		if !seenMeta[csum] {
			seenMeta[csum] = true
			b, err := ostreerepo.DirMetaBytes(dm.Meta)
			if err != nil {
				return fstree.Meta{}, fmt.Errorf("dirmeta %s: %w", csum, err)
			}
			if err := checkSum(b, csum, "dirmeta"); err != nil {
				return fstree.Meta{}, err
			}
			s.meta = append(s.meta, metaObject{ostreerepo.ObjDirMeta, csum, b})
		}
		return dm.Meta, nil
	}
	rootMeta, err := addMeta(c.RootMeta)
	if err != nil {
		return nil, err
	}
	s.dirs = append(s.dirs, dirInfo{"", rootMeta})
	s.dirMetas[""] = rootMeta
	var walk func(dir, tree string) error
	walk = func(dir, tree string) error {
		if err := ctx.Err(); err != nil {
			return err
		}
		dt, err := repo.ReadDirTree(tree)
		if err != nil {
			return fmt.Errorf("commit %s: dirtree %s of /%s: %w", commit, tree, dir, err)
		}
		if !seenTree[tree] {
			seenTree[tree] = true
			b, err := dt.Bytes()
			if err != nil {
				return fmt.Errorf("dirtree %s: %w", tree, err)
			}
			if err := checkSum(b, tree, "dirtree"); err != nil {
				return err
			}
			s.meta = append(s.meta, metaObject{ostreerepo.ObjDirTree, tree, b})
		}
		for _, f := range dt.Files {
			p := join(dir, f.Name)
			s.files = append(s.files, fileRef{p, f.Checksum})
			o := s.objects[f.Checksum]
			if o == nil {
				rc, info, err := repo.OpenFile(f.Checksum)
				if err != nil {
					return fmt.Errorf("commit %s: /%s: %w", commit, p, err)
				}
				rc.Close()
				o = &object{info: info}
				s.objects[f.Checksum] = o
			}
			o.paths = append(o.paths, p)
		}
		for _, d := range dt.Dirs {
			m, err := addMeta(d.Meta)
			if err != nil {
				return err
			}
			p := join(dir, d.Name)
			s.dirs = append(s.dirs, dirInfo{p, m})
			s.dirMetas[p] = m
			if err := walk(p, d.Tree); err != nil {
				return err
			}
		}
		return nil
	}
	if err := walk("", c.RootTree); err != nil {
		return nil, err
	}
	return s, nil
}

// readCommitMeta returns the detached metadata of a commit, or nil. Every
// repository mode stores it as a plain file beside the commit object.
func readCommitMeta(repo *ostreerepo.Repo, commit string) ([]byte, error) {
	p := filepath.Join(repo.Dir(), "objects", commit[:2], commit[2:]+".commitmeta")
	b, err := os.ReadFile(p)
	if errors.Is(err, fs.ErrNotExist) {
		return nil, nil
	}
	if err != nil {
		return nil, fmt.Errorf("read detached metadata of %s: %w", commit, err)
	}
	return b, nil
}

func checkSum(b []byte, want, kind string) error {
	sum := sha256.Sum256(b)
	if got := hex.EncodeToString(sum[:]); got != want {
		return fmt.Errorf("%s object %s re-serializes to %s: the repository is corrupt or not in normal form", kind, want, got)
	}
	return nil
}

func join(dir, name string) string {
	if dir == "" {
		return name
	}
	return dir + "/" + name
}

// tarPath maps a checkout path to its path in the image: usr/etc is shown
// as etc, as ostree-ext does, because a container's /etc is /etc.
func tarPath(p string) string {
	if p == "usr/etc" {
		return "etc"
	}
	if len(p) > 8 && p[:8] == "usr/etc/" {
		return p[4:]
	}
	return p
}

// objectPath is where a content or metadata object lives in the image.
func objectPath(t ostreerepo.ObjectType, csum string) string {
	return "sysroot/ostree/repo/objects/" + csum[:2] + "/" + csum[2:] + "." + t.String()
}
