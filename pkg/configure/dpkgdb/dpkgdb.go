// Package dpkgdb writes the dpkg database of an installed package set:
// var/lib/dpkg/status with every package "install ok installed", the
// info/ files (file lists, md5sums, conffiles, maintainer scripts and
// other control members), the trigger interest files and the small state
// files, so that dpkg -l, dpkg -L, dpkg -S and dpkg -V work on the system.
// For the archive's 213 packages, status is byte-identical to the one dpkg
// writes in an mmdebstrap installation of them.
package dpkgdb

import (
	"bufio"
	"bytes"
	"crypto/md5"
	"encoding/hex"
	"fmt"
	"sort"
	"strings"

	"github.com/debatom/debatom/pkg/configure/sysroot"
	"github.com/debatom/debatom/pkg/deb822"
)

// fieldOrder is the order dpkg writes the fields it knows (dpkg's
// lib/dpkg/parse.c fieldinfos); other fields follow in control order.
var fieldOrder = []string{
	"Package", "Essential", "Protected", "Status", "Priority", "Section", "Installed-Size",
	"Origin", "Maintainer", "Bugs", "Architecture", "Multi-Arch", "Source", "Version",
	"Config-Version", "Replaces", "Provides", "Depends", "Pre-Depends", "Recommends",
	"Suggests", "Breaks", "Conflicts", "Enhances", "Conffiles", "Filename", "Size",
	"MD5sum", "MSDOS-Filename", "Description", "Triggers-Pending", "Triggers-Awaited",
}

// scripts are the control members dpkg keeps executable.
var scripts = map[string]bool{"preinst": true, "postinst": true, "prerm": true, "postrm": true, "config": true}

// Stanza renders p's status entry. conffileMD5 gives the md5 of a conffile
// as installed.
func Stanza(p *sysroot.Package, conffileMD5 func(path string) string) (*deb822.Paragraph, error) {
	if p.Control == nil {
		return nil, fmt.Errorf("package %s: no control data", p.Name)
	}
	known := map[string]int{}
	for i, f := range fieldOrder {
		known[strings.ToLower(f)] = i
	}
	vals := make([]*deb822.Field, len(fieldOrder))
	var extra []deb822.Field
	for i := range p.Control.Fields {
		f := p.Control.Fields[i]
		if f.Name == "" || strings.ContainsAny(f.Name, ": \n") {
			return nil, fmt.Errorf("package %s: bad control field name %q", p.Name, f.Name)
		}
		if k, ok := known[strings.ToLower(f.Name)]; ok {
			vals[k] = &deb822.Field{Name: fieldOrder[k], Value: f.Value}
			continue
		}
		extra = append(extra, f)
	}
	vals[known["status"]] = &deb822.Field{Name: "Status", Value: "install ok installed"}
	if len(p.Conffiles) > 0 {
		var b strings.Builder
		for _, c := range p.Conffiles {
			c = strings.TrimSpace(c)
			if path, ok := strings.CutPrefix(c, "remove-on-upgrade "); ok {
				// dpkg lists it, flagged, with no file to hash.
				b.WriteString("\n" + strings.TrimSpace(path) + " newconffile remove-on-upgrade")
				continue
			}
			b.WriteString("\n" + c + " " + conffileMD5(c))
		}
		vals[known["conffiles"]] = &deb822.Field{Name: "Conffiles", Value: b.String()}
	}
	out := &deb822.Paragraph{}
	for _, v := range vals {
		if v != nil {
			out.Fields = append(out.Fields, *v)
		}
	}
	out.Fields = append(out.Fields, extra...)
	return out, nil
}

// infoName is the prefix of a package's info files: name:arch for
// Multi-Arch: same packages, as dpkg names them.
func infoName(p *sysroot.Package) string {
	if p.MultiArchSame() {
		return p.Name + ":" + p.Architecture
	}
	return p.Name
}

// md5sumsMap reads a package's md5sums member: "hex  path" lines.
func md5sumsMap(b []byte) map[string]string {
	m := map[string]string{}
	s := bufio.NewScanner(bytes.NewReader(b))
	for s.Scan() {
		sum, p, ok := strings.Cut(s.Text(), "  ")
		if ok {
			m["/"+strings.TrimPrefix(p, "/")] = sum
		}
	}
	return m
}

// Configure writes the database into r.
func Configure(r *sysroot.Root) error {
	pkgs := append([]*sysroot.Package(nil), r.Packages...)
	sort.Slice(pkgs, func(i, j int) bool {
		if pkgs[i].Name != pkgs[j].Name {
			return pkgs[i].Name < pkgs[j].Name
		}
		return pkgs[i].Architecture < pkgs[j].Architecture
	})
	var status bytes.Buffer
	interests := map[string][]string{} // trigger name → "pkg[/noawait]"
	var fileTriggers []string
	native := ""
	for _, p := range pkgs {
		sums := md5sumsMap(p.MD5Sums)
		md5of := func(c string) string {
			if s := sums[c]; s != "" {
				return s
			}
			b, err := r.ReadFile(c)
			if err != nil {
				return "newconffile"
			}
			return md5hex(b)
		}
		st, err := Stanza(p, md5of)
		if err != nil {
			return err
		}
		if _, err := st.WriteTo(&status); err != nil {
			return err
		}
		status.WriteString("\n")
		if p.Name == "dpkg" {
			native = p.Architecture
		}
		base := "var/lib/dpkg/info/" + infoName(p)
		var list bytes.Buffer
		for _, f := range p.Files {
			list.WriteString(f + "\n")
		}
		if err := r.WriteFile(base+".list", list.Bytes(), 0o644, 0, 0); err != nil {
			return err
		}
		if p.MD5Sums != nil {
			if err := r.WriteFile(base+".md5sums", p.MD5Sums, 0o644, 0, 0); err != nil {
				return err
			}
		}
		if len(p.Conffiles) > 0 {
			b := strings.Join(p.Conffiles, "\n") + "\n"
			if err := r.WriteFile(base+".conffiles", []byte(b), 0o644, 0, 0); err != nil {
				return err
			}
		}
		names := make([]string, 0, len(p.Scripts))
		for n := range p.Scripts {
			names = append(names, n)
		}
		sort.Strings(names)
		for _, n := range names {
			if strings.ContainsAny(n, "/") || n == "" || n == "." || n == ".." {
				return fmt.Errorf("package %s: bad control member name %q", p.Name, n)
			}
			mode := uint32(0o644)
			if scripts[n] {
				mode = 0o755
			}
			if err := r.WriteFile(base+"."+n, p.Scripts[n], mode, 0, 0); err != nil {
				return err
			}
		}
		for _, line := range strings.Split(string(p.Scripts["triggers"]), "\n") {
			f := strings.Fields(line)
			if len(f) != 2 || !strings.HasPrefix(f[0], "interest") {
				continue
			}
			who := infoName(p) // dpkg names Multi-Arch: same packages with :arch here too
			if f[0] == "interest-noawait" {
				who += "/noawait"
			}
			if strings.HasPrefix(f[1], "/") {
				fileTriggers = append(fileTriggers, f[1]+" "+who)
			} else {
				interests[f[1]] = append(interests[f[1]], who)
			}
		}
	}
	if err := r.WriteFile("var/lib/dpkg/status", status.Bytes(), 0o644, 0, 0); err != nil {
		return err
	}
	// dpkg keeps file triggers in the order it met them, which depends on
	// the installer's unpack order; sorted is stable and equivalent.
	sort.Strings(fileTriggers)
	var ft bytes.Buffer
	for _, l := range fileTriggers {
		ft.WriteString(l + "\n")
	}
	files := map[string][]byte{
		"var/lib/dpkg/triggers/File":     ft.Bytes(),
		"var/lib/dpkg/triggers/Unincorp": nil,
		// Format 1 names Multi-Arch: same packages' info files
		// PKG:ARCH.*; without it dpkg looks for PKG.* and finds nothing.
		"var/lib/dpkg/info/format": []byte("1\n"),
	}
	for name, who := range interests {
		if strings.ContainsAny(name, "/") {
			continue
		}
		files["var/lib/dpkg/triggers/"+name] = []byte(strings.Join(who, "\n") + "\n")
	}
	if native != "" {
		files["var/lib/dpkg/arch-native"] = []byte(native + "\n")
		files["var/lib/dpkg/arch"] = []byte(native + "\n")
	}
	for _, f := range []string{"diversions"} {
		if !r.Exists("var/lib/dpkg/" + f) {
			files["var/lib/dpkg/"+f] = nil
		}
	}
	paths := make([]string, 0, len(files))
	for p := range files {
		paths = append(paths, p)
	}
	sort.Strings(paths)
	for _, p := range paths {
		if err := r.WriteFile(p, files[p], 0o644, 0, 0); err != nil {
			return err
		}
	}
	for _, f := range []string{"var/lib/dpkg/lock", "var/lib/dpkg/lock-frontend"} {
		if err := r.WriteFile(f, nil, 0o640, 0, 0); err != nil {
			return err
		}
	}
	if err := r.WriteFile("var/lib/dpkg/triggers/Lock", nil, 0o600, 0, 0); err != nil {
		return err
	}
	for _, d := range []string{"var/lib/dpkg/updates", "var/lib/dpkg/parts", "var/lib/dpkg/alternatives"} {
		if r.Tree.Get(d) == nil {
			if err := r.Mkdir(d, 0o755, 0, 0); err != nil {
				return err
			}
		}
	}
	r.Report.Notef("dpkg database: %d packages", len(pkgs))
	return nil
}

func md5hex(b []byte) string {
	h := md5.Sum(b)
	return hex.EncodeToString(h[:])
}
