// Package units enables systemd units the way a Debian installation does:
// the deb-systemd-helper calls that dh_installsystemd puts into postinsts
// (which defer to "systemctl preset" once systemd is installed), the
// "systemctl enable" calls some postinsts make, and then the image author's
// enable/disable/mask list and default target. Links and deb-systemd-helper's
// state files are written as those tools write them.
package units

import (
	"fmt"
	"path"
	"sort"
	"strings"

	"github.com/debatom/debatom/pkg/configure/script"
	"github.com/debatom/debatom/pkg/configure/sysroot"
	"github.com/debatom/debatom/pkg/fstree"
)

// Install is a unit's [Install] section.
type Install struct {
	WantedBy, RequiredBy, UpheldBy, Alias, Also []string
	DefaultInstance                             string
}

// ParseInstall reads the [Install] section of a unit file. Values are
// whitespace-separated unit names; quotes around a name are removed.
func ParseInstall(name string, b []byte) (*Install, error) {
	in := &Install{}
	section := ""
	for i, line := range strings.Split(string(b), "\n") {
		line = strings.TrimSpace(line)
		if line == "" || line[0] == '#' || line[0] == ';' {
			continue
		}
		if line[0] == '[' {
			if !strings.HasSuffix(line, "]") {
				return nil, fmt.Errorf("%s:%d: bad section header %.40q", name, i+1, line)
			}
			section = line[1 : len(line)-1]
			continue
		}
		if section != "Install" {
			continue
		}
		k, v, ok := strings.Cut(line, "=")
		if !ok {
			return nil, fmt.Errorf("%s:%d: not a key=value line: %.40q", name, i+1, line)
		}
		k = strings.TrimSpace(k)
		var vals []string
		for _, f := range strings.Fields(v) {
			f = strings.Trim(f, `"'`)
			if f != "" {
				vals = append(vals, f)
			}
		}
		switch k {
		case "WantedBy":
			in.WantedBy = append(in.WantedBy, vals...)
		case "RequiredBy":
			in.RequiredBy = append(in.RequiredBy, vals...)
		case "UpheldBy":
			in.UpheldBy = append(in.UpheldBy, vals...)
		case "Alias":
			in.Alias = append(in.Alias, vals...)
		case "Also":
			in.Also = append(in.Also, vals...)
		case "DefaultInstance":
			in.DefaultInstance = strings.TrimSpace(v)
		}
	}
	return in, nil
}

// Scope is the system or the (global) user instance.
type Scope string

const (
	System Scope = "system"
	User   Scope = "user"
)

// Link is one symlink enabling makes: Path (absolute) → Target.
type Link struct{ Path, Target string }

// Options lists the image author's choices, applied after the packages'.
type Options struct {
	Enable, Disable, Mask []string // system unit names
	DefaultTarget         string   // e.g. "multi-user.target"; "" keeps the packages'
}

type enabler struct {
	r       *sysroot.Root
	presets map[Scope][]preset
}

// findUnit returns where systemctl finds a unit (etc before usr/lib), the
// template file for an instance, or "".
func (e *enabler) findUnit(scope Scope, name string) string {
	cands := []string{name}
	if at := strings.IndexByte(name, '@'); at >= 0 {
		if dot := strings.LastIndexByte(name, '.'); dot > at+1 {
			cands = append(cands, name[:at+1]+name[dot:])
		}
	}
	for _, c := range cands {
		for _, dir := range []string{"/etc/systemd/" + string(scope), "/usr/lib/systemd/" + string(scope)} {
			p := path.Join(dir, c)
			if e.r.Exists(p) {
				return p
			}
		}
	}
	return ""
}

// findUnitDSH is deb-systemd-helper's own lookup (etc, /lib, /usr/lib),
// used before systemctl is installed.
func (e *enabler) findUnitDSH(scope Scope, name string) string {
	for _, dir := range []string{"/etc/systemd/", "/lib/systemd/", "/usr/lib/systemd/"} {
		p := dir + string(scope) + "/" + name
		if _, en, err := e.r.Lookup(p); err == nil && en != nil && en.Kind == fstree.File {
			return p
		}
	}
	return ""
}

// links computes the symlinks enabling name makes, following Also=.
// unitPath is where the unit file is; the instance, if any, is in name.
func (e *enabler) links(scope Scope, name, unitPath string, visited map[string]bool, find func(Scope, string) string) ([]Link, error) {
	b, err := e.r.ReadFile(unitPath)
	if err != nil {
		return nil, err
	}
	in, err := ParseInstall(unitPath, b)
	if err != nil {
		return nil, err
	}
	base := path.Base(unitPath)
	wanted := name
	if strings.HasSuffix(strings.TrimSuffix(name, path.Ext(name)), "@") {
		// A bare template is enabled under its DefaultInstance, if any.
		if in.DefaultInstance == "" {
			wanted = ""
		} else {
			wanted = strings.TrimSuffix(name, path.Ext(name)) + in.DefaultInstance + path.Ext(name)
		}
	}
	dir := "/etc/systemd/" + string(scope)
	var out []Link
	for _, a := range in.Also {
		if a == base || visited[a] {
			continue
		}
		visited[a] = true
		p := find(scope, a)
		if p == "" {
			continue
		}
		l, err := e.links(scope, a, p, visited, find)
		if err != nil {
			return nil, err
		}
		out = append(out, l...)
	}
	for _, a := range in.Alias {
		if a != base {
			out = append(out, Link{Path: dir + "/" + a, Target: unitPath})
		}
	}
	if wanted != "" {
		for _, t := range in.WantedBy {
			out = append(out, Link{Path: dir + "/" + t + ".wants/" + wanted, Target: unitPath})
		}
		for _, t := range in.RequiredBy {
			out = append(out, Link{Path: dir + "/" + t + ".requires/" + wanted, Target: unitPath})
		}
		for _, t := range in.UpheldBy {
			out = append(out, Link{Path: dir + "/" + t + ".upholds/" + wanted, Target: unitPath})
		}
	}
	return out, nil
}

func (e *enabler) makeLinks(ls []Link) error {
	for _, l := range ls {
		p := strings.TrimPrefix(l.Path, "/")
		if en := e.r.Tree.Get(p); en != nil {
			continue // systemctl and deb-systemd-helper keep an existing link
		}
		if err := e.r.Mkdir(path.Dir(p), 0o755, 0, 0); err != nil {
			return err
		}
		if err := e.r.Symlink(p, l.Target); err != nil {
			return err
		}
	}
	return nil
}

// systemctlEnable is "systemctl enable NAME" (preset=false) or "systemctl
// preset --preset-mode=enable-only NAME" (preset=true).
func (e *enabler) systemctlEnable(scope Scope, name string, preset bool) ([]Link, error) {
	p := e.findUnit(scope, name)
	if p == "" {
		return nil, fmt.Errorf("unit %s not found", name)
	}
	if preset && !e.presetEnabled(scope, name) {
		return nil, nil
	}
	ls, err := e.links(scope, name, p, map[string]bool{name: true}, e.findUnit)
	if err != nil {
		return nil, err
	}
	return ls, e.makeLinks(ls)
}

// dshEnable is "deb-systemd-helper [--user] enable NAME" on a fresh
// installation; haveSystemctl says whether systemd was configured before.
func (e *enabler) dshEnable(scope Scope, name string, haveSystemctl bool) error {
	p := e.findUnitDSH(scope, name)
	if p == "" {
		return fmt.Errorf("unit %s not found", name)
	}
	ls, err := e.links(scope, name, p, map[string]bool{name: true}, e.findUnitDSH)
	if err != nil {
		return err
	}
	if haveSystemctl {
		if _, err := e.systemctlEnable(scope, name, true); err != nil {
			return err
		}
	} else if err := e.makeLinks(ls); err != nil {
		return err
	}
	state := "var/lib/systemd/deb-systemd-helper-enabled"
	if scope == User {
		state = "var/lib/systemd/deb-systemd-user-helper-enabled"
	}
	also := path.Join(state, name+".dsh-also")
	var cur []byte
	if e.r.Exists(also) {
		if cur, err = e.r.ReadFile(also); err != nil {
			return err
		}
	}
	for _, l := range ls {
		line := l.Path + "\n"
		if !strings.Contains("\n"+string(cur), "\n"+line) {
			cur = append(append([]byte{}, cur...), line...)
		}
		st := path.Join(state, strings.TrimPrefix(l.Path, "/etc/systemd/"+string(scope)+"/"))
		if !e.r.Exists(st) {
			if err := e.r.Mkdir(path.Dir(st), 0o755, 0, 0); err != nil {
				return err
			}
			if err := e.r.WriteFile(st, nil, 0o644, 0, 0); err != nil {
				return err
			}
		}
	}
	if err := e.r.Mkdir(state, 0o755, 0, 0); err != nil {
		return err
	}
	return e.r.WriteFile(also, cur, 0o644, 0, 0)
}

// Configure applies the packages' postinst calls in r.Packages order, then
// opts. haveSystemctl reports, for a package, whether systemd's systemctl
// was installed when dpkg configured it.
func Configure(r *sysroot.Root, opts Options, haveSystemctl func(pkg string) bool) error {
	e := &enabler{r: r, presets: map[Scope][]preset{}}
	var err error
	for _, s := range []Scope{System, User} {
		if e.presets[s], err = loadPresets(r, s); err != nil {
			return err
		}
	}
	n := 0
	for _, p := range r.Packages {
		src := p.Scripts["postinst"]
		if src == nil {
			continue
		}
		cmds := r.Commands(p, "postinst")
		for _, c := range script.Calls(cmds, "deb-systemd-helper") {
			scope, args := System, []string{}
			for _, a := range c.Args {
				switch {
				case a == "--user":
					scope = User
				case strings.HasPrefix(a, "-"):
				default:
					args = append(args, a)
				}
			}
			if len(args) == 2 && args[0] == "update-state" && !upgradeOnly(c.Conds) && !elseOfWasEnabled(c.Conds) {
				if err := e.dshUpdateState(scope, args[1]); err != nil {
					r.Report.Warnf(p.Name, "postinst line %d: deb-systemd-helper update-state %s: %v", c.Line, args[1], err)
				}
				continue
			}
			if len(args) < 2 || args[0] != "enable" {
				continue // unmask, was-enabled: no effect on a fresh system
			}
			if upgradeOnly(c.Conds) {
				continue // "if deb-systemd-helper debian-installed X": upgrades only
			}
			for _, u := range args[1:] {
				if err := e.dshEnable(scope, u, haveSystemctl(p.Name)); err != nil {
					r.Report.Warnf(p.Name, "postinst line %d: deb-systemd-helper enable %s: %v", c.Line, u, err)
					continue
				}
				n++
			}
		}
		for _, c := range script.Calls(cmds, "systemctl") {
			scope, args := System, []string{}
			for _, a := range c.Args {
				switch {
				case a == "--user" || a == "--global":
					scope = User
				case strings.HasPrefix(a, "-") || a == "":
				default:
					args = append(args, a)
				}
			}
			if len(args) < 2 || args[0] != "enable" {
				continue
			}
			for _, u := range args[1:] {
				if _, err := e.systemctlEnable(scope, u, false); err != nil {
					r.Report.Warnf(p.Name, "postinst line %d: systemctl enable %s: %v", c.Line, u, err)
					continue
				}
				n++
			}
		}
	}
	for _, u := range opts.Enable {
		if _, err := e.systemctlEnable(System, u, false); err != nil {
			return fmt.Errorf("enable %s: %w", u, err)
		}
	}
	for _, u := range opts.Disable {
		e.disable(u)
	}
	for _, u := range opts.Mask {
		if err := r.Symlink("etc/systemd/system/"+u, "/dev/null"); err != nil {
			return fmt.Errorf("mask %s: %w", u, err)
		}
	}
	if opts.DefaultTarget != "" {
		p := e.findUnit(System, opts.DefaultTarget)
		if p == "" || !strings.HasSuffix(opts.DefaultTarget, ".target") {
			return fmt.Errorf("default target %s: no such target unit", opts.DefaultTarget)
		}
		if err := r.Symlink("etc/systemd/system/default.target", p); err != nil {
			return err
		}
	}
	r.Report.Notef("systemd: %d units enabled by package scripts, %d by the image", n, len(opts.Enable))
	return nil
}

// disable removes every link under etc/systemd/system named u or pointing
// at u's file, as "systemctl disable" does.
func (e *enabler) disable(u string) {
	var rm []string
	e.r.Tree.Walk(func(p string, en *fstree.Entry) error {
		if strings.HasPrefix(p, "etc/systemd/system/") && en.Kind == fstree.Symlink &&
			(path.Base(p) == u || path.Base(en.Target) == u) {
			rm = append(rm, p)
		}
		return nil
	})
	for _, p := range rm {
		e.r.Tree.RemoveAll(p)
	}
}

type preset struct {
	enable  bool
	pattern string
}

// loadPresets reads *.preset files: etc overrides usr/lib by file name,
// files in name order, the first matching line wins.
func loadPresets(r *sysroot.Root, s Scope) ([]preset, error) {
	files := map[string]string{}
	for _, dir := range []string{"usr/lib/systemd/" + string(s) + "-preset", "etc/systemd/" + string(s) + "-preset"} {
		for _, f := range r.Glob(dir, "*.preset") {
			files[path.Base(f)] = f
		}
	}
	var names []string
	for n := range files {
		names = append(names, n)
	}
	sort.Strings(names)
	var out []preset
	for _, n := range names {
		b, err := r.ReadFile(files[n])
		if err != nil {
			return nil, err
		}
		for _, line := range strings.Split(string(b), "\n") {
			f := strings.Fields(line)
			if len(f) < 2 || strings.HasPrefix(f[0], "#") {
				continue
			}
			switch f[0] {
			case "enable", "disable":
				out = append(out, preset{enable: f[0] == "enable", pattern: f[1]})
			}
		}
	}
	return out, nil
}

// presetEnabled: no matching line means enable, systemd's default.
func (e *enabler) presetEnabled(s Scope, name string) bool {
	for _, p := range e.presets[s] {
		if ok, _ := path.Match(p.pattern, name); ok {
			return p.enable
		}
	}
	return true
}

// elseOfWasEnabled reports whether a command is in the else branch of
// "if deb-systemd-helper was-enabled", which a fresh installation, where
// was-enabled answers yes, does not run.
func elseOfWasEnabled(conds []string) bool {
	for _, c := range conds {
		if strings.HasPrefix(c, "!") && strings.Contains(c, "was-enabled") {
			return true
		}
	}
	return false
}

// dshUpdateState is "deb-systemd-helper update-state NAME": it records
// the links enabling would make, without making them.
func (e *enabler) dshUpdateState(scope Scope, name string) error {
	p := e.findUnitDSH(scope, name)
	if p == "" {
		return fmt.Errorf("unit %s not found", name)
	}
	ls, err := e.links(scope, name, p, map[string]bool{name: true}, e.findUnitDSH)
	if err != nil {
		return err
	}
	state := "var/lib/systemd/deb-systemd-helper-enabled"
	if scope == User {
		state = "var/lib/systemd/deb-systemd-user-helper-enabled"
	}
	var b strings.Builder
	for _, l := range ls {
		b.WriteString(l.Path + "\n")
	}
	if err := e.r.Mkdir(state, 0o755, 0, 0); err != nil {
		return err
	}
	return e.r.WriteFile(path.Join(state, name+".dsh-also"), []byte(b.String()), 0o644, 0, 0)
}

// upgradeOnly reports whether a command sits in a block that runs only
// when the unit was installed before, which a fresh system never is.
func upgradeOnly(conds []string) bool {
	for _, c := range conds {
		if !strings.HasPrefix(c, "!") && strings.Contains(c, "deb-systemd-helper") && strings.Contains(c, "debian-installed") {
			return true
		}
	}
	return false
}
