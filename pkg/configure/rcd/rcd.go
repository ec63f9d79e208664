// Package rcd makes the SysV runlevel links of /etc/rc?.d that
// "update-rc.d NAME defaults" in a postinst makes. Without insserv in the
// package set (Debian 13's minimal systems have none), update-rc.d does
// not order scripts: it links every runlevel of the script's LSB header
// Default-Start as S01NAME and of Default-Stop as K01NAME, and leaves a
// script alone that has any link already.
package rcd

import (
	"bufio"
	"bytes"
	"fmt"
	"path"
	"strings"

	"github.com/debatom/debatom/pkg/configure/sysroot"
)

// Header is the part of an init script's LSB comment block update-rc.d
// reads.
type Header struct {
	Start []string // Default-Start runlevels ("2", "S"...)
	Stop  []string // Default-Stop runlevels
}

// maxHeaderLines bounds the lines scanned for the header; real scripts
// put it near the top.
const maxHeaderLines = 1000

// ParseHeader reads the LSB header of the init script name, as
// update-rc.d does: the Default-Start and Default-Stop lines between
// "### BEGIN INIT INFO" and "### END INIT INFO".
func ParseHeader(name string, b []byte) (*Header, error) {
	s := bufio.NewScanner(bytes.NewReader(b))
	s.Buffer(nil, 64<<10)
	var h Header
	begun := false
	for n := 0; s.Scan(); n++ {
		if n == maxHeaderLines {
			break
		}
		line := strings.TrimRight(s.Text(), " \t\r")
		switch {
		case line == "### BEGIN INIT INFO":
			begun = true
		case line == "### END INIT INFO":
			if !begun {
				return nil, fmt.Errorf("%s: END INIT INFO before BEGIN INIT INFO", name)
			}
			for _, l := range append(append([]string(nil), h.Start...), h.Stop...) {
				if !validLevel(l) {
					return nil, fmt.Errorf("%s: bad runlevel %q", name, l)
				}
			}
			return &h, nil
		case begun:
			if v, ok := strings.CutPrefix(line, "# Default-Start:"); ok {
				h.Start = strings.Fields(v)
			} else if v, ok := strings.CutPrefix(line, "# Default-Stop:"); ok {
				h.Stop = strings.Fields(v)
			}
		}
	}
	if err := s.Err(); err != nil {
		return nil, fmt.Errorf("%s: %w", name, err)
	}
	return nil, fmt.Errorf("%s: no complete LSB header (### BEGIN INIT INFO ... ### END INIT INFO)", name)
}

// validLevel accepts the runlevels that name an /etc/rcN.d directory.
func validLevel(l string) bool {
	return len(l) == 1 && (l[0] >= '0' && l[0] <= '6' || l[0] == 'S')
}

// Links returns the links "update-rc.d NAME defaults" makes for a script
// with header h, as path (below etc/) and target, start links first.
// disabled is "defaults-disabled": the start runlevels get K01 links too.
func Links(name string, h *Header, disabled bool) [][2]string {
	start := "S01"
	if disabled {
		start = "K01"
	}
	var out [][2]string
	for _, set := range []struct {
		prefix string
		levels []string
	}{{start, h.Start}, {"K01", h.Stop}} {
		for _, l := range set.levels {
			out = append(out, [2]string{path.Join("etc", "rc"+l+".d", set.prefix+name), "../init.d/" + name})
		}
	}
	return out
}

// Configure runs the "update-rc.d NAME defaults" (and defaults-disabled)
// calls of the postinsts
// in r.Packages order. Calls that only an upgrade makes (those under a
// test of the previously installed version, "$2") and "remove" calls,
// which a fresh system has nothing to remove for, are skipped.
func Configure(r *sysroot.Root) error {
	for _, p := range r.Packages {
		if p.Scripts["postinst"] == nil {
			continue
		}
		for _, c := range r.Commands(p, "postinst") {
			if len(c.Args) < 3 || path.Base(c.Args[0]) != "update-rc.d" || upgradeOnly(c.Conds) {
				continue
			}
			args := c.Args[1:]
			for len(args) > 0 && strings.HasPrefix(args[0], "-") {
				args = args[1:] // -f, -n
			}
			if len(args) < 2 || args[1] != "defaults" && args[1] != "defaults-disabled" {
				continue
			}
			if err := defaults(r, args[0], args[1] == "defaults-disabled"); err != nil {
				return fmt.Errorf("%s postinst line %d: update-rc.d %s %s: %w", p.Name, c.Line, args[0], args[1], err)
			}
		}
	}
	return nil
}

// defaults links script name unless it has links already.
func defaults(r *sysroot.Root, name string, disabled bool) error {
	if name == "" || strings.ContainsAny(name, "/$") {
		return fmt.Errorf("init script name %q not usable", name)
	}
	script := "etc/init.d/" + name
	if !r.Exists(script) {
		// The postinsts guard the call with [ -x /etc/init.d/NAME ].
		return nil
	}
	for _, l := range []string{"0", "1", "2", "3", "4", "5", "6", "S"} {
		if len(r.Glob("etc/rc"+l+".d", "[SK][0-9][0-9]"+name)) > 0 {
			return nil
		}
	}
	b, err := r.ReadFile(script)
	if err != nil {
		return err
	}
	h, err := ParseHeader(script, b)
	if err != nil {
		return err
	}
	for _, l := range Links(name, h, disabled) {
		dir := path.Dir(l[0])
		if !r.Exists(dir) {
			if err := r.Mkdir(dir, 0o755, 0, 0); err != nil {
				return err
			}
		}
		if err := r.Symlink(l[0], l[1]); err != nil {
			return err
		}
	}
	r.Report.Notef("update-rc.d %s: %d links", name, len(h.Start)+len(h.Stop))
	return nil
}

// upgradeOnly reports whether a command sits in a block that tests the
// version being upgraded from ("$2"), which a fresh installation does not
// have.
func upgradeOnly(conds []string) bool {
	for _, c := range conds {
		if strings.Contains(c, "$2") || strings.Contains(c, "compare-versions") {
			return true
		}
	}
	return false
}
