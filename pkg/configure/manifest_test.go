package configure

import (
	"reflect"
	"testing"

	"github.com/debatom/debatom/pkg/deb"
	"github.com/debatom/debatom/pkg/deb822"
	"github.com/debatom/debatom/pkg/fstree"
	"github.com/debatom/debatom/pkg/unpack"
)

func TestPackageFromManifest(t *testing.T) {
	m := &unpack.Manifest{
		Package: &deb.Package{
			Name: "x", Version: "1", Architecture: "amd64",
			Control: &deb822.Paragraph{Fields: []deb822.Field{{Name: "Package", Value: "x"}}},
			Files: []deb.ControlFile{
				{Name: "conffiles", Data: []byte("/etc/x\nremove-on-upgrade /etc/y\n")},
				{Name: "control", Data: []byte("Package: x\n")},
				{Name: "md5sums", Data: []byte("d41d8cd98f00b204e9800998ecf8427e  usr/bin/x\n")},
				{Name: "postinst", Data: []byte("#!/bin/sh\n")},
				{Name: "shlibs", Data: []byte("libx 1 x\n")},
			},
		},
		Entries: []unpack.Entry{
			{Path: "", Entry: fstree.Entry{Kind: fstree.Dir}},
			{Path: "usr", Entry: fstree.Entry{Kind: fstree.Dir}},
			{Path: "usr/bin/x", Entry: fstree.Entry{Kind: fstree.File}},
		},
	}
	p := PackageFromManifest(m)
	if p.Name != "x" || p.Version != "1" || p.Architecture != "amd64" || p.Control == nil {
		t.Errorf("identity %+v", p)
	}
	if want := []string{"/.", "/usr", "/usr/bin/x"}; !reflect.DeepEqual(p.Files, want) {
		t.Errorf("files %q, want %q", p.Files, want)
	}
	if want := []string{"/etc/x", "remove-on-upgrade /etc/y"}; !reflect.DeepEqual(p.Conffiles, want) {
		t.Errorf("conffiles %q", p.Conffiles)
	}
	if string(p.MD5Sums) != "d41d8cd98f00b204e9800998ecf8427e  usr/bin/x\n" || len(p.Scripts) != 2 || p.Scripts["postinst"] == nil {
		t.Errorf("md5sums %q scripts %v", p.MD5Sums, p.Scripts)
	}
}
