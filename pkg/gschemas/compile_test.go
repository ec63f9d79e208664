package gschemas

import (
	"strings"
	"testing"

	"github.com/debatom/debatom/pkg/gvdb"
)

const minimal = `<schemalist><schema id="org.t" path="/org/t/"><key name="k" type="i"><default>1</default></key></schema></schemalist>`

func TestCompileStrictNamesFile(t *testing.T) {
	for name, bad := range map[string]string{
		"not xml":        `<schemalist><schema`,
		"bad name":       `<schemalist><schema id="a"><key name="K" type="s"><default>''</default></key></schema></schemalist>`,
		"no default":     `<schemalist><schema id="a"><key name="k" type="s"/></schema></schemalist>`,
		"bad default":    `<schemalist><schema id="a"><key name="k" type="i"><default>'x'</default></key></schema></schemalist>`,
		"out of range":   `<schemalist><schema id="a"><key name="k" type="i"><default>11</default><range min="1" max="10"/></key></schema></schemalist>`,
		"not a choice":   `<schemalist><schema id="a"><key name="k" type="s"><choices><choice value="x"/></choices><default>'y'</default></key></schema></schemalist>`,
		"unknown enum":   `<schemalist><schema id="a"><key name="k" enum="nope"><default>'x'</default></key></schema></schemalist>`,
		"two types":      `<schemalist><schema id="a"><key name="k" type="s" enum="e"><default>''</default></key></schema></schemalist>`,
		"bad attribute":  `<schemalist><schema id="a" colour="red"/></schemalist>`,
		"text in schema": `<schemalist><schema id="a">words</schema></schemalist>`,
		"bad element":    `<schemalist><schema id="a"><keys/></schema></schemalist>`,
		"bad path":       `<schemalist><schema id="a" path="no/slash"/></schemalist>`,
		"duplicate":      `<schemalist><schema id="a"/><schema id="a"/></schemalist>`,
		"extends none":   `<schemalist><schema id="a" extends="b"/></schemalist>`,
		"flags bits":     `<schemalist><flags id="f"><value nick="ab" value="3"/></flags></schemalist>`,
		"short nick":     `<schemalist><enum id="e"><value nick="a" value="1"/></enum></schemalist>`,
		"empty enum":     `<schemalist><enum id="e"></enum></schemalist>`,
		"alias target":   `<schemalist><schema id="a"><key name="k" type="s"><choices><choice value="x"/></choices><aliases><alias value="y" target="z"/></aliases><default>'x'</default></key></schema></schemalist>`,
		"l10n no domain": `<schemalist><schema id="a"><key name="k" type="s"><default l10n="messages">''</default></key></schema></schemalist>`,
	} {
		_, err := Compile([]File{{Name: "ok.gschema.xml", Data: []byte(minimal)}, {Name: "x.gschema.xml", Data: []byte(bad)}}, Options{Strict: true})
		if err == nil || !strings.Contains(err.Error(), "x.gschema.xml") {
			t.Errorf("%s: error %v, want one naming x.gschema.xml", name, err)
		}
		res, err := Compile([]File{{Name: "ok.gschema.xml", Data: []byte(minimal)}, {Name: "x.gschema.xml", Data: []byte(bad)}}, Options{})
		if err != nil || len(res.Warnings) != 1 || res.Compiled == nil {
			t.Errorf("%s: not strict: %v, %v", name, err, res)
		}
	}
}

func TestCompileNoSchemas(t *testing.T) {
	res, err := Compile([]File{{Name: "a.gschema.override", Data: []byte("[x]\na=1\n")}}, Options{})
	if err != nil || res.Compiled != nil {
		t.Errorf("no schema files: %v %v", res, err)
	}
}

func TestCompileContent(t *testing.T) {
	res, err := Compile([]File{
		{Name: "ok.gschema.xml", Data: []byte(minimal)},
		{Name: "b.gschema.override", Data: []byte("[org.t]\nk=3\n")},
		{Name: "a.gschema.override", Data: []byte("[org.t]\nk=2\n")},
	}, Options{})
	if err != nil {
		t.Fatal(err)
	}
	got := dump(t, res.Compiled)
	// The later override file (by name) wins.
	for _, want := range []string{`org.t .path = gvariant.Variant{Type:"s", Value:"/org/t/"}`, `org.t k = gvariant.Variant{Type:"(i)", Value:gvariant.Tuple{3}}`} {
		if !strings.Contains(got, want) {
			t.Errorf("missing %s in\n%s", want, got)
		}
	}
}

func FuzzCompile(f *testing.F) {
	f.Add([]byte(minimal), []byte("[org.t]\nk=5\n"))
	f.Add([]byte(`<schemalist><enum id="e"><value nick="aa" value="1"/></enum><schema id="s"><key name="k" enum="e"><default>'aa'</default><aliases><alias value="bb" target="aa"/></aliases></key><child name="c" schema="s"/></schema></schemalist>`), []byte(""))
	f.Fuzz(func(t *testing.T, xmlData, override []byte) {
		res, err := Compile([]File{{Name: "f.gschema.xml", Data: xmlData}, {Name: "f.gschema.override", Data: override}}, Options{})
		if err != nil || res.Compiled == nil {
			return
		}
		file, err := gvdb.Open(res.Compiled)
		if err != nil {
			t.Fatal(err)
		}
		if _, err := file.Root(); err != nil {
			t.Fatal(err)
		}
	})
}
