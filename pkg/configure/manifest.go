package configure

import (
	"strings"

	"github.com/debatom/debatom/pkg/unpack"
)

// PackageFromManifest turns pkg/unpack's description of one unpacked
// package into the control data Configure needs. The md5sums and
// conffiles members are kept byte for byte, because dpkg's database holds
// them verbatim.
func PackageFromManifest(m *unpack.Manifest) *Package {
	d := m.Package
	p := &Package{
		Name: d.Name, Version: d.Version, Architecture: d.Architecture,
		Control: d.Control,
		Scripts: map[string][]byte{},
	}
	for _, f := range d.Files {
		switch f.Name {
		case "control":
		case "md5sums":
			p.MD5Sums = f.Data
		case "conffiles":
			for _, l := range strings.Split(string(f.Data), "\n") {
				if l = strings.TrimSpace(l); l != "" {
					p.Conffiles = append(p.Conffiles, l)
				}
			}
		default:
			p.Scripts[f.Name] = f.Data
		}
	}
	for _, e := range m.Entries {
		if e.Path == "" {
			p.Files = append(p.Files, "/.")
		} else {
			p.Files = append(p.Files, "/"+e.Path)
		}
	}
	return p
}
