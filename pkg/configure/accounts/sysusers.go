package accounts

import (
	"fmt"
	"strconv"
	"strings"
)

// SysusersLine is one line of a sysusers.d file.
type SysusersLine struct {
	Type   string // "u", "u!", "g", "m", "r"
	Name   string
	ID     string // "-", "N", "N:G", "-:group", a path, or for m the group
	GECOS  string
	Home   string
	Shell  string
	Source string // file:line, for messages
}

// ParseSysusers reads a sysusers.d file. Fields are separated by
// whitespace; double quotes group a field with spaces; "-" means unset.
func ParseSysusers(name string, b []byte) ([]SysusersLine, error) {
	var out []SysusersLine
	for i, raw := range strings.Split(string(b), "\n") {
		line := strings.TrimSpace(raw)
		if line == "" || line[0] == '#' {
			continue
		}
		f, err := splitFields(line)
		if err != nil {
			return nil, fmt.Errorf("%s:%d: %w", name, i+1, err)
		}
		if len(f) < 2 {
			return nil, fmt.Errorf("%s:%d: want at least a type and a name", name, i+1)
		}
		for len(f) < 6 {
			f = append(f, "-")
		}
		l := SysusersLine{Type: f[0], Name: f[1], ID: f[2], GECOS: f[3], Home: f[4], Shell: f[5],
			Source: fmt.Sprintf("%s:%d", name, i+1)}
		switch l.Type {
		case "u", "u!", "g", "m", "r":
		default:
			return nil, fmt.Errorf("%s:%d: unknown line type %q", name, i+1, l.Type)
		}
		for _, f := range []string{l.GECOS, l.Home, l.Shell} {
			if strings.ContainsAny(f, ":\n") {
				return nil, fmt.Errorf("%s:%d: field %.40q contains ':' or a newline", name, i+1, f)
			}
		}
		if strings.Count(l.ID, ":") > 1 {
			return nil, fmt.Errorf("%s:%d: bad ID %q", name, i+1, l.ID)
		}
		if l.Type != "r" && !validName(l.Name) {
			return nil, fmt.Errorf("%s:%d: invalid user or group name %q", name, i+1, l.Name)
		}
		out = append(out, l)
	}
	return out, nil
}

func validName(n string) bool {
	if n == "" || len(n) > 256 || n[0] == '-' {
		return false
	}
	for _, c := range n {
		if c == ':' || c == '/' || c == ',' || c <= ' ' || c == 0x7f {
			return false
		}
	}
	return true
}

func splitFields(s string) ([]string, error) {
	var out []string
	for s = strings.TrimLeft(s, " \t"); s != ""; s = strings.TrimLeft(s, " \t") {
		if s[0] == '"' {
			end := strings.IndexByte(s[1:], '"')
			if end < 0 {
				return nil, fmt.Errorf("unterminated quote")
			}
			out = append(out, s[1:1+end])
			s = s[2+end:]
			continue
		}
		end := strings.IndexAny(s, " \t")
		if end < 0 {
			end = len(s)
		}
		out = append(out, s[:end])
		s = s[end:]
	}
	return out, nil
}

// Debian's system ID range; systemd-sysusers allocates downwards from the
// top, adduser upwards from the bottom.
const (
	systemIDMin = 100
	systemIDMax = 999
	nologin     = "/usr/sbin/nologin"
)

// sysusersRun applies lines like one systemd-sysusers invocation: groups
// (g lines) first, then each user with its same-named group, IDs searched
// downwards from 999 skipping any in use as a UID or GID by another name.
func (d *DB) sysusersRun(lines []SysusersLine, lastChange string, warn func(string, ...any)) {
	searchUID, searchGID := uint32(systemIDMax), uint32(systemIDMax)
	gidOK := func(gid uint32, name string, withUID bool) bool {
		if d.GIDUsed(gid, "") {
			return false
		}
		return !withUID || !d.UIDUsed(gid, name)
	}
	uidOK := func(uid uint32, name string, withGID bool) bool {
		if d.UIDUsed(uid, "") {
			return false
		}
		return !withGID || !d.GIDUsed(uid, name)
	}
	nextGID := func(name string) (uint32, bool) {
		for ; searchGID >= systemIDMin; searchGID-- {
			if gidOK(searchGID, name, true) {
				searchGID--
				return searchGID + 1, true
			}
		}
		return 0, false
	}
	nextUID := func(name string) (uint32, bool) {
		for ; searchUID >= systemIDMin; searchUID-- {
			if uidOK(searchUID, name, true) {
				searchUID--
				return searchUID + 1, true
			}
		}
		return 0, false
	}
	addGroup := func(name string, gid uint32, gidSet bool, uid uint32, uidSet bool, src string) (uint32, bool) {
		if g, ok := d.GID(name); ok {
			return g, true
		}
		switch {
		case gidSet && gidOK(gid, name, false):
		case !gidSet && uidSet && gidOK(uid, name, true):
			gid = uid
		default:
			var ok bool
			if gid, ok = nextGID(name); !ok {
				warn("%s: no free system GID for group %s", src, name)
				return 0, false
			}
		}
		d.addGroup(name, gid, "!*")
		return gid, true
	}
	parseID := func(s string) (uint32, bool) {
		if s == "-" || s == "" {
			return 0, false
		}
		v, err := strconv.ParseUint(s, 10, 32)
		return uint32(v), err == nil
	}
	for _, l := range lines {
		if l.Type == "g" {
			gid, ok := parseID(l.ID)
			if !ok && l.ID != "-" {
				warn("%s: group ID %q not understood, allocating one", l.Source, l.ID)
			}
			addGroup(l.Name, gid, ok, 0, false, l.Source)
		}
	}
	for _, l := range lines {
		if l.Type != "u" && l.Type != "u!" {
			continue
		}
		if d.User(l.Name) != nil {
			continue
		}
		uidStr, grp := l.ID, ""
		if k := strings.IndexByte(l.ID, ':'); k >= 0 {
			uidStr, grp = l.ID[:k], l.ID[k+1:]
		}
		if strings.HasPrefix(uidStr, "/") {
			warn("%s: user ID taken from path %s not supported, allocating one", l.Source, uidStr)
			uidStr = "-"
		}
		uid, uidSet := parseID(uidStr)
		var gid uint32
		switch g, isNum := parseID(grp); {
		case grp == "":
			var ok bool
			if gid, ok = addGroup(l.Name, 0, false, uid, uidSet, l.Source); !ok {
				continue
			}
		case isNum:
			// An existing group with that GID is the primary group;
			// otherwise one named after the user is made with it.
			gid = g
			if !d.GIDUsed(g, "") {
				if _, ok := addGroup(l.Name, g, true, uid, uidSet, l.Source); !ok {
					continue
				}
			}
		default:
			var ok bool
			if gid, ok = d.GID(grp); !ok {
				warn("%s: user %s: group %s does not exist", l.Source, l.Name, grp)
				continue
			}
		}
		switch {
		case uidSet && uidOK(uid, l.Name, true):
		case !uidSet && uidOK(gid, l.Name, true):
			uid = gid
		default:
			var ok bool
			if uid, ok = nextUID(l.Name); !ok {
				warn("%s: no free system UID for user %s", l.Source, l.Name)
				continue
			}
		}
		gecos, home, shell := l.GECOS, l.Home, l.Shell
		if gecos == "-" {
			gecos = ""
		}
		if home == "-" {
			home = "/"
		}
		if shell == "-" {
			shell = nologin
			if uid == 0 {
				shell = "/bin/sh"
			}
		}
		// "u!" users are locked for good: systemd-sysusers also sets
		// their account expiry to day 1.
		expire := ""
		if l.Type == "u!" {
			expire = "1"
		}
		d.addUser(l.Name, uid, gid, gecos, home, shell, []string{"!*", lastChange, "", "", "", "", expire, ""})
	}
	for _, l := range lines {
		if l.Type == "m" {
			if d.User(l.Name) == nil || !d.AddMember(l.ID, l.Name) {
				warn("%s: cannot add %s to group %s", l.Source, l.Name, l.ID)
			}
		}
	}
}
