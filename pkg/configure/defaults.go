package configure

import (
	"path"
	"strings"

	"github.com/debatom/debatom/pkg/configure/sysroot"
	"github.com/debatom/debatom/pkg/deb822"
)

// literalCopies does what a postinst's "cp /usr/share/.../default
// /etc/..." does on a fresh system: the shipped default becomes the
// configuration file when there is none yet (cups-daemon's cupsd.conf,
// guarded by "[ ! -r /etc/cups/cupsd.conf ]"). Only literal paths from
// /usr into /etc count; copies into /run or /var are run-time state, and
// the steps before this one have made the files other copies aim at.
func literalCopies(r *sysroot.Root) error {
	for _, p := range r.Packages {
		if p.Scripts["postinst"] == nil {
			continue
		}
		for _, c := range r.Commands(p, "postinst") {
			if path.Base(c.Args[0]) != "cp" {
				continue
			}
			ops := nonFlags(c.Args[1:])
			if len(ops) != 2 || strings.Contains(ops[0]+ops[1], "$") ||
				!strings.HasPrefix(ops[0], "/usr/") || !strings.HasPrefix(ops[1], "/etc/") ||
				strings.HasSuffix(ops[1], "/") {
				continue
			}
			dir := path.Dir(strings.TrimPrefix(ops[1], "/"))
			if _, e, err := r.Lookup(dir); err != nil || e == nil {
				continue // cp would fail too
			}
			if err := copyDefault(r, strings.TrimPrefix(ops[0], "/"), strings.TrimPrefix(ops[1], "/")); err != nil {
				return err
			}
		}
	}
	return nil
}

// displayManager does what a display manager's postinst does on a fresh
// system (gdm3, lightdm, sddm): it names its daemon, the default of the
// PKG/daemon_name debconf template, in /etc/X11/default-display-manager,
// and links display-manager.service to the daemon's unit. With several
// display managers, debconf's shared/default-x-display-manager question
// decides; its answer is not known, so the first configured one is taken
// and the choice reported.
func displayManager(r *sysroot.Root) error {
	var dms []*sysroot.Package
	for _, p := range r.Packages {
		if p.Control != nil && provides(p.Control.Get("Provides"), "x-display-manager") {
			dms = append(dms, p)
		}
	}
	if len(dms) == 0 {
		return nil
	}
	p := dms[0]
	if len(dms) > 1 {
		var names []string
		for _, d := range dms {
			names = append(names, d.Name)
		}
		r.Report.Warnf(p.Name, "display managers %s: %s is the default", strings.Join(names, ", "), p.Name)
	}
	daemon := templateDefault(p.Scripts["templates"], p.Name+"/daemon_name")
	if !strings.HasPrefix(daemon, "/") {
		r.Report.Warnf(p.Name, "no %s/daemon_name template: no default display manager set", p.Name)
		return nil
	}
	const defaultFile = "etc/X11/default-display-manager"
	if !r.Exists(defaultFile) {
		if err := mkdirMissing(r, "etc/X11"); err != nil {
			return err
		}
		if err := r.WriteFile(defaultFile, []byte(daemon+"\n"), 0o644, 0, 0); err != nil {
			return err
		}
	}
	unit := path.Base(daemon) + ".service"
	const link = "etc/systemd/system/display-manager.service"
	if !r.Exists("usr/lib/systemd/system/"+unit) || r.Tree.Get(link) != nil {
		return nil
	}
	if err := mkdirMissing(r, "etc/systemd/system"); err != nil {
		return err
	}
	// The postinst links to the unit by its /lib path.
	if err := r.Symlink(link, "/lib/systemd/system/"+unit); err != nil {
		return err
	}
	r.Report.Notef("display manager: %s (%s)", daemon, unit)
	return nil
}

// provides reports whether a Provides field names virtual.
func provides(field, virtual string) bool {
	for _, f := range strings.Split(field, ",") {
		name, _, _ := strings.Cut(strings.TrimSpace(f), " ")
		if name == virtual {
			return true
		}
	}
	return false
}

// templateDefault returns the Default of the named debconf template.
func templateDefault(templates []byte, name string) string {
	ps, err := deb822.Parse(templates, "templates")
	if err != nil {
		return ""
	}
	for _, p := range ps {
		if p.Get("Template") == name {
			return p.Get("Default")
		}
	}
	return ""
}

// mkdirMissing makes dir (root's, 0755) unless it is there, leaving an
// existing one's owner and mode alone.
func mkdirMissing(r *sysroot.Root, dir string) error {
	if r.Exists(dir) {
		return nil
	}
	return r.Mkdir(dir, 0o755, 0, 0)
}
