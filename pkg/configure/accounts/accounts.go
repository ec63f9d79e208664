package accounts

import (
	"fmt"
	"path"
	"sort"
	"strconv"
	"strings"
	"time"

	"github.com/debatom/debatom/pkg/configure/sysroot"
)

// User is an account the image's author declares. Existing users (root)
// are updated: password hash, groups and keys are applied to them.
type User struct {
	Name string
	// UID 0 with a name other than root means: allocate from 1000 up.
	UID            uint32
	Groups         []string // supplementary groups, which must exist
	PasswordHash   string   // crypt(3) hash; "" locks the password ("!")
	AuthorizedKeys []string // lines of ~/.ssh/authorized_keys
	Home           string   // default /home/NAME (/root for root)
	Shell          string   // default /bin/bash
	GECOS          string
}

// Group is a group the image's author declares; GID 0 allocates one.
type Group struct {
	Name string
	GID  uint32
}

// Options controls Configure.
type Options struct {
	Users  []User
	Groups []Group
	// Now is the build time: shadow's "last password change" day comes
	// from it, so it should be SOURCE_DATE_EPOCH for reproducible output.
	Now time.Time
}

// Configure writes etc/passwd, group, shadow, gshadow and their backups
// into r, processing packages in r.Packages order (the order dpkg would
// configure them in).
func Configure(r *sysroot.Root, opts Options) (*DB, error) {
	// Day 0 would force a password change at first login; without a
	// build time the field stays empty (no password ageing).
	days := ""
	if !opts.Now.IsZero() && opts.Now.Unix() >= 86400 {
		days = strconv.FormatInt(opts.Now.Unix()/86400, 10)
	}
	d := &DB{}
	// base-passwd's postinst copies the master files when /etc has none.
	for _, f := range []struct {
		kind, etc, master string
		dst               *[][]string
	}{
		{"passwd", "etc/passwd", "usr/share/base-passwd/passwd.master", &d.Passwd},
		{"group", "etc/group", "usr/share/base-passwd/group.master", &d.Group},
		{"shadow", "etc/shadow", "", &d.Shadow},
		{"gshadow", "etc/gshadow", "", &d.GShadow},
	} {
		src := f.etc
		if !r.Exists(src) {
			src = f.master
		}
		if src == "" || !r.Exists(src) {
			continue
		}
		b, err := r.ReadFile(src)
		if err != nil {
			return nil, err
		}
		if *f.dst, err = ParseTable(f.kind, b); err != nil {
			return nil, fmt.Errorf("%s: %w", src, err)
		}
	}
	if d.User("root") == nil {
		return nil, fmt.Errorf("no root user: neither etc/passwd nor base-passwd's passwd.master is in the tree")
	}
	// passwd's postinst runs "shadowconfig on" (pwconv, grpconv) on a new
	// installation, at its place in the configure order: rows that
	// systemd-sysusers wrote before, creating the shadow files, stay at
	// their top, and pwconv appends the rest. With shadow files in the
	// tree already, the conversion only adds what is missing.
	converted := false
	if r.Exists("etc/shadow") {
		d.shadowConvert(days)
		converted = true
	}

	done := map[string]bool{} // sysusers.d files already applied
	for _, p := range r.Packages {
		src := p.Scripts["postinst"]
		if src == nil {
			continue
		}
		warn := func(format string, args ...any) { r.Report.Warnf(p.Name, format, args...) }
		for _, c := range r.Commands(p, "postinst") {
			if len(c.Args) == 0 {
				continue
			}
			prog := path.Base(c.Args[0])
			args := nonEmpty(c.Args[1:])
			// Each tool run leaves the files it changes' previous
			// content as the "-" backups.
			snap := d.snapshot()
			switch prog {
			case "shadowconfig":
				if len(args) == 1 && args[0] == "on" && !converted {
					d.shadowConvert(days)
					converted = true
				}
			case "systemd-sysusers":
				for _, a := range args {
					if strings.HasPrefix(a, "-") {
						continue
					}
					if err := applySysusers(r, d, a, days, warn); err != nil {
						return nil, fmt.Errorf("%s postinst: %w", p.Name, err)
					}
					done[path.Base(a)] = true
				}
			case "adduser", "addgroup", "useradd", "groupadd":
				d.scriptAccount(prog, args, days, warn)
			}
			d.keepBackups(snap)
		}
	}
	snap := d.snapshot()
	if !converted {
		d.shadowConvert(days)
	}
	// systemd-sysusers.service applies every sysusers.d file at boot;
	// doing it now gives the IDs a fixed value in the image.
	var rest []string
	for _, dir := range []string{"usr/lib/sysusers.d", "etc/sysusers.d"} {
		for _, f := range r.Glob(dir, "*.conf") {
			if !done[path.Base(f)] {
				rest = append(rest, path.Base(f))
				done[path.Base(f)] = true
			}
		}
	}
	sort.Strings(rest)
	for _, f := range rest {
		if err := applySysusers(r, d, f, days, func(format string, args ...any) { r.Report.Warnf("", format, args...) }); err != nil {
			return nil, err
		}
	}

	// Groups with fixed GIDs first, then users (each with a same-numbered
	// group when free), then groups to allocate, then memberships, so a
	// user's group can match its UID.
	for _, fixed := range []bool{true, false} {
		if !fixed {
			for _, u := range opts.Users {
				if err := d.declareUser(r, u); err != nil {
					return nil, err
				}
			}
		}
		for _, g := range opts.Groups {
			if (g.GID != 0) == fixed {
				if err := d.declareGroup(g); err != nil {
					return nil, err
				}
			}
		}
	}
	for _, u := range opts.Users {
		for _, g := range u.Groups {
			if !d.AddMember(g, u.Name) {
				return nil, fmt.Errorf("declared user %s: group %s does not exist", u.Name, g)
			}
		}
	}
	d.keepBackups(snap)
	if err := d.write(r); err != nil {
		return nil, err
	}
	r.Report.Notef("accounts: %d users, %d groups", len(d.Passwd), len(d.Group))
	return d, nil
}

func nonEmpty(a []string) []string {
	var out []string
	for _, s := range a {
		if s != "" {
			out = append(out, s)
		}
	}
	return out
}

// applySysusers runs one sysusers.d file by name; etc/ overrides usr/lib.
func applySysusers(r *sysroot.Root, d *DB, name, days string, warn func(string, ...any)) error {
	base := path.Base(name)
	var src string
	for _, dir := range []string{"etc/sysusers.d", "run/sysusers.d", "usr/local/lib/sysusers.d", "usr/lib/sysusers.d"} {
		if r.Exists(path.Join(dir, base)) {
			src = path.Join(dir, base)
			break
		}
	}
	if src == "" {
		warn("sysusers.d file %s not found", base)
		return nil
	}
	b, err := r.ReadFile(src)
	if err != nil {
		return err
	}
	lines, err := ParseSysusers(src, b)
	if err != nil {
		return err
	}
	d.sysusersRun(lines, days, warn)
	return nil
}

// scriptAccount applies one adduser/addgroup/useradd/groupadd call the way
// Debian's tools would on a fresh system; it never changes an existing
// account, matching the scripts' own "if it does not exist" guards.
func (d *DB) scriptAccount(prog string, args []string, days string, warn func(string, ...any)) {
	var (
		pos                    []string
		system, group          bool
		uid, gid               string
		home, shell, gecos, pg string
	)
	takesValue := map[string]bool{"--home": true, "--shell": true, "--gecos": true, "--comment": true,
		"--uid": true, "--gid": true, "--ingroup": true, "--firstuid": true, "--lastuid": true,
		"--firstgid": true, "--lastgid": true, "--add-extra-groups": false,
		"-u": true, "-g": true, "-d": true, "-s": true, "-c": true, "-G": true, "-K": true, "-k": true, "-p": true}
	for i := 0; i < len(args); i++ {
		a := args[i]
		v := ""
		if k := strings.IndexByte(a, '='); k > 0 && strings.HasPrefix(a, "--") {
			a, v = a[:k], a[k+1:]
		} else if takesValue[a] && i+1 < len(args) {
			i++
			v = args[i]
		}
		switch a {
		case "--system", "-r":
			system = true
		case "--group":
			group = true
		case "--uid", "-u":
			uid = v
		case "--gid":
			gid = v
		case "-g":
			if prog == "groupadd" {
				gid = v
			} else {
				pg = v
			}
		case "--ingroup":
			pg = v
		case "--home", "-d":
			home = v
		case "--shell", "-s":
			shell = v
		case "--gecos", "--comment", "-c":
			gecos = v
		default:
			if !strings.HasPrefix(a, "-") {
				pos = append(pos, a)
			}
		}
	}
	if len(pos) == 0 {
		warn("%s %s: no name found", prog, strings.Join(args, " "))
		return
	}
	name := pos[0]
	if strings.Contains(name, "$") {
		warn("%s: name %s comes from a variable the script sets at run time; not created", prog, name)
		return
	}
	if prog == "adduser" && len(pos) == 2 {
		// "adduser USER GROUP" adds a member.
		if !d.AddMember(pos[1], name) {
			warn("adduser %s %s: no such user or group", name, pos[1])
		}
		return
	}
	if !system && prog != "groupadd" {
		warn("%s %s: a non-system account made by a script is not created", prog, name)
		return
	}
	lowest := func(used func(uint32, string) bool) (uint32, bool) {
		for id := uint32(systemIDMin); id <= systemIDMax; id++ {
			if !used(id, "") {
				return id, true
			}
		}
		return 0, false
	}
	mkGroup := func(name, want string) (uint32, bool) {
		if g, ok := d.GID(name); ok {
			return g, true
		}
		var g uint32
		if v, err := strconv.ParseUint(want, 10, 32); err == nil && !d.GIDUsed(uint32(v), "") {
			g = uint32(v)
		} else if g, _ = lowest(d.GIDUsed); g == 0 {
			warn("%s %s: no free system GID", prog, name)
			return 0, false
		}
		d.addGroup(name, g, "!")
		return g, true
	}
	switch prog {
	case "addgroup", "groupadd":
		mkGroup(name, gid)
		return
	}
	if d.User(name) != nil {
		return
	}
	var g uint32 = 65534 // adduser --system puts users in nogroup
	switch {
	case group:
		var ok bool
		if g, ok = mkGroup(name, gid); !ok {
			return
		}
	case pg != "":
		var ok bool
		if g, ok = d.GID(pg); !ok {
			if v, err := strconv.ParseUint(pg, 10, 32); err == nil {
				g = uint32(v)
			} else {
				warn("%s %s: group %s does not exist", prog, name, pg)
				return
			}
		}
	case gid != "":
		v, err := strconv.ParseUint(gid, 10, 32)
		if err != nil {
			warn("%s %s: bad gid %q", prog, name, gid)
			return
		}
		g = uint32(v)
	}
	var u uint32
	if v, err := strconv.ParseUint(uid, 10, 32); err == nil && !d.UIDUsed(uint32(v), "") {
		u = uint32(v)
	} else if group && !d.UIDUsed(g, "") {
		u = g
	} else if u, _ = lowest(d.UIDUsed); u == 0 {
		warn("%s %s: no free system UID", prog, name)
		return
	}
	if home == "" {
		home = "/nonexistent"
	}
	if shell == "" {
		shell = nologin
	}
	d.addUser(name, u, g, gecos, home, shell, []string{"*", days, "0", "99999", "7", "", "", ""})
}

func (d *DB) declareGroup(g Group) error {
	if !validName(g.Name) {
		return fmt.Errorf("declared group %q: invalid name", g.Name)
	}
	if cur, ok := d.GID(g.Name); ok {
		if g.GID != 0 && cur != g.GID {
			return fmt.Errorf("declared group %s: GID %d, but the packages made it %d", g.Name, g.GID, cur)
		}
		return nil
	}
	gid := g.GID
	if gid == 0 {
		gid = d.firstFree(1000, d.GIDUsed)
	} else if d.GIDUsed(gid, "") {
		return fmt.Errorf("declared group %s: GID %d is taken", g.Name, gid)
	}
	d.addGroup(g.Name, gid, "!")
	return nil
}

func (d *DB) firstFree(from uint32, used func(uint32, string) bool) uint32 {
	for id := from; ; id++ {
		if !used(id, "") {
			return id
		}
	}
}

func (d *DB) declareUser(r *sysroot.Root, u User) error {
	if !validName(u.Name) {
		return fmt.Errorf("declared user %q: invalid name", u.Name)
	}
	for _, k := range u.AuthorizedKeys {
		if strings.ContainsAny(k, "\n\r") {
			return fmt.Errorf("declared user %s: authorized key spans several lines", u.Name)
		}
	}
	row := d.User(u.Name)
	if row == nil {
		uid := u.UID
		if uid == 0 {
			uid = d.firstFree(1000, d.UIDUsed)
		} else if d.UIDUsed(uid, "") {
			return fmt.Errorf("declared user %s: UID %d is taken", u.Name, uid)
		}
		gid, ok := d.GID(u.Name)
		if !ok {
			gid = uid
			if d.GIDUsed(gid, "") {
				gid = d.firstFree(1000, d.GIDUsed)
			}
			d.addGroup(u.Name, gid, "!")
		}
		home := u.Home
		if home == "" {
			home = "/home/" + u.Name
		}
		shell := u.Shell
		if shell == "" {
			shell = "/bin/bash"
		}
		d.addUser(u.Name, uid, gid, u.GECOS, home, shell, []string{"!", d.shadowDay(), "0", "99999", "7", "", "", ""})
		row = d.User(u.Name)
		hp, err := homePath(home)
		if err != nil {
			return fmt.Errorf("declared user %s: %w", u.Name, err)
		}
		if err := r.Mkdir(hp, 0o700, uid, gid); err != nil {
			return fmt.Errorf("declared user %s: home %s: %w", u.Name, home, err)
		}
	}
	if u.PasswordHash != "" {
		if strings.ContainsAny(u.PasswordHash, ":\n") {
			return fmt.Errorf("declared user %s: password hash contains ':' or a newline", u.Name)
		}
		find(d.Shadow, u.Name)[1] = u.PasswordHash
	}
	if len(u.AuthorizedKeys) > 0 {
		uid, _ := strconv.ParseUint(row[2], 10, 32)
		gid, _ := strconv.ParseUint(row[3], 10, 32)
		hp, err := homePath(row[5])
		if err != nil {
			return fmt.Errorf("declared user %s: %w", u.Name, err)
		}
		if err := r.Mkdir(path.Join(hp, ".ssh"), 0o700, uint32(uid), uint32(gid)); err != nil {
			return fmt.Errorf("declared user %s: %w", u.Name, err)
		}
		keys := strings.Join(u.AuthorizedKeys, "\n") + "\n"
		if err := r.WriteFile(path.Join(hp, ".ssh/authorized_keys"), []byte(keys), 0o600, uint32(uid), uint32(gid)); err != nil {
			return fmt.Errorf("declared user %s: %w", u.Name, err)
		}
	}
	return nil
}

func homePath(h string) (string, error) {
	if !strings.HasPrefix(h, "/") || h == "/" {
		return "", fmt.Errorf("home %q is not an absolute directory below /", h)
	}
	return strings.TrimPrefix(path.Clean(h), "/"), nil
}

// shadowDay is the day number the other new rows use (root's).
func (d *DB) shadowDay() string {
	if r := find(d.Shadow, "root"); r != nil {
		return r[2]
	}
	return ""
}

// write stores the four files and their "-" backups with the modes Debian's
// tools leave (shadow files 0640 root:shadow).
func (d *DB) write(r *sysroot.Root) error {
	shadowGID, ok := d.GID("shadow")
	if !ok {
		shadowGID = 42
	}
	files := []struct {
		p         string
		rows      [][]string
		mode, gid uint32
	}{
		{"etc/passwd", d.Passwd, 0o644, 0},
		{"etc/group", d.Group, 0o644, 0},
		{"etc/shadow", d.Shadow, 0o640, shadowGID},
		{"etc/gshadow", d.GShadow, 0o640, shadowGID},
	}
	for i, f := range files {
		b := FormatTable(f.rows)
		if err := r.WriteFile(f.p, b, f.mode, 0, f.gid); err != nil {
			return fmt.Errorf("write %s: %w", f.p, err)
		}
		// The backup is the file as it was before the last tool run
		// that changed it (adduser, systemd-sysusers and pwconv all
		// copy the file's mode and owner to it); unchanged files get
		// a copy.
		if d.backups[i] != nil {
			b = d.backups[i]
		}
		if err := r.WriteFile(f.p+"-", b, f.mode, 0, f.gid); err != nil {
			return fmt.Errorf("write %s-: %w", f.p, err)
		}
	}
	// The lock file the shadow tools take, and the empty subordinate ID
	// files base-passwd's postinst creates.
	for _, f := range []struct {
		p    string
		mode uint32
	}{{"etc/.pwd.lock", 0o600}, {"etc/subuid", 0o644}, {"etc/subgid", 0o644}} {
		if !r.Exists(f.p) {
			if err := r.WriteFile(f.p, nil, f.mode, 0, 0); err != nil {
				return err
			}
		}
	}
	return nil
}
