package deploy

import (
	"context"
	"fmt"
	"io"
	"os"
	"path/filepath"
	"strings"

	"github.com/debatom/debatom/pkg/fstree"
	"github.com/debatom/debatom/pkg/ostreerepo"
)

// addRepo adds ostree/repo: a bare repository holding every object of
// commit, its config (with the upgrade remote) and the refs ostree keeps
// for a deployment.
func (s *Sysroot) addRepo(ctx context.Context, repo *ostreerepo.Repo, commit string, tree *fstree.Tree, open func(string) func() (io.ReadCloser, error), opts Options) error {
	const r = "ostree/repo"
	s.dir(r, 0o755, 0, 0)
	for _, d := range []string{"objects", "tmp", "extensions", "state", "refs", "refs/heads", "refs/mirrors", "refs/remotes"} {
		s.dir(r+"/"+d, 0o755, 0, 0)
	}
	var cfg strings.Builder
	cfg.WriteString("[core]\nrepo_version=1\nmode=bare\n")
	// No bootloader backend: the disk's bootloader reads the BLS entries
	// ostree writes anyway (see pkg/diskimage).
	cfg.WriteString("\n[sysroot]\nbootloader=none\n")
	if opts.RemoteURL != "" {
		if strings.ContainsAny(opts.RemoteURL, "\n\r") || strings.ContainsAny(opts.Remote, "\n\r\"]") {
			return fmt.Errorf("deploy: remote %q url %q: newline or quote", opts.Remote, opts.RemoteURL)
		}
		fmt.Fprintf(&cfg, "\n[remote \"%s\"]\nurl=%s\ngpg-verify=false\n", opts.Remote, opts.RemoteURL)
	}
	s.data(r+"/config", []byte(cfg.String()), 0o644, 0, 0)
	s.data(r+"/refs/heads/ostree/1/1/0", []byte(commit+"\n"), 0o644, 0, 0)
	s.dir(r+"/refs/heads/ostree", 0o755, 0, 0)
	s.dir(r+"/refs/heads/ostree/1", 0o755, 0, 0)
	s.dir(r+"/refs/heads/ostree/1/1", 0o755, 0, 0)
	remoteRef := r + "/refs/remotes/" + opts.Remote + "/" + opts.Ref
	for d := filepath.Dir(remoteRef); d != r+"/refs/remotes"; d = filepath.Dir(d) {
		s.dir(d, 0o755, 0, 0)
	}
	s.data(remoteRef, []byte(commit+"\n"), 0o644, 0, 0)

	// Metadata objects are stored as plain files in every repository mode,
	// so their bytes are copied as they are.
	meta := func(csum, ext string) error {
		src := filepath.Join(repo.Dir(), "objects", csum[:2], csum[2:]+"."+ext)
		b, err := os.ReadFile(src)
		if err != nil {
			return fmt.Errorf("deploy: %w", err)
		}
		s.dir(r+"/objects/"+csum[:2], 0o755, 0, 0)
		s.data(r+"/objects/"+csum[:2]+"/"+csum[2:]+"."+ext, b, 0o644, 0, 0)
		return nil
	}
	if err := meta(commit, "commit"); err != nil {
		return err
	}
	if _, err := os.Stat(filepath.Join(repo.Dir(), "objects", commit[:2], commit[2:]+".commitmeta")); err == nil {
		if err := meta(commit, "commitmeta"); err != nil {
			return err
		}
	}
	c, err := repo.ReadCommit(commit)
	if err != nil {
		return fmt.Errorf("deploy: %w", err)
	}
	seen := map[string]bool{}
	var walk func(dt, dm string) error
	walk = func(dt, dm string) error {
		if err := ctx.Err(); err != nil {
			return err
		}
		if !seen[dm] {
			seen[dm] = true
			if err := meta(dm, "dirmeta"); err != nil {
				return err
			}
		}
		if seen[dt] {
			return nil
		}
		seen[dt] = true
		if err := meta(dt, "dirtree"); err != nil {
			return err
		}
		d, err := repo.ReadDirTree(dt)
		if err != nil {
			return fmt.Errorf("deploy: %w", err)
		}
		for _, sub := range d.Dirs {
			if err := walk(sub.Tree, sub.Meta); err != nil {
				return err
			}
		}
		return nil
	}
	if err := walk(c.RootTree, c.RootMeta); err != nil {
		return err
	}

	// Content objects, each once, as bare mode stores them: the file
	// itself with its real owner, mode and xattrs.
	return tree.Walk(func(p string, e *fstree.Entry) error {
		if e.Kind == fstree.Dir || s.index[objectPath(e.Object)] != nil {
			return nil
		}
		if !ostreerepo.ValidChecksum(e.Object) {
			return fmt.Errorf("deploy: %s has no stored object", p)
		}
		s.dir(r+"/objects/"+e.Object[:2], 0o755, 0, 0)
		n := &Node{Path: objectPath(e.Object), Meta: e.ObjectMeta}
		if e.Kind == fstree.Symlink {
			n.Kind, n.Target = Symlink, e.Target
		} else {
			n.Kind, n.Size, n.Open = File, e.Size, open(e.Object)
		}
		s.add(n)
		return nil
	})
}
