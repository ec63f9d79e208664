// Package configure does, without running any maintainer script, what the
// scripts of a Debian 13 package set would have done that a running system
// needs: accounts, PAM stacks, alternatives, unit enablement, the dynamic
// linker cache, base-files' copies into /etc, the dpkg database and the
// rest. It works on the in-memory tree of the unpacked, merged packages
// and writes what it makes into that tree as inline files.
//
// The steps live in sub-packages (accounts, pamconfig, alternatives,
// units, rcd, ldcache, cacerts, diversions, dpkgdb, tmpfiles, ostreelayout); this package orders
// them and fills in the small one-off effects.
package configure

import (
	"context"
	"fmt"
	"path/filepath"
	"time"

	"github.com/debatom/debatom/pkg/configure/accounts"
	"github.com/debatom/debatom/pkg/configure/alternatives"
	"github.com/debatom/debatom/pkg/configure/cacerts"
	"github.com/debatom/debatom/pkg/configure/diversions"
	"github.com/debatom/debatom/pkg/configure/dpkgdb"
	"github.com/debatom/debatom/pkg/configure/ldcache"
	"github.com/debatom/debatom/pkg/configure/ostreelayout"
	"github.com/debatom/debatom/pkg/configure/pamconfig"
	"github.com/debatom/debatom/pkg/configure/rcd"
	"github.com/debatom/debatom/pkg/configure/sysroot"
	"github.com/debatom/debatom/pkg/configure/units"
	"github.com/debatom/debatom/pkg/fstree"
)

type (
	// Package is one installed package's control data.
	Package = sysroot.Package
	// Contents opens file payloads that are not inline.
	Contents = sysroot.Contents
	// Report lists what was done and what could not be derived.
	Report = sysroot.Report
	// User is an account the image declares.
	User = accounts.User
	// Group is a group the image declares.
	Group = accounts.Group
)

// Options are the image author's choices.
type Options struct {
	Users  []User
	Groups []Group
	Units  units.Options
	// Timezone is the /etc/localtime zone; tzdata's debconf default is
	// Etc/UTC.
	Timezone string
	// Now stands for the build time (SOURCE_DATE_EPOCH): shadow's
	// last-change day. With the zero value that field stays empty, so
	// output never depends on the clock.
	Now time.Time
	// OSTree applies the OSTree layout transform after configuration.
	OSTree bool
	// ESP is the fstab source of the EFI system partition the OSTree
	// layout mounts at /efi (default "PARTLABEL=ESP").
	ESP string
	// CacheDir, when set, is where facts read from file contents (the
	// sonames ld.so.cache lists) are kept between builds, by content
	// checksum, so a rebuild need not read the libraries again.
	CacheDir string
	// Facts, when set, are the ld.so.cache facts to use instead of those
	// of CacheDir's facts file, which is then not read: a caller that
	// loaded that file before unpacking has added what it saw there (see
	// ldcache.Facts.Observe). They are still saved to CacheDir when set.
	Facts *ldcache.Facts
}

// FactsFile is the ld.so.cache facts file in Options.CacheDir, for
// callers that load it themselves (Options.Facts).
const FactsFile = "ldcache-facts"

// Configure edits t in place. pkgs may be in any order; c reads file
// contents that are not inline (nil when all are).
func Configure(ctx context.Context, t *fstree.Tree, c Contents, pkgs []*Package, opts Options) (*Report, error) {
	r := sysroot.New(t, c, sysroot.ConfigureOrder(pkgs))
	facts := opts.Facts
	if facts == nil && opts.CacheDir != "" {
		var err error
		facts, err = ldcache.LoadFacts(filepath.Join(opts.CacheDir, FactsFile))
		if err != nil {
			// Not trusted, not fatal: the libraries are read again.
			r.Report.Notef("%v; reading libraries afresh", err)
		}
	}
	// deb-systemd-helper defers to systemctl once systemd is installed:
	// for everything but the Essential packages, which come first.
	essential, _ := sysroot.Phases(pkgs)
	first := map[string]bool{}
	for _, p := range essential {
		first[p.Name] = true
	}
	haveSystemctl := func(pkg string) bool {
		return r.Package("systemd") != nil && !first[pkg]
	}
	steps := []struct {
		name string
		run  func() error
	}{
		{"base files", func() error { return baseFiles(r, opts) }},
		{"accounts", func() error {
			_, err := accounts.Configure(r, accounts.Options{Users: opts.Users, Groups: opts.Groups, Now: opts.Now})
			return err
		}},
		{"tmpfiles", func() error { return installTmpfiles(r) }},
		{"statoverride", func() error { return statOverrides(r) }},
		{"setcap", func() error { return setFileCaps(r) }},
		{"pam", func() error { return pamconfig.Configure(r) }},
		{"alternatives", func() error { _, err := alternatives.Configure(r); return err }},
		{"units", func() error { return units.Configure(r, opts.Units, haveSystemctl) }},
		{"update-rc.d", func() error { return rcd.Configure(r) }},
		{"ld.so.cache", func() error { return ldcache.Configure(ctx, r, facts) }},
		{"ca-certificates", func() error { return cacerts.Configure(r) }},
		// After the steps that write their own /etc files from the same
		// scripts (ca-certificates.conf), so their full versions win.
		{"here-documents", func() error { return heredocFiles(r) }},
		// After the steps that install the files ucf would have.
		{"ucf", func() error { return ucfState(r) }},
		{"copies", func() error { return literalCopies(r) }},
		{"display manager", func() error { return displayManager(r) }},
		{"diversions", func() error { return diversions.Configure(r) }},
		{"gsettings schemas", func() error { return compileSchemas(r) }},
		{"dpkg database", func() error { return dpkgdb.Configure(r) }},
		{"report", func() error { reportNotDerived(r); reportFileTriggers(r); return nil }},
	}
	for _, s := range steps {
		if err := ctx.Err(); err != nil {
			return nil, err
		}
		if err := s.run(); err != nil {
			return nil, fmt.Errorf("configure: %s: %w", s.name, err)
		}
	}
	if facts != nil && opts.CacheDir != "" {
		if err := facts.Save(filepath.Join(opts.CacheDir, FactsFile)); err != nil {
			r.Report.Warnf("", "%v", err)
		}
	}
	if opts.OSTree {
		kver, err := ostreelayout.ApplyWith(r, ostreelayout.Options{ESP: opts.ESP})
		if err != nil {
			return nil, fmt.Errorf("configure: ostree layout: %w", err)
		}
		r.Report.KernelVersion = kver
	}
	return r.Report, nil
}
