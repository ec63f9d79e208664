package configure

import (
	"bytes"
	"fmt"
	"path"
	"regexp"
	"sort"
	"strconv"
	"strings"

	"github.com/debatom/debatom/pkg/configure/accounts"
	"github.com/debatom/debatom/pkg/configure/script"
	"github.com/debatom/debatom/pkg/configure/sysroot"
	"github.com/debatom/debatom/pkg/configure/tmpfiles"
	"github.com/debatom/debatom/pkg/fstree"
)

// copyDefault copies src to dst when dst is absent, keeping src's
// metadata, as "cp -p" in base-files', libc-bin's and readline's
// postinsts does.
func copyDefault(r *sysroot.Root, src, dst string) error {
	if r.Exists(dst) {
		return nil
	}
	_, e, err := r.Lookup(src)
	if err != nil || e == nil {
		return nil // the package that ships src is not installed
	}
	b, err := r.ReadFile(src)
	if err != nil {
		return err
	}
	if err := r.WriteFile(dst, b, e.Mode, e.UID, e.GID); err != nil {
		return err
	}
	r.Report.Notef("copied /%s to /%s", src, dst)
	return nil
}

func touch(r *sysroot.Root, p string, mode, uid, gid uint32) error {
	if r.Exists(p) {
		return nil
	}
	return r.WriteFile(p, nil, mode, uid, gid)
}

// baseFiles does the one-off effects of base-files, debianutils, libc-bin,
// libnss-systemd, readline-common, kmod, libpam-modules, tzdata, dpkg and
// the kernel's postinsts, and systemd's empty machine-id.
func baseFiles(r *sysroot.Root, opts Options) error {
	has := func(p string) bool { return r.Package(p) != nil }
	if has("base-files") {
		for _, c := range [][2]string{
			{"usr/share/base-files/dot.profile", "root/.profile"},
			{"usr/share/base-files/dot.bashrc", "root/.bashrc"},
			{"usr/share/base-files/profile", "etc/profile"},
			{"usr/share/base-files/motd", "etc/motd"},
		} {
			if err := copyDefault(r, c[0], c[1]); err != nil {
				return err
			}
		}
		for _, d := range []struct {
			p    string
			mode uint32
			gid  uint32
		}{{"mnt", 0o755, 0}, {"srv", 0o755, 0}, {"opt", 0o755, 0}, {"etc/opt", 0o755, 0},
			{"var/opt", 0o755, 0}, {"media", 0o755, 0}, {"var/mail", 0o2775, 8}, {"run/lock", 0o1777, 0}} {
			if r.Tree.Get(d.p) == nil {
				if err := r.Mkdir(d.p, d.mode, 0, d.gid); err != nil {
					return err
				}
			}
		}
		if e := r.Tree.Get("var/spool/mail"); e == nil || e.Kind != fstree.Symlink {
			if err := r.Symlink("var/spool/mail", "../mail"); err != nil {
				return err
			}
		}
		// var/run and var/lock become links into /run.
		for _, m := range [][2]string{{"var/run", "/run"}, {"var/lock", "/run/lock"}} {
			if e := r.Tree.Get(m[0]); e == nil || e.Kind != fstree.Symlink {
				r.Tree.RemoveAll(m[0])
				if err := r.Symlink(m[0], m[1]); err != nil {
					return err
				}
			}
		}
		for _, d := range []string{"", "/share", "/share/man", "/bin", "/games", "/lib", "/libexec", "/include", "/sbin", "/src", "/etc"} {
			if r.Tree.Get("usr/local"+d) == nil {
				if err := r.Mkdir("usr/local"+d, 0o755, 0, 0); err != nil {
					return err
				}
			}
		}
		if err := r.Symlink("usr/local/man", "share/man"); err != nil {
			return err
		}
		for _, f := range []struct {
			p    string
			mode uint32
		}{{"var/log/wtmp", 0o664}, {"var/log/btmp", 0o660}, {"var/log/lastlog", 0o664}} {
			if err := touch(r, f.p, f.mode, 0, 43); err != nil { // root:utmp
				return err
			}
		}
		if r.Tree.Get("usr/share/info") != nil && !r.Exists("usr/share/info/dir") {
			if err := copyDefault(r, "usr/share/base-files/info.dir", "usr/share/info/dir"); err != nil {
				return err
			}
			if e := r.Tree.Get("usr/share/info/dir"); e != nil {
				e.Mode = 0o644
			}
		}
		if !r.Exists("etc/dpkg/origins/default") && r.Exists("etc/dpkg/origins/debian") {
			if err := r.Symlink("etc/dpkg/origins/default", "debian"); err != nil {
				return err
			}
		}
	}
	if has("debianutils") {
		if err := updateShells(r); err != nil {
			return err
		}
	}
	if has("libc-bin") {
		if err := copyDefault(r, "usr/share/libc-bin/nsswitch.conf", "etc/nsswitch.conf"); err != nil {
			return err
		}
	}
	if has("libnss-systemd") && r.Exists("etc/nsswitch.conf") {
		b, err := r.ReadFile("etc/nsswitch.conf")
		if err != nil {
			return err
		}
		if err := r.WriteFile("etc/nsswitch.conf", AddNSSModule(b, "systemd"), 0o644, 0, 0); err != nil {
			return err
		}
	}
	if has("readline-common") {
		if err := copyDefault(r, "usr/share/readline/inputrc", "etc/inputrc"); err != nil {
			return err
		}
	}
	if has("libpam-modules") {
		if err := touch(r, "etc/environment", 0o644, 0, 0); err != nil {
			return err
		}
		if err := touch(r, "etc/security/opasswd", 0o600, 0, 0); err != nil {
			return err
		}
	}
	if has("tzdata") {
		tz := opts.Timezone
		if tz == "" {
			tz = "Etc/UTC"
		}
		if strings.Contains(tz, "..") || strings.HasPrefix(tz, "/") || !r.Exists("usr/share/zoneinfo/"+tz) {
			return fmt.Errorf("time zone %q is not in usr/share/zoneinfo", tz)
		}
		if err := r.Symlink("etc/localtime", "/usr/share/zoneinfo/"+tz); err != nil {
			return err
		}
	}
	// openssh-server's postinst installs the default sshd_config through
	// ucf (debconf defaults leave it unedited); the host keys are made at
	// first boot by sshd-keygen.service, never baked into an image.
	if has("openssh-server") {
		if err := copyDefault(r, "usr/share/openssh/sshd_config", "etc/ssh/sshd_config"); err != nil {
			return err
		}
	}
	// systemd-resolved's postinst points resolv.conf at its stub.
	if has("systemd-resolved") {
		r.Tree.RemoveAll("etc/resolv.conf")
		if err := r.Symlink("etc/resolv.conf", "../run/systemd/resolve/stub-resolv.conf"); err != nil {
			return err
		}
	}
	// An empty machine-id makes systemd generate one at first boot
	// without running the interactive first-boot setup.
	if has("systemd") {
		if err := r.WriteFile("etc/machine-id", nil, 0o644, 0, 0); err != nil {
			return err
		}
	}
	// The kernel's postinst (linux-base's linux-update-symlinks) points
	// /vmlinuz and /vmlinuz.old at the newest kernel.
	var kernels []string
	for _, k := range r.Glob("boot", "vmlinuz-*") {
		kernels = append(kernels, path.Base(k))
	}
	sort.Strings(kernels)
	if len(kernels) > 0 && has("linux-base") {
		k := kernels[len(kernels)-1]
		for _, l := range []string{"vmlinuz", "vmlinuz.old"} {
			if err := r.Symlink(l, "boot/"+k); err != nil {
				return err
			}
		}
	}
	return nil
}

// heredocFiles creates the /etc files postinsts write from a
// here-document ("cat > /etc/hosts.allow <<EOF"), when absent: kmod's
// /etc/modules, libwrap0's hosts.allow and hosts.deny.
func heredocFiles(r *sysroot.Root) error {
	for _, p := range r.Packages {
		for _, c := range r.Commands(p, "postinst") {
			if path.Base(c.Args[0]) != "cat" || len(c.Args) != 1 || c.Heredoc == "" && c.Stdout == "" {
				continue
			}
			dst := c.Stdout
			if !strings.HasPrefix(dst, "/etc/") || strings.ContainsAny(dst, "$*?`") || strings.Contains(c.Heredoc, "$") {
				continue // not a configuration file, or text built at run time
			}
			if r.Exists(dst) {
				continue
			}
			if err := r.WriteFile(dst, []byte(c.Heredoc), 0o644, 0, 0); err != nil {
				return fmt.Errorf("%s postinst line %d: %w", p.Name, c.Line, err)
			}
			r.Report.Notef("%s: wrote %s from its postinst", p.Name, dst)
		}
	}
	return nil
}

var nssLine = regexp.MustCompile(`^(passwd|group|shadow|gshadow):\s`)

// AddNSSModule appends module to the passwd, group, shadow and gshadow
// lines of nsswitch.conf (before a comment), as dh_installnss's snippet
// does, unless one of them already names it.
func AddNSSModule(b []byte, module string) []byte {
	lines := strings.Split(string(b), "\n")
	for _, l := range lines {
		if m := nssLine.FindString(l); m != "" {
			body, _, _ := strings.Cut(l, "#")
			for _, w := range strings.Fields(body)[1:] {
				if w == module {
					return b
				}
			}
		}
	}
	for i, l := range lines {
		if nssLine.MatchString(l) {
			if k := strings.IndexByte(l, '#'); k >= 0 {
				lines[i] = l[:k] + " " + module + " " + l[k:]
			} else {
				lines[i] = l + " " + module
			}
		}
	}
	return []byte(strings.Join(lines, "\n"))
}

// updateShells is debianutils' update-shells on a fresh system: the
// template /etc/shells plus every shell in shells.d, each also under its
// real path when a directory on the way is a symlink.
func updateShells(r *sysroot.Root) error {
	tpl := "usr/share/debianutils/shells"
	if !r.Exists(tpl) {
		return nil
	}
	src, err := r.ReadFile(tpl)
	if err != nil {
		return err
	}
	files := []string{tpl}
	files = append(files, r.Glob("usr/share/debianutils/shells.d", "*")...)
	var pkgShells []string
	in := map[string]bool{}
	for _, f := range files {
		b, err := r.ReadFile(f)
		if err != nil {
			return err
		}
		for _, line := range strings.Split(string(b), "\n") {
			line, _, _ = strings.Cut(line, "#")
			if line == "" {
				continue
			}
			add := func(s string) {
				if !in[s] {
					pkgShells = append(pkgShells, s)
					in[s] = true
				}
			}
			add(line)
			if dir, err := r.Tree.Resolve(strings.TrimPrefix(path.Dir(line), "/") + "/x"); err == nil {
				add("/" + path.Join(path.Dir(dir), path.Base(line)))
			}
		}
	}
	var etc bytes.Buffer
	etcShells := map[string]bool{}
	for _, line := range strings.Split(strings.TrimSuffix(string(src), "\n"), "\n") {
		shell, _, _ := strings.Cut(line, "#")
		if shell == "" || !etcShells[shell] {
			etc.WriteString(line + "\n")
			etcShells[shell] = true
		}
	}
	var state bytes.Buffer
	for _, s := range pkgShells {
		state.WriteString(s + "\n")
		if !etcShells[s] {
			etc.WriteString(s + "\n")
		}
	}
	if err := r.WriteFile("etc/shells", etc.Bytes(), 0o644, 0, 0); err != nil {
		return err
	}
	return r.WriteFile("var/lib/shells.state", state.Bytes(), 0o644, 0, 0)
}

// installTmpfiles applies, for /etc and /root, the tmpfiles.d files that
// postinsts pass to "systemd-tmpfiles --create".
func installTmpfiles(r *sysroot.Root) error {
	db, err := loadAccounts(r)
	if err != nil {
		return err
	}
	for _, p := range r.Packages {
		for _, c := range script.Calls(r.Commands(p, "postinst"), "systemd-tmpfiles") {
			for _, a := range c.Args {
				if !strings.HasSuffix(a, ".conf") || strings.Contains(a, "$") {
					continue
				}
				var src string
				for _, d := range []string{"etc/tmpfiles.d", "usr/lib/tmpfiles.d"} {
					if r.Exists(d + "/" + path.Base(a)) {
						src = d + "/" + path.Base(a)
						break
					}
				}
				if src == "" {
					r.Report.Warnf(p.Name, "tmpfiles.d file %s not found", a)
					continue
				}
				b, err := r.ReadFile(src)
				if err != nil {
					return err
				}
				lines, err := tmpfiles.Parse(src, b)
				if err != nil {
					return err
				}
				if err := tmpfiles.Apply(r, lines, db.ids); err != nil {
					return err
				}
			}
		}
	}
	return nil
}

type idDB struct{ d *accounts.DB }

func loadAccounts(r *sysroot.Root) (idDB, error) {
	d := &accounts.DB{}
	for _, f := range []struct {
		kind, p string
		dst     *[][]string
	}{{"passwd", "etc/passwd", &d.Passwd}, {"group", "etc/group", &d.Group}} {
		b, err := r.ReadFile(f.p)
		if err != nil {
			return idDB{}, err
		}
		if *f.dst, err = accounts.ParseTable(f.kind, b); err != nil {
			return idDB{}, fmt.Errorf("%s: %w", f.p, err)
		}
	}
	return idDB{d}, nil
}

// ids resolves a user and group name or number ("-" is root).
func (db idDB) ids(user, group string) (uint32, uint32, error) {
	var uid, gid uint32
	if user != "-" && user != "" {
		if v, err := strconv.ParseUint(user, 10, 32); err == nil {
			uid = uint32(v)
		} else if row := db.d.User(user); row != nil {
			v, _ := strconv.ParseUint(row[2], 10, 32)
			uid = uint32(v)
		} else {
			return 0, 0, fmt.Errorf("no user %s", user)
		}
	}
	if group != "-" && group != "" {
		if v, err := strconv.ParseUint(group, 10, 32); err == nil {
			gid = uint32(v)
		} else if g, ok := db.d.GID(group); ok {
			gid = g
		} else {
			return 0, 0, fmt.Errorf("no group %s", group)
		}
	}
	return uid, gid, nil
}

// statOverrides applies "dpkg-statoverride --add" and the literal
// chown/chgrp/chmod calls of postinsts, and records the overrides in
// var/lib/dpkg/statoverride as dpkg does.
func statOverrides(r *sysroot.Root) error {
	db, err := loadAccounts(r)
	if err != nil {
		return err
	}
	var table bytes.Buffer
	for _, p := range r.Packages {
		cmds := r.Commands(p, "postinst")
		for _, c := range cmds {
			prog := path.Base(c.Args[0])
			args := c.Args[1:]
			var files []string
			var owner, group, mode string
			switch prog {
			case "dpkg-statoverride":
				if !contains(args, "--add") {
					continue
				}
				var pos []string
				for _, a := range args {
					if !strings.HasPrefix(a, "-") {
						pos = append(pos, a)
					}
				}
				if len(pos) != 4 {
					r.Report.Warnf(p.Name, "postinst line %d: dpkg-statoverride %s not understood", c.Line, strings.Join(args, " "))
					continue
				}
				owner, group, mode, files = pos[0], pos[1], pos[2], pos[3:]
				if strings.Contains(strings.Join(pos, " "), "$") {
					r.Report.Warnf(p.Name, "postinst line %d: dpkg-statoverride with run-time variables not applied", c.Line)
					continue
				}
				fmt.Fprintf(&table, "%s %s %s %s\n", owner, group, mode, files[0])
			case "chown", "chgrp", "chmod":
				if setcapElse(c.Conds) && haveSetcap(r) {
					continue // the fallback for a missing setcap, which is there
				}
				pos := nonFlags(args)
				if len(pos) != 2 || strings.Contains(strings.Join(pos, " "), "$") || !r.Exists(pos[1]) {
					continue // helper functions and conditional paths
				}
				files = pos[1:]
				switch prog {
				case "chown":
					owner, group, _ = strings.Cut(pos[0], ":")
				case "chgrp":
					group = pos[0]
				case "chmod":
					mode = pos[0]
				}
			default:
				continue
			}
			for _, f := range files {
				_, e, err := r.Lookup(f)
				if err != nil || e == nil {
					r.Report.Warnf(p.Name, "postinst line %d: %s %s: no such file", c.Line, prog, f)
					continue
				}
				if owner != "" || group != "" {
					u, g, err := db.ids(orDash(owner), orDash(group))
					if err != nil {
						r.Report.Warnf(p.Name, "postinst line %d: %s: %v", c.Line, prog, err)
						continue
					}
					if owner != "" {
						e.UID = u
					}
					if group != "" {
						e.GID = g
					}
				}
				if mode != "" {
					if m, ok := chmodMode(mode, e.Mode, e.Kind == fstree.Dir); ok {
						e.Mode = m
					} else {
						r.Report.Warnf(p.Name, "postinst line %d: mode %q not understood", c.Line, mode)
					}
				}
			}
		}
	}
	if table.Len() == 0 {
		return nil // dpkg makes the file on first use
	}
	return r.WriteFile("var/lib/dpkg/statoverride", table.Bytes(), 0o644, 0, 0)
}

func orDash(s string) string {
	if s == "" {
		return "-"
	}
	return s
}

func nonFlags(a []string) []string {
	var out []string
	for _, s := range a {
		if !strings.HasPrefix(s, "-") {
			out = append(out, s)
		}
	}
	return out
}

func contains(a []string, s string) bool {
	for _, x := range a {
		if x == s {
			return true
		}
	}
	return false
}

// notDerived names script commands whose effects configure does not
// reproduce, and why; each call found is reported as a warning.
var notDerived = map[string]string{
	"ucf":                    "its source file is named at run time",
	"bootctl":                "the ESP is written by the disk stage",
	"grub-install":           "the bootloader is installed by the disk stage",
	"run_grub_install":       "the bootloader is installed by the disk stage",
	"update-initramfs":       "the initramfs is built by pkg/initramfs",
	"ssh-keygen":             "host keys are made at first boot by sshd-keygen.service",
	"systemd-hwdb":           "hwdb.bin is built at first boot by systemd-hwdb-update.service",
	"journalctl":             "the catalog is built at first boot",
	"make-ssl-cert":          "snakeoil certificates are not made",
	"debconf-set-selections": "debconf is not run; every question takes its default",
}

// reportNotDerived warns, per package, about postinst and preinst calls
// listed in notDerived.
func reportNotDerived(r *sysroot.Root) {
	for _, p := range r.Packages {
		for _, member := range []string{"preinst", "postinst"} {
			seen := map[string]bool{}
			for _, c := range r.Commands(p, member) {
				prog := path.Base(c.Args[0])
				why, ok := notDerived[prog]
				if !ok || seen[prog] {
					continue
				}
				if prog == "ucf" && p.Name == "openssh-server" {
					continue
				}
				if _, _, ok := ucfLiteral(c.Args); ok {
					continue // installed by ucfInstall
				}
				seen[prog] = true
				r.Report.Warnf(p.Name, "%s line %d runs %s: not derived (%s)", member, c.Line, prog, why)
			}
		}
	}
}
