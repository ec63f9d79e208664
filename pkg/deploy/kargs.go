package deploy

import (
	"fmt"
	"io"
	"slices"
	"strings"

	"github.com/BurntSushi/toml"
	"github.com/debatom/debatom/pkg/fstree"
)

// KargsDir is where bootc reads kernel arguments shipped in a commit.
const KargsDir = "usr/lib/bootc/kargs.d"

// ParseKargs reads one kargs.d file, bootc's format:
//
//	kargs = ["console=ttyS0", "quiet"]
//	match-architectures = ["x86_64"]   # optional
//
// It returns the arguments that apply to arch (a bootc/Rust name such as
// "x86_64").
func ParseKargs(data []byte, arch string) ([]string, error) {
	var f struct {
		Kargs []string `toml:"kargs"`
		Match []string `toml:"match-architectures"`
	}
	md, err := toml.Decode(string(data), &f)
	if err != nil {
		msg, _, _ := strings.Cut(err.Error(), "\n")
		return nil, fmt.Errorf("not valid TOML: %s", msg)
	}
	if u := md.Undecoded(); len(u) > 0 {
		return nil, fmt.Errorf("unknown key %q", u[0].String())
	}
	for _, k := range f.Kargs {
		if k == "" || strings.ContainsAny(k, " \t\n\r") {
			return nil, fmt.Errorf("kernel argument %q is empty or holds a blank", k)
		}
	}
	if len(f.Match) > 0 && !slices.Contains(f.Match, arch) {
		return nil, nil
	}
	return f.Kargs, nil
}

// commitKargs collects the kargs.d files of a tree in name order, as bootc
// does.
func commitKargs(t *fstree.Tree, open func(string) func() (io.ReadCloser, error), arch string) ([]string, error) {
	var out []string
	for _, name := range t.Children(KargsDir) {
		e := t.Get(KargsDir + "/" + name)
		if !strings.HasSuffix(name, ".toml") || e == nil || e.Kind != fstree.File {
			continue
		}
		rc, err := open(e.Object)()
		if err != nil {
			return nil, err
		}
		b, err := io.ReadAll(io.LimitReader(rc, 1<<20))
		rc.Close()
		if err != nil {
			return nil, fmt.Errorf("%s/%s: %w", KargsDir, name, err)
		}
		k, err := ParseKargs(b, arch)
		if err != nil {
			return nil, fmt.Errorf("%s/%s: %w", KargsDir, name, err)
		}
		out = append(out, k...)
	}
	return out, nil
}
