// Package diversions keeps dpkg's diversions database
// (/var/lib/dpkg/diversions): the dpkg-divert calls of the preinsts a
// fresh installation runs, Debian 13's usr-is-merged protective
// diversions among them, written in the order dpkg itself writes them.
package diversions

import (
	"bytes"
	"fmt"
	"path"
	"regexp"
	"sort"
	"strings"

	"github.com/debatom/debatom/pkg/configure/sysroot"
)

// DB is the diversions database path below the root.
const DB = "var/lib/dpkg/diversions"

// Diversion is one entry: From is diverted to To on behalf of Package
// (":" for a local diversion, made by the administrator).
type Diversion struct {
	From, To, Package string
}

// Parse reads a diversions database: three lines per entry, from, to and
// package.
func Parse(name string, b []byte) ([]Diversion, error) {
	if len(b) == 0 {
		return nil, nil
	}
	if b[len(b)-1] != '\n' {
		return nil, fmt.Errorf("%s: last line not terminated", name)
	}
	lines := strings.Split(string(b[:len(b)-1]), "\n")
	if len(lines)%3 != 0 {
		return nil, fmt.Errorf("%s: %d lines, not a multiple of 3 (from, to, package)", name, len(lines))
	}
	var out []Diversion
	for i := 0; i < len(lines); i += 3 {
		d := Diversion{From: lines[i], To: lines[i+1], Package: lines[i+2]}
		if err := d.check(); err != nil {
			return nil, fmt.Errorf("%s:%d: %w", name, i+1, err)
		}
		out = append(out, d)
	}
	return out, nil
}

func (d Diversion) check() error {
	for _, p := range []string{d.From, d.To} {
		if !strings.HasPrefix(p, "/") || len(p) < 2 {
			return fmt.Errorf("diverted path %q is not absolute", p)
		}
	}
	if d.From == d.To {
		return fmt.Errorf("%s diverted to itself", d.From)
	}
	if d.Package == "" || strings.ContainsAny(d.Package, " \t") {
		return fmt.Errorf("bad package name %q for %s", d.Package, d.From)
	}
	return nil
}

// dpkg's filesystem node hash table: FNV-1a over the path without its
// leading slash, in this many bins. dpkg-divert writes the database by
// walking the table, so this is the file's order (within a bin, the order
// the nodes were made in).
const hashBins = 262139

func bin(p string) uint32 {
	h := uint32(2166136261)
	for _, c := range []byte(strings.TrimLeft(p, "/")) {
		h ^= uint32(c)
		h *= 16777619
	}
	return h % hashBins
}

// Format writes ds as dpkg-divert would: in hash table order.
func Format(ds []Diversion) []byte {
	s := append([]Diversion(nil), ds...)
	sort.SliceStable(s, func(i, j int) bool { return bin(s[i].From) < bin(s[j].From) })
	var b bytes.Buffer
	for _, d := range s {
		fmt.Fprintf(&b, "%s\n%s\n%s\n", d.From, d.To, d.Package)
	}
	return b.Bytes()
}

// Configure applies the dpkg-divert --add and --remove calls of the
// preinsts in r.Packages order (an unpack order) and writes DB, keeping
// the diversions already in it. Calls under a condition a fresh
// installation does not meet (an upgrade, a test of another command's
// output) are skipped.
func Configure(r *sysroot.Root) error {
	var ds []Diversion
	if r.Exists(DB) {
		b, err := r.ReadFile(DB)
		if err != nil {
			return err
		}
		if ds, err = Parse(DB, b); err != nil {
			return err
		}
	}
	for _, p := range r.Packages {
		src := p.Scripts["preinst"]
		if src == nil {
			continue
		}
		for _, c := range r.Commands(p, "preinst") {
			if len(c.Args) == 0 || path.Base(c.Args[0]) != "dpkg-divert" || !freshInstall(c.Conds) {
				continue
			}
			for _, args := range expandLoops(src, c.Line, c.Args[1:]) {
				op, d, err := parseCall(args, p.Name)
				if err != nil {
					r.Report.Warnf(p.Name, "preinst line %d: %v", c.Line, err)
					continue
				}
				ds = apply(ds, op, d, func(format string, a ...any) {
					r.Report.Warnf(p.Name, "preinst line %d: "+format, append([]any{c.Line}, a...)...)
				})
			}
		}
	}
	if err := r.WriteFile(DB, Format(ds), 0o644, 0, 0); err != nil {
		return fmt.Errorf("write %s: %w", DB, err)
	}
	r.Report.Notef("dpkg diversions: %d", len(ds))
	return nil
}

func apply(ds []Diversion, op string, d Diversion, warn func(string, ...any)) []Diversion {
	for i, o := range ds {
		if o.From != d.From && o.To != d.From {
			continue
		}
		if op == "remove" {
			return append(ds[:i:i], ds[i+1:]...)
		}
		if o != d {
			warn("%s is diverted already (to %s by %s)", d.From, o.To, o.Package)
		}
		return ds
	}
	if op == "add" {
		ds = append(ds, d)
	}
	return ds
}

// parseCall reads dpkg-divert's arguments: the operation ("add",
// "remove"; "" for a query), and the diversion. pkg is the package whose
// script runs it, dpkg-divert's default --package.
func parseCall(args []string, pkg string) (string, Diversion, error) {
	op := "add"
	d := Diversion{Package: pkg}
	var files []string
	for i := 0; i < len(args); i++ {
		a, v, hasV := strings.Cut(args[i], "=")
		value := func() string {
			if hasV {
				return v
			}
			if i+1 < len(args) {
				i++
				return args[i]
			}
			return ""
		}
		switch a {
		case "--add":
			op = "add"
		case "--remove":
			op = "remove"
		case "--list", "--listpackage", "--truename":
			return "", d, fmt.Errorf("dpkg-divert %s is a query", a)
		case "--package":
			d.Package = value()
		case "--local":
			d.Package = ":"
		case "--divert":
			d.To = value()
		case "--admindir", "--instdir", "--root":
			value()
		case "--quiet", "--rename", "--no-rename", "--test":
		default:
			if strings.HasPrefix(a, "-") {
				return "", d, fmt.Errorf("dpkg-divert option %s not understood", a)
			}
			files = append(files, args[i])
		}
	}
	if len(files) != 1 {
		return "", d, fmt.Errorf("dpkg-divert %s: want one file", strings.Join(args, " "))
	}
	d.From = files[0]
	if d.To == "" {
		d.To = d.From + ".distrib"
	}
	if strings.Contains(d.From+d.To+d.Package, "$") {
		return "", d, fmt.Errorf("dpkg-divert %s: a name is only known at run time", strings.Join(args, " "))
	}
	if err := d.check(); err != nil {
		return "", d, err
	}
	return op, d, nil
}

// freshInstall reports whether the conditions around a preinst command
// hold when the package is installed for the first time ("$1" is
// "install", there is no old version "$2"). Conditions on other commands'
// output are taken as false: the protective diversions the preinsts add
// unconditionally are what a fresh installation has.
func freshInstall(conds []string) bool {
	for _, c := range conds {
		if strings.Contains(c, "$2") || strings.Contains(c, "$(") || strings.Contains(c, "`") {
			return false
		}
		if strings.Contains(c, "$1") && !strings.Contains(c, "install") {
			return false
		}
	}
	return true
}

var forRE = regexp.MustCompile(`^\s*for\s+([A-Za-z_][A-Za-z0-9_]*)\s+in\s+([^;]*?)\s*(;\s*do\s*)?$`)

// maxExpansions bounds the argument lists a call's loops expand to.
const maxExpansions = 1024

// expandLoops replaces "$VAR" and "${VAR}" in args by each word of the
// nearest "for VAR in WORDS" above line (1-based) in src, as the loop
// would run them. The parser leaves loop variables unexpanded.
func expandLoops(src []byte, line int, args []string) [][]string {
	out := [][]string{args}
	lines := strings.Split(string(src), "\n")
	if line > len(lines) {
		line = len(lines)
	}
	done := map[string]bool{}
	for i := line - 1; i >= 0; i-- {
		m := forRE.FindStringSubmatch(lines[i])
		if m == nil || done[m[1]] {
			continue
		}
		name := m[1]
		done[name] = true
		words := strings.Fields(m[2])
		refs := []string{"${" + name + "}", "$" + name}
		var next [][]string
		for _, a := range out {
			if !uses(a, refs) {
				next = append(next, a)
				continue
			}
			for _, w := range words {
				if strings.ContainsAny(w, "$*?[`\"'") || len(next) >= maxExpansions {
					continue
				}
				b := make([]string, len(a))
				for k, s := range a {
					b[k] = replaceVar(s, name, w)
				}
				next = append(next, b)
			}
		}
		out = next
	}
	return out
}

func uses(args []string, refs []string) bool {
	for _, a := range args {
		for _, r := range refs {
			if strings.Contains(a, r) {
				return true
			}
		}
	}
	return false
}

// replaceVar substitutes a variable, not a longer name that starts with it.
func replaceVar(s, name, val string) string {
	s = strings.ReplaceAll(s, "${"+name+"}", val)
	var b strings.Builder
	for {
		k := strings.Index(s, "$"+name)
		if k < 0 {
			b.WriteString(s)
			return b.String()
		}
		end := k + 1 + len(name)
		if end < len(s) && (s[end] == '_' || s[end] >= 'a' && s[end] <= 'z' || s[end] >= 'A' && s[end] <= 'Z' || s[end] >= '0' && s[end] <= '9') {
			b.WriteString(s[:end])
			s = s[end:]
			continue
		}
		b.WriteString(s[:k] + val)
		s = s[end:]
	}
}
