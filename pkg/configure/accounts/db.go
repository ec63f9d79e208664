// Package accounts writes the user and group databases (/etc/passwd,
// group, shadow, gshadow) that a Debian installation ends up with:
// base-passwd's master files, shadow's pwconv/grpconv, the sysusers.d
// entries and the adduser/addgroup/groupadd calls of maintainer scripts,
// then the users and groups the image's author declares.
package accounts

import (
	"bytes"
	"fmt"
	"strconv"
	"strings"
)

// DB holds the four colon-separated files as rows of fields, in file
// order, because their order is what tools and people see.
type DB struct {
	Passwd  [][]string // name:passwd:uid:gid:gecos:home:shell
	Group   [][]string // name:passwd:gid:members
	Shadow  [][]string // name:hash:lastchg:min:max:warn:inactive:expire:reserved
	GShadow [][]string // name:passwd:admins:members

	// backups hold, in the order above, each file's content before the
	// last tool run that changed it (nil: never changed).
	backups [4][]byte
}

// snapshot returns the four files' current content.
func (d *DB) snapshot() [4][]byte {
	return [4][]byte{FormatTable(d.Passwd), FormatTable(d.Group), FormatTable(d.Shadow), FormatTable(d.GShadow)}
}

// keepBackups records, for each file changed since before, its content
// then as its backup.
func (d *DB) keepBackups(before [4][]byte) {
	now := d.snapshot()
	for i := range now {
		if !bytes.Equal(now[i], before[i]) {
			d.backups[i] = before[i]
		}
	}
}

var fieldCounts = map[string]int{"passwd": 7, "group": 4, "shadow": 9, "gshadow": 4}

// ParseTable reads one colon-separated database file; kind names it
// ("passwd", "group", "shadow", "gshadow") and fixes the field count.
func ParseTable(kind string, b []byte) ([][]string, error) {
	n, ok := fieldCounts[kind]
	if !ok {
		return nil, fmt.Errorf("unknown account database %q", kind)
	}
	var rows [][]string
	for i, line := range strings.Split(string(b), "\n") {
		if line == "" {
			continue
		}
		f := strings.Split(line, ":")
		if len(f) != n {
			return nil, fmt.Errorf("%s line %d: %d fields, want %d", kind, i+1, len(f), n)
		}
		if f[0] == "" {
			return nil, fmt.Errorf("%s line %d: empty name", kind, i+1)
		}
		if kind == "passwd" || kind == "group" {
			idx := 2
			if _, err := strconv.ParseUint(f[idx], 10, 32); err != nil {
				return nil, fmt.Errorf("%s line %d: bad id %q", kind, i+1, f[idx])
			}
			if kind == "passwd" {
				if _, err := strconv.ParseUint(f[3], 10, 32); err != nil {
					return nil, fmt.Errorf("%s line %d: bad gid %q", kind, i+1, f[3])
				}
			}
		}
		rows = append(rows, f)
	}
	return rows, nil
}

// FormatTable writes rows back in file form.
func FormatTable(rows [][]string) []byte {
	var b bytes.Buffer
	for _, r := range rows {
		b.WriteString(strings.Join(r, ":"))
		b.WriteByte('\n')
	}
	return b.Bytes()
}

func find(rows [][]string, name string) []string {
	for _, r := range rows {
		if r[0] == name {
			return r
		}
	}
	return nil
}

// User returns the passwd row of name, or nil.
func (d *DB) User(name string) []string { return find(d.Passwd, name) }

// GroupRow returns the group row of name, or nil.
func (d *DB) GroupRow(name string) []string { return find(d.Group, name) }

// UIDUsed reports whether a user other than name has uid.
func (d *DB) UIDUsed(uid uint32, name string) bool {
	s := strconv.FormatUint(uint64(uid), 10)
	for _, r := range d.Passwd {
		if r[2] == s && r[0] != name {
			return true
		}
	}
	return false
}

// GIDUsed reports whether a group other than name has gid.
func (d *DB) GIDUsed(gid uint32, name string) bool {
	s := strconv.FormatUint(uint64(gid), 10)
	for _, r := range d.Group {
		if r[2] == s && r[0] != name {
			return true
		}
	}
	return false
}

// GID returns the id of group name.
func (d *DB) GID(name string) (uint32, bool) {
	r := d.GroupRow(name)
	if r == nil {
		return 0, false
	}
	v, err := strconv.ParseUint(r[2], 10, 32)
	return uint32(v), err == nil
}

// AddMember adds user to group's member lists (group and gshadow).
func (d *DB) AddMember(group, user string) bool {
	r := d.GroupRow(group)
	if r == nil {
		return false
	}
	r[3] = addToList(r[3], user)
	if g := find(d.GShadow, group); g != nil {
		g[3] = addToList(g[3], user)
	}
	return true
}

func addToList(list, name string) string {
	if list == "" {
		return name
	}
	for _, m := range strings.Split(list, ",") {
		if m == name {
			return list
		}
	}
	return list + "," + name
}

// shadowConvert does what pwconv and grpconv do: every password moves to
// the shadow files and the public files say "x". lastChange is the day
// number written for new shadow entries.
func (d *DB) shadowConvert(lastChange string) {
	for _, r := range d.Passwd {
		if find(d.Shadow, r[0]) == nil {
			// pwconv takes the ageing defaults of Debian's login.defs
			// (PASS_MIN_DAYS 0, PASS_MAX_DAYS 99999, PASS_WARN_AGE 7).
			d.Shadow = append(d.Shadow, []string{r[0], r[1], lastChange, "0", "99999", "7", "", "", ""})
		}
		r[1] = "x"
	}
	for _, r := range d.Group {
		if find(d.GShadow, r[0]) == nil {
			d.GShadow = append(d.GShadow, []string{r[0], r[1], "", r[3]})
		}
		r[1] = "x"
	}
}

// addUser appends a user with its shadow row.
func (d *DB) addUser(name string, uid, gid uint32, gecos, home, shell string, sh []string) {
	d.Passwd = append(d.Passwd, []string{name, "x", strconv.FormatUint(uint64(uid), 10),
		strconv.FormatUint(uint64(gid), 10), gecos, home, shell})
	d.Shadow = append(d.Shadow, append([]string{name}, sh...))
}

// addGroup appends a group with its gshadow row.
func (d *DB) addGroup(name string, gid uint32, gshadowPasswd string) {
	d.Group = append(d.Group, []string{name, "x", strconv.FormatUint(uint64(gid), 10), ""})
	d.GShadow = append(d.GShadow, []string{name, gshadowPasswd, "", ""})
}
