package configure

import (
	"fmt"
	"path"
	"strings"

	"github.com/debatom/debatom/pkg/configure/sysroot"
	"github.com/debatom/debatom/pkg/fstree"
)

// fileTriggers says, for the file triggers packages declare an interest
// in, what their processing leaves behind: a file the configure steps
// make (the trigger counts as done when it exists), or why nothing needs
// to be made into the image. A trigger that is neither, and that the
// set's files activate, is reported, so a missing cache is never silent.
var fileTriggers = map[string]struct{ output, why string }{
	"/usr/share/glib-2.0/schemas":       {output: "usr/share/glib-2.0/schemas/gschemas.compiled"},
	"/usr/share/debianutils/shells.d":   {why: "/etc/shells is written from it"},
	"/etc/dbus-1/system.d":              {why: "dbus reads it when it starts"},
	"/usr/share/dbus-1/system.d":        {why: "dbus reads it when it starts"},
	"/usr/share/dbus-1/system-services": {why: "dbus reads it when it starts"},
	"/usr/lib/sysctl.d":                 {why: "applied at boot by systemd-sysctl"},
	"/usr/lib/binfmt.d":                 {why: "applied at boot by systemd-binfmt"},
	"/usr/lib/systemd/catalog":          {why: "the catalog is built at first boot"},
	"/lib/udev/hwdb.d":                  {why: "hwdb.bin is built at first boot by systemd-hwdb-update.service"},
	"/usr/lib/udev/hwdb.d":              {why: "hwdb.bin is built at first boot by systemd-hwdb-update.service"},
	"/usr/share/man":                    {why: "man-db's index lives in /var/cache and is rebuilt by man-db.timer"},
	"/usr/share/fonts":                  {why: "fontconfig's cache lives in /var/cache and is rebuilt on use"},
	"/usr/share/cups/ppd-updaters":      {why: "no printer queues exist on a fresh system"},
	"/usr/lib/shim":                     {why: "the bootloader is installed by the disk stage"},
	"/usr/lib32":                        {why: "base-files only keeps the directory"},
	"/usr/libo32":                       {why: "base-files only keeps the directory"},
	"/usr/libx32":                       {why: "base-files only keeps the directory"},
	"/usr/share/app-info/xml":           {why: "appstream's cache lives in /var and is rebuilt on use"},
	"/usr/share/app-info/yaml":          {why: "appstream's cache lives in /var and is rebuilt on use"},
	"/usr/share/app-info/icons":         {why: "appstream's cache lives in /var and is rebuilt on use"},
}

// reportFileTriggers warns about each file trigger that the set's files
// activate and that the configure steps do not stand in for, naming the
// interested package, the path and how many files activate it.
func reportFileTriggers(r *sysroot.Root) {
	type interest struct{ pkg, dir string }
	var ints []interest
	for _, p := range r.Packages {
		for _, line := range strings.Split(string(p.Scripts["triggers"]), "\n") {
			f := strings.Fields(line)
			if len(f) != 2 || !strings.HasPrefix(f[0], "interest") || !strings.HasPrefix(f[1], "/") {
				continue
			}
			ints = append(ints, interest{p.Name, path.Clean(f[1])})
		}
	}
	if len(ints) == 0 {
		return
	}
	for _, in := range ints {
		known, ok := fileTriggers[in.dir]
		if ok && (known.why != "" || known.output != "" && r.Exists(known.output)) {
			continue
		}
		// dpkg activates a file trigger for every file a package
		// installs at or below the path.
		n := 0
		for _, p := range r.Packages {
			for _, f := range p.Files {
				if !strings.HasPrefix(f, in.dir+"/") {
					continue
				}
				// Directories alone leave the trigger's program
				// nothing to do.
				if _, e, err := r.Lookup(f); err == nil && e != nil && e.Kind != fstree.Dir {
					n++
				}
			}
		}
		if n == 0 {
			continue
		}
		what := "not derived"
		if ok {
			what = fmt.Sprintf("not derived (no /%s)", known.output)
		}
		r.Report.Warnf(in.pkg, "file trigger on %s, activated by %d files: %s", in.dir, n, what)
	}
}
