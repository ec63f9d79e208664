// Package tmpfiles reads tmpfiles.d(5) lines and applies the few kinds
// that package scripts run at installation time to /etc and /root
// (directories, symlinks, empty files). Everything under /var, /run and
// /tmp is left to systemd-tmpfiles at boot, because an image's /var is
// created on the booted system.
package tmpfiles

import (
	"fmt"
	"path"
	"strconv"
	"strings"

	"github.com/debatom/debatom/pkg/configure/sysroot"
)

// Line is one tmpfiles.d line.
type Line struct {
	Type     byte   // d D L f ...
	Mods     string // + ! - = ~ ^ $
	Path     string // absolute
	Mode     string
	User     string
	Group    string
	Age      string
	Argument string
	Source   string
}

// Parse reads a tmpfiles.d file. Fields are whitespace separated; the
// argument is the rest of the line; "-" means default.
func Parse(name string, b []byte) ([]Line, error) {
	var out []Line
	for i, raw := range strings.Split(string(b), "\n") {
		s := strings.TrimSpace(raw)
		if s == "" || s[0] == '#' {
			continue
		}
		f := strings.Fields(s)
		if len(f) < 2 {
			return nil, fmt.Errorf("%s:%d: want a type and a path", name, i+1)
		}
		l := Line{Type: f[0][0], Mods: f[0][1:], Path: f[1], Mode: "-", User: "-", Group: "-", Age: "-",
			Source: fmt.Sprintf("%s:%d", name, i+1)}
		if !strings.HasPrefix(l.Path, "/") {
			return nil, fmt.Errorf("%s:%d: path %q is not absolute", name, i+1, l.Path)
		}
		for k, dst := range []*string{&l.Mode, &l.User, &l.Group, &l.Age} {
			if len(f) > 2+k {
				*dst = f[2+k]
			}
		}
		if len(f) > 6 {
			// The argument keeps its inner spaces.
			rest := s
			for k := 0; k < 6; k++ {
				rest = strings.TrimLeft(rest, " \t")
				rest = rest[strings.IndexAny(rest+" ", " \t"):]
			}
			l.Argument = strings.TrimSpace(rest)
		}
		out = append(out, l)
	}
	return out, nil
}

// Install reports whether an installation-time run would act on l.
func Install(l Line) bool {
	if strings.ContainsAny(l.Mods, "!^") || strings.Contains(l.Path, "%") {
		return false // boot-only lines, credentials, specifiers
	}
	p := l.Path
	return strings.HasPrefix(p, "/etc/") || p == "/root" || strings.HasPrefix(p, "/root/")
}

// Apply carries out the lines Install accepts: d/D make directories (and
// set their mode when they exist, as systemd-tmpfiles does), L makes a
// symlink (replacing with "+"), f makes an empty or argument-filled file.
func Apply(r *sysroot.Root, lines []Line, ids func(user, group string) (uint32, uint32, error)) error {
	for _, l := range lines {
		if !Install(l) {
			continue
		}
		p := strings.TrimPrefix(path.Clean(l.Path), "/")
		mode := func(def uint32) (uint32, error) {
			m := strings.TrimLeft(l.Mode, ":~")
			if m == "-" || m == "" {
				return def, nil
			}
			v, err := strconv.ParseUint(m, 8, 32)
			if err != nil || v > 0o7777 {
				return 0, fmt.Errorf("%s: bad mode %q", l.Source, l.Mode)
			}
			return uint32(v), nil
		}
		uid, gid, err := ids(strings.TrimPrefix(l.User, ":"), strings.TrimPrefix(l.Group, ":"))
		if err != nil {
			return fmt.Errorf("%s: %w", l.Source, err)
		}
		switch l.Type {
		case 'd', 'D':
			m, err := mode(0o755)
			if err != nil {
				return err
			}
			if err := r.Mkdir(p, m, uid, gid); err != nil {
				return fmt.Errorf("%s: %w", l.Source, err)
			}
		case 'L':
			if r.Tree.Get(p) != nil && !strings.Contains(l.Mods, "+") {
				continue
			}
			target := l.Argument
			if target == "" {
				target = "/usr/share/factory/" + p
			}
			if err := r.Symlink(p, target); err != nil {
				return fmt.Errorf("%s: %w", l.Source, err)
			}
		case 'f':
			if r.Tree.Get(p) != nil && !strings.Contains(l.Mods, "+") {
				continue
			}
			m, err := mode(0o644)
			if err != nil {
				return err
			}
			if err := r.WriteFile(p, []byte(l.Argument), m, uid, gid); err != nil {
				return fmt.Errorf("%s: %w", l.Source, err)
			}
		}
	}
	return nil
}
