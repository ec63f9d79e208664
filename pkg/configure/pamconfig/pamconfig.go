// Package pamconfig writes /etc/pam.d/common-* the way pam-auth-update
// (libpam-runtime) does on a fresh installation: every profile in
// /usr/share/pam-configs marked "Default: yes", ordered by priority, spliced
// into the templates in /usr/share/pam. Its output is byte-identical to
// the Perl tool's, because login depends on these files and because
// pam-auth-update later recognises its own output by checksum.
package pamconfig

import (
	"bytes"
	"fmt"
	"regexp"
	"sort"
	"strconv"
	"strings"

	"github.com/debatom/debatom/pkg/configure/sysroot"
)

// Profile is one /usr/share/pam-configs file: field name → value, with
// multi-line values joined by "\n", leading blanks removed.
type Profile struct {
	Name     string
	Fields   map[string]string
	Priority int
}

var (
	fieldRE      = regexp.MustCompile(`^(\S+):\s+(.*)$`)
	emptyFieldRE = regexp.MustCompile(`^(\S+):$`)
)

// ParseProfile reads a profile the way pam-auth-update's parse_pam_profile
// does. A profile naming the obsolete pam_tally is reported as disabled.
func ParseProfile(name string, b []byte) (*Profile, bool, error) {
	p := &Profile{Name: name, Fields: map[string]string{}}
	field := ""
	disabled := false
	for _, line := range strings.SplitAfter(string(b), "\n") {
		if line == "" {
			continue
		}
		// Perl's "\s+" after the colon may match the line's own newline,
		// so "Auth:" alone on a line starts an empty field.
		l := strings.TrimSuffix(line, "\n")
		if m := fieldRE.FindStringSubmatch(l); m != nil {
			field = strings.TrimSuffix(m[1], "-Final")
			p.Fields[field] = m[2]
			continue
		}
		if m := emptyFieldRE.FindStringSubmatch(l); m != nil && strings.HasSuffix(line, "\n") {
			field = strings.TrimSuffix(m[1], "-Final")
			p.Fields[field] = ""
			continue
		}
		if field == "" {
			return nil, false, fmt.Errorf("pam profile %s: text before the first field: %.40q", name, line)
		}
		if l = strings.TrimSpace(l); l != "" {
			p.Fields[field] += "\n" + l
		}
		if strings.Contains(p.Fields[field], "pam_tally") {
			disabled = true
		}
		p.Fields[field] = strings.TrimLeft(p.Fields[field], "\n\t\r\f\v ")
	}
	if p.Fields["Session-Interactive-Only"] != "yes" {
		for _, s := range []string{"", "-Type", "-Initial"} {
			if v, ok := p.Fields["Session"+s]; ok {
				p.Fields["Session-noninteractive"+s] = v
			}
		}
	}
	prio := strings.TrimSpace(p.Fields["Priority"])
	if prio != "" {
		// Perl's <=> takes the leading number.
		n := 0
		for n < len(prio) && (prio[n] >= '0' && prio[n] <= '9' || n == 0 && prio[n] == '-') {
			n++
		}
		p.Priority, _ = strconv.Atoi(prio[:n])
	}
	return p, !disabled, nil
}

// Types are the common-* files, in the order pam-auth-update writes them.
var Types = []string{"auth", "account", "password", "session", "session-noninteractive"}

// sortProfiles orders names by priority, highest first, then by name
// in reverse byte order, as pam-auth-update does.
func sortProfiles(ps []*Profile) {
	sort.SliceStable(ps, func(i, j int) bool {
		if ps[i].Priority != ps[j].Priority {
			return ps[i].Priority > ps[j].Priority
		}
		return ps[i].Name > ps[j].Name
	})
}

func linesFor(p *Profile, uctype string, pos int) string {
	if pos == 0 {
		if v := p.Fields[uctype+"-Initial"]; v != "" {
			return v
		}
	}
	return p.Fields[uctype]
}

var modRE = regexp.MustCompile(`^((\[[^]]+\]|\w+)\s+\S+)\s*(.*)`)

// mergeLine is pam-auth-update's merge_one_line without local changes to
// merge: "end" in the control becomes the count of lines still to come.
func mergeLine(line string, count int) string {
	m := modRE.FindStringSubmatch(line)
	if m == nil {
		return " \n"
	}
	mod := strings.ReplaceAll(m[1], "end", strconv.Itoa(count))
	opts := strings.Fields(m[3])
	return mod + " " + strings.Join(opts, " ") + "\n"
}

const (
	markPrimary    = `# here are the per-package modules (the "Primary" block)`
	markFallback   = `# here's the fallback if no module succeeds`
	markAdditional = `# and here are more per-package modules (the "Additional" block)`
	markEnd        = `# end of pam-auth-update config`
)

// Render produces one common-TYPE file from its template and the enabled
// profiles (already sorted).
func Render(template []byte, typ string, enabled []*Profile) ([]byte, error) {
	uctype := strings.ToUpper(typ[:1]) + typ[1:]
	word := strings.TrimSuffix(typ, "-noninteractive")
	var out bytes.Buffer
	state := 0
	for _, line := range strings.SplitAfter(string(template), "\n") {
		if line == "" {
			continue
		}
		if state == 1 || state == 3 {
			mark := markFallback
			if state == 3 {
				mark = markEnd
			}
			if strings.HasPrefix(line, mark) {
				out.WriteString(line)
				state++
			}
			continue
		}
		out.WriteString(line)
		var val, mark string
		switch state {
		case 0:
			val, mark = "Primary", markPrimary
		case 2:
			val, mark = "Additional", markAdditional
		default:
			continue
		}
		if !strings.HasPrefix(line, mark) {
			continue
		}
		count, i := 0, 0
		var mods []*Profile
		for _, p := range enabled {
			if p.Fields[uctype+"-Type"] != val {
				continue
			}
			mods = append(mods, p)
			count += len(nonEmptyLines(linesFor(p, uctype, i)))
			i++
		}
		if val == "Additional" {
			count--
		}
		if val == "Primary" && count == 0 {
			out.WriteString(word + "\t[default=1]\t\t\tpam_permit.so\n")
		}
		for i, p := range mods {
			for _, l := range strings.Split(linesFor(p, uctype, i), "\n") {
				out.WriteString(word + "\t" + mergeLine(l, count))
				count--
			}
		}
		state++
	}
	if state < 4 {
		return nil, fmt.Errorf("pam template for common-%s lacks pam-auth-update's markers", typ)
	}
	return out.Bytes(), nil
}

// perl's split("\n+", ...) drops empty fields.
func nonEmptyLines(s string) []string {
	var out []string
	for _, l := range strings.Split(s, "\n") {
		if l != "" {
			out = append(out, l)
		}
	}
	return out
}

// State renders /var/lib/pam/TYPE, pam-auth-update's record of what it
// wrote, which it reads back to detect local changes.
func State(typ string, enabled []*Profile) []byte {
	uctype := strings.ToUpper(typ[:1]) + typ[1:]
	var out bytes.Buffer
	for _, val := range []string{"Primary", "Additional"} {
		i := 0
		for _, p := range enabled {
			t := p.Fields[uctype+"-Type"]
			if t == "" || t != val {
				continue
			}
			v := linesFor(p, uctype, i)
			i++
			if v != "" {
				fmt.Fprintf(&out, "Module: %s\n%s\n", p.Name, v)
			}
		}
		if val == "Primary" && i == 0 {
			out.WriteString("Module: null\n[default=1]\t\t\tpam_permit.so\n")
		}
	}
	return out.Bytes()
}

// Configure writes etc/pam.d/common-* and var/lib/pam/* into r.
func Configure(r *sysroot.Root) error {
	var all []*Profile
	for _, f := range r.Glob("usr/share/pam-configs", "*") {
		name := f[strings.LastIndexByte(f, '/')+1:]
		if strings.HasSuffix(name, "~") || strings.HasPrefix(name, "#") && strings.HasSuffix(name, "#") {
			continue
		}
		b, err := r.ReadFile(f)
		if err != nil {
			return err
		}
		p, ok, err := ParseProfile(name, b)
		if err != nil {
			return err
		}
		if ok {
			all = append(all, p)
		}
	}
	if len(all) == 0 {
		r.Report.Warnf("libpam-runtime", "no profiles in usr/share/pam-configs: common-* not written")
		return nil
	}
	sortProfiles(all)
	var enabled []*Profile
	var seen bytes.Buffer
	for _, p := range all {
		seen.WriteString(p.Name + "\n")
		if p.Fields["Default"] == "yes" {
			enabled = append(enabled, p)
		}
	}
	for _, typ := range Types {
		tpl, err := r.ReadFile("usr/share/pam/common-" + typ)
		if err != nil {
			return fmt.Errorf("pam-auth-update template: %w", err)
		}
		b, err := Render(tpl, typ, enabled)
		if err != nil {
			return err
		}
		if err := r.WriteFile("etc/pam.d/common-"+typ, b, 0o644, 0, 0); err != nil {
			return err
		}
		if err := r.WriteFile("var/lib/pam/"+typ, State(typ, enabled), 0o644, 0, 0); err != nil {
			return err
		}
	}
	if err := r.WriteFile("var/lib/pam/seen", seen.Bytes(), 0o644, 0, 0); err != nil {
		return err
	}
	names := make([]string, len(enabled))
	for i, p := range enabled {
		names[i] = p.Name
	}
	r.Report.Notef("pam-auth-update: enabled %s", strings.Join(names, ", "))
	return nil
}
