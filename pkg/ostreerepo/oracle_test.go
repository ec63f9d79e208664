package ostreerepo

import (
	"context"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/debatom/debatom/pkg/gvariant"
)

type commitCase struct {
	mode     Mode
	bindings bool
	bootable bool
}

func (c commitCase) name() string {
	n := c.mode.String()
	if !c.bindings {
		n += "-no-bindings"
	}
	if c.bootable {
		n += "-bootable"
	}
	return n
}

// commitBoth commits dir with the real ostree and with this package into
// fresh repositories of the case's mode, and returns both repos and
// checksums.
func commitBoth(t *testing.T, dir string, c commitCase) (oRepo string, ours *Repo, oSum, dSum string) {
	t.Helper()
	base := t.TempDir()
	oRepo = filepath.Join(base, "ostree")
	mode := c.mode.String()
	runOstree(t, "init", "--repo="+oRepo, "--mode="+mode)
	args := []string{"commit", "--repo=" + oRepo, "--branch=debatom/test", "--subject=Subject line", "--body=Body\ntext",
		"--timestamp=" + testStamp.Format("2006-01-02T15:04:05Z"), "--add-metadata-string=version=13.8",
		"--add-metadata-string=debatom.variant=base"}
	if !c.bindings {
		args = append(args, "--no-bindings")
	}
	if c.bootable {
		args = append(args, "--bootable")
	}
	oSum = runOstree(t, append(args, dir)...)

	ours, err := Create(filepath.Join(base, "debatom"), c.mode)
	if err != nil {
		t.Fatal(err)
	}
	ctx := context.Background()
	root, meta, err := ours.WriteDir(ctx, dir)
	if err != nil {
		t.Fatal(err)
	}
	opts := CommitOptions{Subject: "Subject line", Body: "Body\ntext", Timestamp: testStamp,
		Metadata: []MetaItem{MetaString("version", "13.8"), MetaString("debatom.variant", "base")},
		Ref:      "debatom/test", Bindings: c.bindings}
	if c.bootable {
		if opts.KernelVersion, err = KernelVersion(dir); err != nil {
			t.Fatal(err)
		}
	}
	dSum, err = ours.Commit(ctx, root, meta, opts)
	if err != nil {
		t.Fatal(err)
	}
	return oRepo, ours, oSum, dSum
}

// TestCommitMatchesOstree commits the synthetic tree with both tools in
// every mode, with and without ref bindings, and demands the same commit
// checksum, a clean `ostree fsck`, identical listings, a checkout that
// reproduces the tree, and a working pull-local.
func TestCommitMatchesOstree(t *testing.T) {
	root := os.Geteuid() == 0
	dir := t.TempDir()
	writeSynthetic(t, dir, syntheticTree(root))
	os.MkdirAll(filepath.Join(dir, "usr/lib/modules/6.12.48+deb13-cloud-amd64"), 0o755)
	os.WriteFile(filepath.Join(dir, "usr/lib/modules/6.12.48+deb13-cloud-amd64/vmlinuz"), []byte("kernel"), 0o644)
	want := scanDisk(t, dir)

	cases := []commitCase{
		{ModeArchive, true, false}, {ModeArchive, false, false}, {ModeArchive, true, true},
		{ModeBareUser, true, false}, {ModeBareUser, false, true},
	}
	if root {
		cases = append(cases, commitCase{ModeBare, true, false})
	}
	for _, c := range cases {
		t.Run(c.name(), func(t *testing.T) {
			oRepo, ours, oSum, dSum := commitBoth(t, dir, c)
			if oSum != dSum {
				t.Errorf("commit checksum %s, ostree %s", dSum, oSum)
				t.Logf("ostree: %s", runOstree(t, "show", "--repo="+oRepo, "--raw", oSum))
				t.Logf("ours:   %s", runOstree(t, "show", "--repo="+ours.Dir(), "--raw", dSum))
			}
			runOstree(t, "fsck", "--repo="+ours.Dir())
			if a, b := runOstree(t, "ls", "--repo="+ours.Dir(), "-R", "-X", dSum), runOstree(t, "ls", "--repo="+oRepo, "-R", "-X", oSum); a != b {
				t.Errorf("ostree ls of our commit differs from ostree's own")
			}
			// Our reader sees what is on disk, in both repos.
			diffMaps(t, "walk of our commit", scanCommit(t, ours, "debatom/test"), want)
			theirs, err := Open(oRepo)
			if err != nil {
				t.Fatal(err)
			}
			diffMaps(t, "walk of ostree's commit", scanCommit(t, theirs, "debatom/test"), want)

			if c.mode == ModeArchive && root {
				out := filepath.Join(t.TempDir(), "co")
				runOstree(t, "checkout", "--repo="+ours.Dir(), dSum, out)
				diffMaps(t, "checkout of our commit", scanDisk(t, out), want)
			}
			if c.mode == ModeArchive {
				dst := filepath.Join(t.TempDir(), "pulled")
				dstMode := "bare-user"
				if root {
					dstMode = "bare"
				}
				runOstree(t, "init", "--repo="+dst, "--mode="+dstMode)
				runOstree(t, "pull-local", "--repo="+dst, ours.Dir(), "debatom/test")
				runOstree(t, "fsck", "--repo="+dst)
			}
		})
	}
}

// TestSummaryReadable writes a summary and has ostree read it back.
func TestSummaryReadable(t *testing.T) {
	dir := t.TempDir()
	writeSynthetic(t, dir, syntheticTree(false)[:6])
	_, ours, _, dSum := commitBoth(t, dir, commitCase{mode: ModeArchive, bindings: true})
	if err := ours.UpdateSummary(); err != nil {
		t.Fatal(err)
	}
	first, err := os.ReadFile(filepath.Join(ours.Dir(), "summary"))
	if err != nil {
		t.Fatal(err)
	}
	view := runOstree(t, "summary", "--repo="+ours.Dir(), "--view")
	for _, want := range []string{"debatom/test", dSum[:10], "archive-z2"} {
		if !strings.Contains(view, want) {
			t.Errorf("ostree summary --view lacks %q:\n%s", want, view)
		}
	}
	v, err := gvariant.Unmarshal("(a(s(taya{sv}))a{sv})", first)
	if err != nil {
		t.Fatal(err)
	}
	if n := len(v.(gvariant.Tuple)[0].([]any)); n != 1 {
		t.Errorf("summary lists %d refs", n)
	}
	// Same refs, same bytes.
	if err := ours.UpdateSummary(); err != nil {
		t.Fatal(err)
	}
	second, _ := os.ReadFile(filepath.Join(ours.Dir(), "summary"))
	if string(first) != string(second) {
		t.Error("summary bytes changed between two updates of the same refs")
	}
	// A client can pull through it.
	dst := filepath.Join(t.TempDir(), "client")
	runOstree(t, "init", "--repo="+dst, "--mode=bare-user")
	runOstree(t, "remote", "add", "--repo="+dst, "--no-gpg-verify", "origin", "file://"+ours.Dir())
	runOstree(t, "pull", "--repo="+dst, "origin", "debatom/test")
	if got := runOstree(t, "rev-parse", "--repo="+dst, "origin:debatom/test"); got != dSum {
		t.Errorf("pulled %s, want %s", got, dSum)
	}
}
