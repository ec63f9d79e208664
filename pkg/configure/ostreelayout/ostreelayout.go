// Package ostreelayout turns a configured Debian tree into the layout an
// OSTree deployment boots from (see DESIGN.md, "A bootable OSTree tree"):
// the kernel under usr/lib/modules/KVER, /etc as /usr/etc, an empty /var
// recreated at boot by a tmpfiles.d file, the toplevel links into /var and
// /run, /sysroot, /efi with its fstab line, and an empty /boot.
//
// The dpkg database moves to usr/lib/sysimage/dpkg, the place rpm-ostree
// uses for rpm's database: it describes the read-only /usr it ships with,
// so it belongs to the commit, not to the mutable /var, where an upgrade
// would leave the old copy behind. A tmpfiles.d link /var/lib/dpkg → it
// keeps "dpkg -l" and "dpkg -L" working on the booted system.
package ostreelayout

import (
	"bytes"
	"fmt"
	"path"
	"sort"
	"strings"

	"github.com/debatom/debatom/pkg/configure/sysroot"
	"github.com/debatom/debatom/pkg/fstree"
)

// TmpfilesPath is the tmpfiles.d file that recreates /var.
const TmpfilesPath = "usr/lib/tmpfiles.d/debatom-var.conf"

// FactoryDir holds /var's initial files, copied in at boot ("C" lines).
const FactoryDir = "usr/share/factory"

// DpkgDatabase is where the dpkg database lives in the commit.
const DpkgDatabase = "usr/lib/sysimage/dpkg"

// Options for Apply.
type Options struct {
	// ESP is the fstab source of the EFI system partition mounted at
	// /efi; default "PARTLABEL=ESP".
	ESP string
}

// Apply transforms r's tree and returns the kernel version (for the
// commit's ostree.linux). The initramfs is another stage's: it belongs at
// usr/lib/modules/KVER/initramfs.img, and one already in /boot is moved
// there.
func Apply(r *sysroot.Root) (string, error) { return ApplyWith(r, Options{}) }

// ApplyWith is Apply with options.
func ApplyWith(r *sysroot.Root, opts Options) (string, error) {
	t := r.Tree
	if opts.ESP == "" {
		opts.ESP = "PARTLABEL=ESP"
	}
	if strings.ContainsAny(opts.ESP, " \t\n") {
		return "", fmt.Errorf("ESP fstab source %q contains blanks", opts.ESP)
	}
	kver, err := moveKernel(r)
	if err != nil {
		return "", err
	}
	// Links and files /boot held are the bootloader's business now.
	for _, l := range []string{"vmlinuz", "vmlinuz.old", "initrd.img", "initrd.img.old"} {
		if e := t.Get(l); e != nil && e.Kind == fstree.Symlink {
			t.RemoveAll(l)
		}
	}
	if e := t.Get("boot"); e != nil && e.Kind == fstree.Dir {
		for _, c := range t.Children("boot") {
			t.RemoveAll("boot/" + c)
		}
	} else if err := r.Mkdir("boot", 0o755, 0, 0); err != nil {
		return "", err
	}

	// The dpkg database joins /usr before /var is emptied.
	if e := t.Get("var/lib/dpkg"); e != nil && e.Kind == fstree.Dir {
		if err := t.Rename("var/lib/dpkg", DpkgDatabase); err != nil {
			return "", err
		}
		if err := r.Symlink("var/lib/dpkg", "../../"+DpkgDatabase); err != nil {
			return "", err
		}
	}

	// Home directories and the other toplevel directories that hold
	// state move under /var; their content goes with it.
	for _, m := range []struct{ from, to string }{
		{"home", "var/home"}, {"root", "var/roothome"}, {"opt", "var/opt"},
		{"srv", "var/srv"}, {"mnt", "var/mnt"},
	} {
		e := t.Get(m.from)
		if e != nil && e.Kind == fstree.Dir {
			meta := e.Meta
			if ex := t.Get(m.to); ex != nil {
				// var/opt already exists (base-files): merge into it.
				for _, c := range t.Children(m.from) {
					if err := t.Rename(m.from+"/"+c, m.to+"/"+c); err != nil {
						return "", err
					}
				}
				t.RemoveAll(m.from)
			} else if err := t.Rename(m.from, m.to); err != nil {
				return "", err
			}
			t.Get(m.to).Meta = meta
		} else if e == nil {
			mode := uint32(0o755)
			if m.from == "root" {
				mode = 0o700
			}
			if err := r.Mkdir(m.to, mode, 0, 0); err != nil {
				return "", err
			}
		}
		if err := r.Symlink(m.from, m.to); err != nil {
			return "", err
		}
	}
	if e := t.Get("media"); e == nil || e.Kind != fstree.Symlink {
		t.RemoveAll("media")
		if err := r.Symlink("media", "run/media"); err != nil {
			return "", err
		}
	}

	conf, err := varToTmpfiles(r)
	if err != nil {
		return "", err
	}
	if err := r.WriteFile(TmpfilesPath, conf, 0o644, 0, 0); err != nil {
		return "", err
	}

	if t.Get("etc") == nil {
		return "", fmt.Errorf("tree has no /etc")
	}
	if t.Get("usr/etc") != nil {
		return "", fmt.Errorf("tree already has /usr/etc")
	}
	if err := appendFstab(r, opts.ESP); err != nil {
		return "", err
	}
	if err := t.Rename("etc", "usr/etc"); err != nil {
		return "", err
	}

	for _, d := range []struct {
		p    string
		mode uint32
	}{{"dev", 0o755}, {"proc", 0o555}, {"sys", 0o555}, {"run", 0o755}, {"tmp", 0o1777}, {"sysroot", 0o755}, {"efi", 0o755}, {"var", 0o755}} {
		t.RemoveAll(d.p)
		if err := r.Mkdir(d.p, d.mode, 0, 0); err != nil {
			return "", err
		}
	}
	if err := r.Symlink("ostree", "sysroot/ostree"); err != nil {
		return "", err
	}
	r.Report.Notef("ostree layout: kernel %s, /etc → /usr/etc, /var from %s", kver, TmpfilesPath)
	return kver, nil
}

// moveKernel moves boot/vmlinuz-KVER (the newest, if several) and its
// companions into usr/lib/modules/KVER.
func moveKernel(r *sysroot.Root) (string, error) {
	var kvers []string
	for _, k := range r.Glob("boot", "vmlinuz-*") {
		if e := r.Tree.Get(k); e != nil && e.Kind == fstree.File {
			kvers = append(kvers, strings.TrimPrefix(path.Base(k), "vmlinuz-"))
		}
	}
	if len(kvers) == 0 {
		// A kernel may already be in place (a second run, or a package
		// that installs it there).
		for _, d := range r.Tree.Children("usr/lib/modules") {
			if r.Tree.Get("usr/lib/modules/"+d+"/vmlinuz") != nil {
				kvers = append(kvers, d)
			}
		}
		if len(kvers) == 0 {
			return "", fmt.Errorf("no kernel: neither boot/vmlinuz-* nor usr/lib/modules/*/vmlinuz")
		}
		sort.Strings(kvers)
		return kvers[len(kvers)-1], nil
	}
	sort.Strings(kvers)
	if len(kvers) > 1 {
		r.Report.Warnf("", "several kernels (%s): booting %s", strings.Join(kvers, ", "), kvers[len(kvers)-1])
	}
	kver := kvers[len(kvers)-1]
	if strings.ContainsAny(kver, "/") || kver == "." || kver == ".." {
		return "", fmt.Errorf("bad kernel version %q", kver)
	}
	mod := "usr/lib/modules/" + kver
	for _, m := range [][2]string{
		{"boot/vmlinuz-" + kver, mod + "/vmlinuz"},
		{"boot/config-" + kver, mod + "/config"},
		{"boot/System.map-" + kver, mod + "/System.map"},
		{"boot/initrd.img-" + kver, mod + "/initramfs.img"},
	} {
		if r.Tree.Get(m[0]) == nil {
			continue
		}
		if err := r.Tree.Rename(m[0], m[1]); err != nil {
			return "", err
		}
	}
	return kver, nil
}

func appendFstab(r *sysroot.Root, esp string) error {
	var b []byte
	meta := fstree.Meta{Mode: 0o644}
	if _, e, _ := r.Lookup("etc/fstab"); e != nil && e.Kind == fstree.File {
		var err error
		if b, err = r.ReadFile("etc/fstab"); err != nil {
			return err
		}
		meta = e.Meta
	}
	if len(b) > 0 && b[len(b)-1] != '\n' {
		b = append(b, '\n')
	}
	// umask=0077 keeps boot files private; nofail lets a system without
	// the partition still boot.
	b = append(append([]byte{}, b...), esp+" /efi vfat umask=0077,shortname=winnt,nofail 0 2\n"...)
	return r.WriteFile("etc/fstab", b, meta.Mode, meta.UID, meta.GID)
}

// escape writes a path the way tmpfiles.d reads it: C escapes for blanks
// and backslashes.
func escape(p string) string {
	var b strings.Builder
	for i := 0; i < len(p); i++ {
		c := p[i]
		if c <= ' ' || c == '\\' || c >= 0x7f || c == '"' || c == '\'' {
			fmt.Fprintf(&b, "\\x%02x", c)
			continue
		}
		b.WriteByte(c)
	}
	return b.String()
}

// varToTmpfiles turns everything under var into tmpfiles.d lines, moving
// regular files into usr/share/factory/var, and empties var.
func varToTmpfiles(r *sysroot.Root) ([]byte, error) {
	var out bytes.Buffer
	out.WriteString("# Recreates /var on an OSTree system, whose /var starts empty.\n")
	out.WriteString("# Written by debatom from the configured tree; files come from " + "/" + FactoryDir + "/var.\n")
	var paths []string
	r.Tree.Walk(func(p string, e *fstree.Entry) error {
		if strings.HasPrefix(p, "var/") {
			paths = append(paths, p)
		}
		return nil
	})
	for _, p := range paths {
		e := r.Tree.Get(p)
		abs := "/" + p
		switch e.Kind {
		case fstree.Dir:
			fmt.Fprintf(&out, "d %s %04o %d %d -\n", escape(abs), e.Mode, e.UID, e.GID)
		case fstree.Symlink:
			fmt.Fprintf(&out, "L %s - - - - %s\n", escape(abs), escape(e.Target))
		case fstree.File:
			// C copies the factory file (with its mode and owner) when
			// the target does not exist yet.
			fmt.Fprintf(&out, "C %s - - - - %s\n", escape(abs), escape("/"+FactoryDir+abs))
		}
	}
	for _, p := range paths {
		if e := r.Tree.Get(p); e != nil && e.Kind == fstree.File {
			if err := r.Tree.Rename(p, FactoryDir+"/"+p); err != nil {
				return nil, err
			}
		}
	}
	// Media mounts go to /run/media, made at each boot.
	out.WriteString("d /run/media 0755 0 0 -\n")
	r.Tree.RemoveAll("var")
	return out.Bytes(), nil
}
