package deploy

import (
	"fmt"
	"io"
	"strconv"
	"strings"
)

// Customizations are the per-machine settings that belong to a deployment's
// etc (and the stateroot's var), not to the commit.
type Customizations struct {
	Hostname string
	Users    []User
}

// User is a login to create, or root to change.
type User struct {
	Name string
	// PasswordHash is a crypt(3) hash ("$6$..."); "" leaves the account
	// without a password (locked for password logins).
	PasswordHash string
	// Keys are SSH public keys for ~/.ssh/authorized_keys.
	Keys   []string
	Groups []string
}

// Days since the epoch for shadow's last-change field: 0 would force a
// password change at first login, so a fixed, reproducible day is used.
const lastChange = 19000

func (c Customizations) apply(s *Sysroot, dep, vardir, commit string) error {
	etc := dep + "/etc"
	if c.Hostname != "" {
		if strings.ContainsAny(c.Hostname, " \t\n/") || len(c.Hostname) > 64 {
			return fmt.Errorf("hostname %q is not a valid host name", c.Hostname)
		}
		s.data(etc+"/hostname", []byte(c.Hostname+"\n"), 0o644, 0, 0)
	}
	if len(c.Users) == 0 {
		return nil
	}
	files := map[string][]string{}
	for _, name := range []string{"passwd", "group", "shadow", "gshadow"} {
		lines, err := readLines(s, etc+"/"+name)
		if err != nil {
			return err
		}
		files[name] = lines
	}
	for _, u := range c.Users {
		if err := addUser(s, files, u, vardir); err != nil {
			return fmt.Errorf("user %q: %w", u.Name, err)
		}
	}
	for name, lines := range files {
		n := s.index[etc+"/"+name]
		b := []byte(strings.Join(lines, "\n") + "\n")
		s.add(&Node{Path: n.Path, Kind: File, Meta: n.Meta, Size: int64(len(b)), Open: bytesOpener(b)})
	}
	return nil
}

func readLines(s *Sysroot, p string) ([]string, error) {
	rc, _, err := s.Open(p)
	if err != nil {
		return nil, fmt.Errorf("the commit has no /%s: %w", p, err)
	}
	defer rc.Close()
	b, err := io.ReadAll(io.LimitReader(rc, 16<<20))
	if err != nil {
		return nil, fmt.Errorf("reading %s: %w", p, err)
	}
	var out []string
	for _, l := range strings.Split(string(b), "\n") {
		if l != "" {
			out = append(out, l)
		}
	}
	return out, nil
}

func validName(n string) bool {
	if n == "" || len(n) > 32 || n[0] == '-' {
		return false
	}
	for _, r := range n {
		if !(r >= 'a' && r <= 'z' || r >= '0' && r <= '9' || r == '_' || r == '-' || r == '.') {
			return false
		}
	}
	return true
}

// findEntry returns the index of the line whose first field is name.
func findEntry(lines []string, name string) int {
	for i, l := range lines {
		if f, _, _ := strings.Cut(l, ":"); f == name {
			return i
		}
	}
	return -1
}

func addUser(s *Sysroot, f map[string][]string, u User, vardir string) error {
	if !validName(u.Name) {
		return fmt.Errorf("not a valid user name")
	}
	if strings.ContainsAny(u.PasswordHash, ":\n") {
		return fmt.Errorf("password hash holds ':' or a newline")
	}
	hash := u.PasswordHash
	if hash == "" {
		hash = "!"
	}
	var uid, gid int
	var home string
	if i := findEntry(f["passwd"], u.Name); i >= 0 {
		fields := strings.Split(f["passwd"][i], ":")
		if len(fields) != 7 {
			return fmt.Errorf("malformed passwd line %q", f["passwd"][i])
		}
		uid, _ = strconv.Atoi(fields[2])
		gid, _ = strconv.Atoi(fields[3])
		home = fields[5]
	} else {
		uid = 1000
		for _, l := range f["passwd"] {
			fields := strings.Split(l, ":")
			if len(fields) > 3 {
				if n, err := strconv.Atoi(fields[2]); err == nil && n >= uid && n < 60000 {
					uid = n + 1
				}
			}
		}
		gid = uid
		for findGID(f["group"], gid) {
			gid++
		}
		home = "/home/" + u.Name
		f["passwd"] = append(f["passwd"], fmt.Sprintf("%s:x:%d:%d::%s:/bin/bash", u.Name, uid, gid, home))
		f["group"] = append(f["group"], fmt.Sprintf("%s:x:%d:", u.Name, gid))
		f["gshadow"] = append(f["gshadow"], u.Name+":!::")
	}
	if i := findEntry(f["shadow"], u.Name); i >= 0 {
		fields := strings.Split(f["shadow"][i], ":")
		if len(fields) < 2 {
			return fmt.Errorf("malformed shadow line for %s", u.Name)
		}
		fields[1] = hash
		f["shadow"][i] = strings.Join(fields, ":")
	} else {
		f["shadow"] = append(f["shadow"], fmt.Sprintf("%s:%s:%d:0:99999:7:::", u.Name, hash, lastChange))
	}
	for _, g := range u.Groups {
		if err := addMember(f, g, u.Name); err != nil {
			return err
		}
	}
	// Home directories live in the stateroot's var: /home is var/home,
	// /root is var/roothome.
	var hdir string
	switch {
	case u.Name == "root" || home == "/root":
		hdir = vardir + "/roothome"
		s.dir(hdir, 0o700, 0, 0)
	case strings.HasPrefix(home, "/home/"):
		s.dir(vardir+"/home", 0o755, 0, 0)
		hdir = vardir + "/home/" + strings.TrimPrefix(home, "/home/")
		s.dir(hdir, 0o700, uint32(uid), uint32(gid))
	}
	if len(u.Keys) > 0 {
		if hdir == "" {
			return fmt.Errorf("SSH keys need a home under /home or /root, not %s", home)
		}
		var b strings.Builder
		for _, k := range u.Keys {
			if strings.ContainsAny(k, "\n\r") {
				return fmt.Errorf("SSH key holds a newline")
			}
			b.WriteString(strings.TrimSpace(k) + "\n")
		}
		s.dir(hdir+"/.ssh", 0o700, uint32(uid), uint32(gid))
		s.data(hdir+"/.ssh/authorized_keys", []byte(b.String()), 0o600, uint32(uid), uint32(gid))
	}
	return nil
}

func findGID(group []string, gid int) bool {
	for _, l := range group {
		fields := strings.Split(l, ":")
		if len(fields) > 2 && fields[2] == strconv.Itoa(gid) {
			return true
		}
	}
	return false
}

// addMember adds user to group g in group and gshadow.
func addMember(f map[string][]string, g, user string) error {
	i := findEntry(f["group"], g)
	if i < 0 {
		return fmt.Errorf("group %q does not exist in the commit's /etc/group", g)
	}
	for _, file := range []string{"group", "gshadow"} {
		j := findEntry(f[file], g)
		if j < 0 {
			continue
		}
		fields := strings.Split(f[file][j], ":")
		if len(fields) != 4 {
			return fmt.Errorf("malformed %s line %q", file, f[file][j])
		}
		members := []string{}
		if fields[3] != "" {
			members = strings.Split(fields[3], ",")
		}
		has := false
		for _, m := range members {
			has = has || m == user
		}
		if !has {
			members = append(members, user)
		}
		fields[3] = strings.Join(members, ",")
		f[file][j] = strings.Join(fields, ":")
	}
	return nil
}
