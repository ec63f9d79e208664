package configure

import (
	"crypto/md5"
	"encoding/hex"
	"fmt"
	"path"
	"strings"

	"github.com/debatom/debatom/pkg/configure/sysroot"
)

// ucfDir is ucf's state directory.
const ucfDir = "var/lib/ucf"

// ucfState keeps ucf's bookkeeping for the configuration files that
// postinsts install through "ucf NEW DEST" and register with "ucfr PKG
// DEST": the registry (who owns DEST), the hashfile (DEST's md5sum as
// installed, which later upgrades compare against) and, for --three-way,
// a cached copy of the version installed. Each list file has a ".0"
// backup, its content before the last change. Only DESTs that the
// configure steps actually installed are recorded.
func ucfState(r *sysroot.Root) error {
	if err := ucfInstall(r); err != nil {
		return err
	}
	var registry, hashes []string
	threeWay := map[string]bool{}
	for _, p := range r.Packages {
		if p.Scripts["postinst"] == nil {
			continue
		}
		for _, c := range r.Commands(p, "postinst") {
			if len(c.Args) < 3 {
				continue
			}
			args := operands(c.Args[1:], "--sum-file", "--state-dir")
			switch path.Base(c.Args[0]) {
			case "ucf":
				if len(args) == 2 && contains(c.Args, "--three-way") {
					threeWay[args[1]] = true
				}
			case "ucfr":
				if len(args) != 2 || strings.Contains(args[0]+args[1], "$") || !strings.HasPrefix(args[1], "/") {
					continue
				}
				dest := args[1]
				b, err := r.ReadFile(strings.TrimPrefix(dest, "/"))
				if err != nil {
					r.Report.Warnf(p.Name, "postinst line %d: ucfr %s: %s is not installed; not registered", c.Line, args[0], dest)
					continue
				}
				sum := md5.Sum(b)
				registry = append(registry, args[0]+" \t "+dest)
				hashes = append(hashes, hex.EncodeToString(sum[:])+"  "+dest)
				if threeWay[dest] {
					if err := r.Mkdir(ucfDir+"/cache", 0o755, 0, 0); err != nil {
						return err
					}
					cache := ucfDir + "/cache/" + strings.ReplaceAll(dest, "/", ":")
					if err := r.WriteFile(cache, b, 0o644, 0, 0); err != nil {
						return fmt.Errorf("ucf cache %s: %w", cache, err)
					}
				}
			}
		}
	}
	if len(registry) == 0 {
		return nil
	}
	if err := r.Mkdir(ucfDir, 0o755, 0, 0); err != nil {
		return err
	}
	for name, lines := range map[string][]string{"registry": registry, "hashfile": hashes} {
		cur := strings.Join(lines, "\n") + "\n"
		prev := ""
		if n := len(lines) - 1; n > 0 {
			prev = strings.Join(lines[:n], "\n") + "\n"
		}
		if err := r.WriteFile(ucfDir+"/"+name, []byte(cur), 0o644, 0, 0); err != nil {
			return err
		}
		if err := r.WriteFile(ucfDir+"/"+name+".0", []byte(prev), 0o644, 0, 0); err != nil {
			return err
		}
	}
	r.Report.Notef("ucf: %d configuration files registered", len(registry))
	return nil
}

// operands returns the arguments that are not options; the named options
// take a value.
func operands(args []string, withValue ...string) []string {
	var out []string
	for i := 0; i < len(args); i++ {
		a := args[i]
		if !strings.HasPrefix(a, "-") {
			out = append(out, a)
			continue
		}
		for _, w := range withValue {
			if a == w && i+1 < len(args) {
				i++
			}
		}
	}
	return out
}

// ucfInstall does what "ucf NEW DEST" does on a fresh system: NEW, a file
// the package ships, becomes DEST when DEST is not there yet (gdm3's
// greeter.dconf-defaults). A NEW named through a run-time variable (a temp
// file the script edits first) is left to the steps that know the package.
func ucfInstall(r *sysroot.Root) error {
	for _, p := range r.Packages {
		if p.Scripts["postinst"] == nil {
			continue
		}
		for _, c := range r.Commands(p, "postinst") {
			src, dest, ok := ucfLiteral(c.Args)
			if !ok {
				continue
			}
			if err := copyDefault(r, src, dest); err != nil {
				return fmt.Errorf("%s: ucf %s: %w", p.Name, dest, err)
			}
		}
	}
	return nil
}

// ucfLiteral returns the NEW and DEST of a "ucf [options] NEW DEST" call
// whose paths are written out in the script, without their leading slash.
func ucfLiteral(args []string) (src, dest string, ok bool) {
	if len(args) < 3 || path.Base(args[0]) != "ucf" {
		return "", "", false
	}
	ops := operands(args[1:], "--sum-file", "--state-dir")
	if len(ops) != 2 || strings.Contains(ops[0]+ops[1], "$") ||
		!strings.HasPrefix(ops[0], "/") || !strings.HasPrefix(ops[1], "/") {
		return "", "", false
	}
	return strings.TrimPrefix(ops[0], "/"), strings.TrimPrefix(ops[1], "/"), true
}
