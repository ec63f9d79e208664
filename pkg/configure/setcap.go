package configure

import (
	"encoding/binary"
	"fmt"
	"path"
	"strings"

	"github.com/debatom/debatom/pkg/configure/sysroot"
	"github.com/debatom/debatom/pkg/fstree"
)

// capNames are the Linux capability numbers, by the names setcap takes
// (without "cap_"), from linux/capability.h.
var capNames = map[string]uint{
	"chown": 0, "dac_override": 1, "dac_read_search": 2, "fowner": 3, "fsetid": 4,
	"kill": 5, "setgid": 6, "setuid": 7, "setpcap": 8, "linux_immutable": 9,
	"net_bind_service": 10, "net_broadcast": 11, "net_admin": 12, "net_raw": 13,
	"ipc_lock": 14, "ipc_owner": 15, "sys_module": 16, "sys_rawio": 17,
	"sys_chroot": 18, "sys_ptrace": 19, "sys_pacct": 20, "sys_admin": 21,
	"sys_boot": 22, "sys_nice": 23, "sys_resource": 24, "sys_time": 25,
	"sys_tty_config": 26, "mknod": 27, "lease": 28, "audit_write": 29,
	"audit_control": 30, "setfcap": 31, "mac_override": 32, "mac_admin": 33,
	"syslog": 34, "wake_alarm": 35, "block_suspend": 36, "audit_read": 37,
	"perfmon": 38, "bpf": 39, "checkpoint_restore": 40,
}

// fileCaps is the security.capability value (struct vfs_cap_data,
// revision 2) for a setcap text such as "cap_net_raw,cap_net_admin+ep".
func fileCaps(text string) ([]byte, error) {
	const allCaps = 1<<41 - 1
	// The file keeps one effective bit, set when any capability is
	// effective (libcap's rule).
	var permitted, inheritable, effective uint64
	for _, clause := range strings.Fields(text) {
		k := strings.IndexAny(clause, "+-=")
		if k < 0 {
			return nil, fmt.Errorf("capability %q: no operator", clause)
		}
		var set uint64
		if k == 0 || clause[:k] == "all" {
			set = allCaps
		} else {
			for _, n := range strings.Split(clause[:k], ",") {
				bit, ok := capNames[strings.TrimPrefix(strings.ToLower(n), "cap_")]
				if !ok {
					return nil, fmt.Errorf("unknown capability %q", n)
				}
				set |= 1 << bit
			}
		}
		// Operators and flags alternate: "cap_x+ep-i".
		rest := clause[k:]
		for rest != "" {
			op := rest[0]
			end := strings.IndexAny(rest[1:], "+-=")
			flags := rest[1:]
			if end >= 0 {
				flags, rest = rest[1:1+end], rest[1+end:]
			} else {
				rest = ""
			}
			if op == '=' {
				permitted &^= set
				inheritable &^= set
				effective &^= set
			}
			for _, f := range flags {
				switch {
				case f == 'p' && op != '-':
					permitted |= set
				case f == 'p':
					permitted &^= set
				case f == 'i' && op != '-':
					inheritable |= set
				case f == 'i':
					inheritable &^= set
				case f == 'e' && op != '-':
					effective |= set
				case f == 'e':
					effective &^= set
				default:
					return nil, fmt.Errorf("capability %q: flag %q not understood", clause, f)
				}
			}
		}
	}
	b := make([]byte, 20)
	magic := uint32(0x02000000) // VFS_CAP_REVISION_2
	if effective != 0 {
		magic |= 1 // VFS_CAP_FLAGS_EFFECTIVE
	}
	binary.LittleEndian.PutUint32(b[0:], magic)
	binary.LittleEndian.PutUint32(b[4:], uint32(permitted))
	binary.LittleEndian.PutUint32(b[8:], uint32(inheritable))
	binary.LittleEndian.PutUint32(b[12:], uint32(permitted>>32))
	binary.LittleEndian.PutUint32(b[16:], uint32(inheritable>>32))
	return b, nil
}

// haveSetcap reports whether the set ships setcap, which postinsts test
// with "command -v setcap" before using it.
func haveSetcap(r *sysroot.Root) bool {
	return r.Exists("usr/sbin/setcap") || r.Exists("sbin/setcap")
}

// debconfAnswer reports whether a condition reads a debconf answer. Every
// question takes its default, which for capabilities (iproute2/setcaps)
// is no.
func debconfAnswer(conds []string) bool {
	for _, c := range conds {
		if strings.Contains(c, "$RET") {
			return true
		}
	}
	return false
}

// setcapElse reports whether a command sits in the branch a postinst takes
// when setcap is missing or failed (libgstreamer's "chmod u+s" fallback).
func setcapElse(conds []string) bool {
	for _, c := range conds {
		if strings.HasPrefix(c, "!") && strings.Contains(c, "setcap") {
			return true
		}
	}
	return false
}

// setFileCaps applies the literal "setcap CAPS FILE" calls of postinsts
// as the security.capability attribute setcap writes, when the set has
// setcap at all.
func setFileCaps(r *sysroot.Root) error {
	if !haveSetcap(r) {
		return nil
	}
	n := 0
	for _, p := range r.Packages {
		if p.Scripts["postinst"] == nil {
			continue
		}
		for _, c := range r.Commands(p, "postinst") {
			if path.Base(c.Args[0]) != "setcap" || debconfAnswer(c.Conds) {
				continue
			}
			args := c.Args[1:]
			if len(args) != 2 || strings.HasPrefix(args[0], "-") || strings.Contains(args[0]+args[1], "$") {
				if len(args) > 0 && args[0] != "-r" {
					r.Report.Warnf(p.Name, "postinst line %d: setcap %s not applied", c.Line, strings.Join(args, " "))
				}
				continue
			}
			caps, err := fileCaps(args[0])
			if err != nil {
				r.Report.Warnf(p.Name, "postinst line %d: setcap: %v", c.Line, err)
				continue
			}
			_, e, err := r.Lookup(args[1])
			if err != nil || e == nil || e.Kind != fstree.File {
				continue // a file of another architecture or flavour
			}
			e.Xattrs = setXattr(e.Xattrs, "security.capability", caps)
			n++
		}
	}
	if n > 0 {
		r.Report.Notef("setcap: %d files", n)
	}
	return nil
}

// setXattr returns xs with name set to value, kept sorted by name.
func setXattr(xs []fstree.Xattr, name string, value []byte) []fstree.Xattr {
	out := make([]fstree.Xattr, 0, len(xs)+1)
	done := false
	for _, x := range xs {
		switch {
		case x.Name == name:
			continue
		case !done && x.Name > name:
			out = append(out, fstree.Xattr{Name: name, Value: value})
			done = true
		}
		out = append(out, x)
	}
	if !done {
		out = append(out, fstree.Xattr{Name: name, Value: value})
	}
	return out
}

// chmodMode applies a chmod mode, octal or symbolic ("u+s", "go-w,a+X"),
// to the permission bits cur of a file (dir: of a directory).
func chmodMode(mode string, cur uint32, dir bool) (uint32, bool) {
	if mode == "" {
		return 0, false
	}
	if mode[0] >= '0' && mode[0] <= '7' {
		var m uint32
		for _, c := range mode {
			if c < '0' || c > '7' || m > 0o7777 {
				return 0, false
			}
			m = m<<3 | uint32(c-'0')
		}
		return m, m <= 0o7777
	}
	for _, clause := range strings.Split(mode, ",") {
		who := uint32(0)
		i := 0
		for ; i < len(clause) && strings.IndexByte("ugoa", clause[i]) >= 0; i++ {
			who |= map[byte]uint32{'u': 0o4700, 'g': 0o2070, 'o': 0o1007, 'a': 0o7777}[clause[i]]
		}
		if who == 0 {
			who = 0o7777 &^ 0o022 // no who: as if under umask 022
		}
		if i == len(clause) {
			return 0, false
		}
		for i < len(clause) {
			op := clause[i]
			if op != '+' && op != '-' && op != '=' {
				return 0, false
			}
			i++
			var bits uint32
			for ; i < len(clause) && strings.IndexByte("rwxXst", clause[i]) >= 0; i++ {
				switch clause[i] {
				case 'r':
					bits |= 0o444
				case 'w':
					bits |= 0o222
				case 'x':
					bits |= 0o111
				case 'X':
					if dir || cur&0o111 != 0 {
						bits |= 0o111
					}
				case 's':
					bits |= 0o6000
				case 't':
					bits |= 0o1000
				}
			}
			bits &= who
			switch op {
			case '+':
				cur |= bits
			case '-':
				cur &^= bits
			case '=':
				cur = cur&^(who&0o777|who&0o7000) | bits
			}
		}
	}
	return cur, true
}
