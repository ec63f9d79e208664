// Package alternatives does what the update-alternatives --install calls
// in maintainer scripts do: it gathers each link group's choices, picks
// the highest priority one (auto mode), makes the /etc/alternatives links
// and the generic links pointing at them, and writes dpkg's state file
// /var/lib/dpkg/alternatives/NAME so a later update-alternatives run on
// the system sees the same groups.
package alternatives

import (
	"bytes"
	"fmt"
	"path"
	"strconv"
	"strings"

	"github.com/debatom/debatom/pkg/configure/script"
	"github.com/debatom/debatom/pkg/configure/sysroot"
	"github.com/debatom/debatom/pkg/fstree"
)

// Slave is a link that follows the master's choice.
type Slave struct{ Name, Link string }

// Choice is one alternative: a path, its priority and its slave paths
// (by slave name).
type Choice struct {
	Path     string
	Priority int
	Slaves   map[string]string
	Package  string
}

// Group is one link group.
type Group struct {
	Name    string
	Link    string // the generic name, /usr/bin/awk
	Slaves  []Slave
	Choices []Choice
}

// Install parses the arguments of "update-alternatives [opts] --install
// LINK NAME PATH PRIO [--slave LINK NAME PATH]...".
func Install(args []string) (link, name string, c Choice, slaves []Slave, err error) {
	i := 0
	for i < len(args) && args[i] != "--install" {
		i++
	}
	a := args[i:]
	if len(a) < 5 {
		return "", "", Choice{}, nil, fmt.Errorf("--install needs LINK NAME PATH PRIORITY, got %q", strings.Join(args, " "))
	}
	link, name = a[1], a[2]
	prio, err := strconv.Atoi(a[4])
	if err != nil {
		return "", "", Choice{}, nil, fmt.Errorf("--install %s: priority %q is not a number", name, a[4])
	}
	c = Choice{Path: a[3], Priority: prio, Slaves: map[string]string{}}
	for a = a[5:]; len(a) > 0; {
		switch {
		case a[0] == "--slave" && len(a) >= 4:
			slaves = append(slaves, Slave{Name: a[2], Link: a[1]})
			c.Slaves[a[2]] = a[3]
			a = a[4:]
		case strings.HasPrefix(a[0], "--"):
			a = a[1:] // --quiet and friends
		default:
			return "", "", Choice{}, nil, fmt.Errorf("--install %s: unexpected argument %q", name, a[0])
		}
	}
	for _, p := range append([]string{link, c.Path}, slavePaths(slaves, c)...) {
		if !strings.HasPrefix(p, "/") {
			return "", "", Choice{}, nil, fmt.Errorf("--install %s: path %q is not absolute", name, p)
		}
	}
	if name == "" || strings.ContainsAny(name, "/ \n") {
		return "", "", Choice{}, nil, fmt.Errorf("--install: bad alternative name %q", name)
	}
	return link, name, c, slaves, nil
}

func slavePaths(s []Slave, c Choice) []string {
	var out []string
	for _, sl := range s {
		out = append(out, sl.Link, c.Slaves[sl.Name])
	}
	return out
}

// StateFile renders /var/lib/dpkg/alternatives/NAME in auto mode.
func (g *Group) StateFile() []byte {
	var b bytes.Buffer
	b.WriteString("auto\n" + g.Link + "\n")
	for _, s := range g.Slaves {
		b.WriteString(s.Name + "\n" + s.Link + "\n")
	}
	b.WriteString("\n")
	for _, c := range g.Choices {
		fmt.Fprintf(&b, "%s\n%d\n", c.Path, c.Priority)
		for _, s := range g.Slaves {
			b.WriteString(c.Slaves[s.Name] + "\n")
		}
	}
	b.WriteString("\n")
	return b.Bytes()
}

// Best is the auto-mode choice: highest priority, the first registered on
// a tie (update-alternatives keeps the current one).
func (g *Group) Best() *Choice {
	var best *Choice
	for i := range g.Choices {
		if best == nil || g.Choices[i].Priority > best.Priority {
			best = &g.Choices[i]
		}
	}
	return best
}

// Configure applies the postinst calls of r.Packages (in order) and
// returns the groups it made.
func Configure(r *sysroot.Root) ([]*Group, error) {
	var groups []*Group
	byName := map[string]*Group{}
	for _, p := range r.Packages {
		src := p.Scripts["postinst"]
		if src == nil {
			continue
		}
		for _, c := range script.Calls(r.Commands(p, "postinst"), "update-alternatives") {
			args := c.Args
			if contains(args, "--remove") || contains(args, "--remove-all") {
				continue // removals of groups a fresh system never had
			}
			if !contains(args, "--install") {
				r.Report.Warnf(p.Name, "postinst line %d: update-alternatives %s not applied", c.Line, strings.Join(args, " "))
				continue
			}
			link, name, ch, slaves, err := Install(args)
			if err != nil {
				r.Report.Warnf(p.Name, "postinst line %d: %v", c.Line, err)
				continue
			}
			if strings.Contains(strings.Join(append([]string{link, name, ch.Path}, slavePaths(slaves, ch)...), " "), "$") {
				r.Report.Warnf(p.Name, "postinst line %d: update-alternatives uses a run-time variable; not applied", c.Line)
				continue
			}
			if !r.Exists(ch.Path) {
				// update-alternatives refuses a choice that is not there.
				r.Report.Warnf(p.Name, "alternative %s: %s does not exist; not registered", name, ch.Path)
				continue
			}
			ch.Package = p.Name
			g := byName[name]
			if g == nil {
				g = &Group{Name: name, Link: link}
				byName[name] = g
				groups = append(groups, g)
			}
			g.Link = link
			for _, s := range slaves {
				if !hasSlave(g.Slaves, s.Name) {
					g.Slaves = append(g.Slaves, s)
				}
			}
			replaced := false
			for i := range g.Choices {
				if g.Choices[i].Path == ch.Path {
					g.Choices[i], replaced = ch, true
				}
			}
			if !replaced {
				g.Choices = append(g.Choices, ch)
			}
			// update-alternatives sets the links at once, and later
			// choices may lie under them (desktop-base's wallpapers
			// under its active-theme link).
			if err := linkQuiet(r, g.Name, g.Link, g.Best().Path); err != nil {
				return nil, fmt.Errorf("alternative %s: %w", g.Name, err)
			}
		}
	}
	for _, g := range groups {
		if err := apply(r, g); err != nil {
			return nil, fmt.Errorf("alternative %s: %w", g.Name, err)
		}
	}
	r.Report.Notef("update-alternatives: %d link groups", len(groups))
	return groups, nil
}

func apply(r *sysroot.Root, g *Group) error {
	best := g.Best()
	if err := link(r, g.Name, g.Link, best.Path); err != nil {
		return err
	}
	for _, s := range g.Slaves {
		target := best.Slaves[s.Name]
		if target == "" || !r.Exists(target) {
			// A slave the chosen alternative lacks has no link at all.
			continue
		}
		if err := link(r, s.Name, s.Link, target); err != nil {
			return err
		}
	}
	return r.WriteFile("var/lib/dpkg/alternatives/"+g.Name, g.StateFile(), 0o644, 0, 0)
}

// link makes /etc/alternatives/NAME → target and generic → it. A generic
// path that is a real file is left alone, as update-alternatives does.
func link(r *sysroot.Root, name, generic, target string) error {
	left, err := setLinks(r, name, generic, target)
	if left {
		r.Report.Warnf("", "alternative %s: %s is not a symlink; left alone", name, generic)
	}
	return err
}

// linkQuiet is link without the warning, for the links set while the
// groups are still being read; the final pass warns once.
func linkQuiet(r *sysroot.Root, name, generic, target string) error {
	_, err := setLinks(r, name, generic, target)
	return err
}

func setLinks(r *sysroot.Root, name, generic, target string) (leftAlone bool, err error) {
	alt := path.Join("etc/alternatives", name)
	if err := r.Symlink(alt, target); err != nil {
		return false, err
	}
	gp := strings.TrimPrefix(generic, "/")
	rp, err := r.Tree.Resolve(gp)
	if err != nil {
		return false, err
	}
	if e := r.Tree.Get(rp); e != nil && e.Kind != fstree.Symlink {
		return true, nil
	}
	return false, r.Symlink(gp, "/"+alt)
}

func contains(a []string, s string) bool {
	for _, x := range a {
		if x == s {
			return true
		}
	}
	return false
}

func hasSlave(s []Slave, name string) bool {
	for _, x := range s {
		if x.Name == name {
			return true
		}
	}
	return false
}
