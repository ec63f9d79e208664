// Package gschemas compiles GSettings schemas (*.gschema.xml, *.enums.xml
// and *.gschema.override files) into gschemas.compiled, the GVDB cache
// GSettings reads, as glib-compile-schemas does: same checks, same
// tables, same bytes.
package gschemas

import (
	"bytes"
	"encoding/xml"
	"errors"
	"fmt"
	"io"
	"math"
	"os"
	"path/filepath"
	"sort"
	"strconv"
	"strings"

	"github.com/debatom/debatom/internal/ghash"
	"github.com/debatom/debatom/pkg/gvariant"
)

// File is one file of a schema directory: its base name and contents.
type File struct {
	Name string
	Data []byte
}

// Options tune Compile.
type Options struct {
	// Strict makes any error in any file fail the whole compilation,
	// like glib-compile-schemas --strict. Without it a schema file with
	// an error is left out whole and a bad override line is skipped,
	// each with a warning, as the dpkg trigger's plain run does.
	Strict bool
}

// Result is a compiled schema cache.
type Result struct {
	// Compiled is the contents of gschemas.compiled; nil when there was
	// no schema file at all (glib-compile-schemas then writes nothing).
	Compiled []byte
	// Warnings name what was left out and why.
	Warnings []error
}

// IsSchemaFile reports whether name is read as a schema file.
func IsSchemaFile(name string) bool {
	return strings.HasSuffix(name, ".gschema.xml") || strings.HasSuffix(name, ".enums.xml")
}

// IsOverrideFile reports whether name is read as an override file.
func IsOverrideFile(name string) bool { return strings.HasSuffix(name, ".gschema.override") }

// CompileDir compiles the schema files of directory dir.
func CompileDir(dir string, opts Options) (*Result, error) {
	ents, err := os.ReadDir(dir)
	if err != nil {
		return nil, fmt.Errorf("gschemas: %w", err)
	}
	var files []File
	for _, e := range ents {
		if !IsSchemaFile(e.Name()) && !IsOverrideFile(e.Name()) {
			continue
		}
		b, err := os.ReadFile(filepath.Join(dir, e.Name()))
		if err != nil {
			return nil, fmt.Errorf("gschemas: %w", err)
		}
		files = append(files, File{Name: e.Name(), Data: b})
	}
	return Compile(files, opts)
}

// fileOrder sorts as glib-compile-schemas does: *.enums.xml first, then
// by name.
func fileOrder(files []File) {
	sort.SliceStable(files, func(i, j int) bool {
		ei, ej := strings.HasSuffix(files[i].Name, ".enums.xml"), strings.HasSuffix(files[j].Name, ".enums.xml")
		if ei != ej {
			return ei
		}
		return files[i].Name < files[j].Name
	})
}

// Compile compiles files (names without directories); files that are
// neither schema nor override files are ignored.
func Compile(files []File, opts Options) (*Result, error) {
	var schemas, overrides []File
	for _, f := range files {
		switch {
		case IsSchemaFile(f.Name):
			schemas = append(schemas, f)
		case IsOverrideFile(f.Name):
			overrides = append(overrides, f)
		}
	}
	res := &Result{}
	if len(schemas) == 0 {
		return res, nil
	}
	fileOrder(schemas)
	fileOrder(overrides)
	c := &compiler{
		schemas:     map[string]*schema{},
		schemaSlots: ghash.New(),
		enums:       map[string]*enumDef{},
		flags:       map[string]*enumDef{},
	}
	for _, f := range schemas {
		if err := c.parseFile(f); err != nil {
			err = fmt.Errorf("gschemas: %s: %w", f.Name, err)
			if opts.Strict {
				return nil, err
			}
			res.Warnings = append(res.Warnings, fmt.Errorf("%w; file ignored", err))
		}
	}
	for _, f := range overrides {
		if err := c.applyOverrides(f, opts.Strict, &res.Warnings); err != nil {
			return nil, fmt.Errorf("gschemas: %s: %w", f.Name, err)
		}
	}
	out, err := c.output()
	if err != nil {
		return nil, err
	}
	res.Compiled = out
	return res, nil
}

type enumDef struct {
	info  strinfo
	flags bool
}

type schema struct {
	id          string
	path        *string
	domain      *string
	extendsName *string
	listOf      *string
	extends     *schema
	keys        map[string]*key
	order       []string // key insertion order
}

type key struct {
	child *string

	typ        string
	haveDomain bool
	l10n       byte
	context    *string
	unparsed   string
	def        any
	hasDef     bool
	desktop    map[string]any
	deskOrder  []string
	info       strinfo
	isEnum     bool
	isFlags    bool
	min, max   any
	hasRange   bool
	hasChoices bool
	hasAliases bool
	isOverride bool
}

func (s *schema) addKey(name string, k *key) {
	if _, ok := s.keys[name]; !ok {
		s.order = append(s.order, name)
	}
	s.keys[name] = k
}

type compiler struct {
	schemas map[string]*schema
	// schemaSlots mirrors GLib's table of schemas, whose walk orders
	// the output.
	schemaSlots *ghash.Table
	enums       map[string]*enumDef
	flags       map[string]*enumDef
}

// parseState is the state of one file's parse.
type parseState struct {
	c           *compiler
	fileSchemas []string
	fileEnums   []string
	fileFlags   []string
	listDomain  *string
	schema      *schema
	key         *key
	enum        *enumDef
	text        *strings.Builder
	textIsDefOf *key // the key whose default the text is
	stack       []string
	ignoreDepth int
}

func (c *compiler) parseFile(f File) error {
	st := &parseState{c: c}
	err := st.parse(f.Data)
	if err != nil {
		// Back out what this file defined.
		// Newest first: GLib keeps the file's ids in a prepended list.
		for i := len(st.fileSchemas) - 1; i >= 0; i-- {
			id := st.fileSchemas[i]
			delete(c.schemas, id)
			c.schemaSlots.Remove(id)
		}
		for _, id := range st.fileEnums {
			delete(c.enums, id)
		}
		for _, id := range st.fileFlags {
			delete(c.flags, id)
		}
	}
	return err
}

func (st *parseState) parse(data []byte) error {
	d := xml.NewDecoder(bytes.NewReader(data))
	d.Strict = true
	// GMarkup reads every file as UTF-8 whatever its XML declaration
	// says (and rejects bytes that are not UTF-8).
	d.CharsetReader = func(_ string, r io.Reader) (io.Reader, error) { return r, nil }
	seenRoot := false
	for {
		tok, err := d.RawToken()
		if err == io.EOF {
			if len(st.stack) > 0 || st.ignoreDepth > 0 {
				return errors.New("document ended inside an element")
			}
			if !seenRoot {
				return errors.New("document is empty or contains only whitespace")
			}
			return nil
		}
		if err != nil {
			return err
		}
		switch t := tok.(type) {
		case xml.StartElement:
			if st.ignoreDepth > 0 || t.Name.Space != "" {
				// Qualified elements are skipped with their contents.
				st.ignoreDepth++
				continue
			}
			if len(st.stack) == 0 && seenRoot {
				return errors.New("more than one root element")
			}
			seenRoot = true
			attrs := map[string]string{}
			for _, a := range t.Attr {
				if a.Name.Space != "" {
					continue
				}
				if _, dup := attrs[a.Name.Local]; dup {
					return fmt.Errorf("attribute %q given twice on <%s>", a.Name.Local, t.Name.Local)
				}
				attrs[a.Name.Local] = a.Value
			}
			if err := st.start(t.Name.Local, attrs); err != nil {
				return fmt.Errorf("<%s>: %w", t.Name.Local, err)
			}
			st.stack = append(st.stack, t.Name.Local)
		case xml.EndElement:
			if st.ignoreDepth > 0 {
				st.ignoreDepth--
				continue
			}
			if len(st.stack) == 0 || st.stack[len(st.stack)-1] != t.Name.Local || t.Name.Space != "" {
				return fmt.Errorf("unexpected </%s>", t.Name.Local)
			}
			st.stack = st.stack[:len(st.stack)-1]
			if err := st.end(t.Name.Local); err != nil {
				return fmt.Errorf("</%s>: %w", t.Name.Local, err)
			}
		case xml.CharData:
			if st.ignoreDepth > 0 {
				continue
			}
			if st.text != nil {
				st.text.Write(t)
				continue
			}
			if len(bytes.TrimLeft(t, " \t\n\r\f\v")) != 0 {
				where := "the top level"
				if len(st.stack) > 0 {
					where = "<" + st.stack[len(st.stack)-1] + ">"
				}
				return fmt.Errorf("text may not appear inside %s", where)
			}
		}
	}
}

// collect checks attrs against the allowed names; required ones must
// be there. It returns pointers: nil for an absent optional attribute.
func collect(attrs map[string]string, required []string, optional ...string) (map[string]*string, error) {
	out := map[string]*string{}
	for _, n := range required {
		v, ok := attrs[n]
		if !ok {
			return nil, fmt.Errorf("attribute %q missing", n)
		}
		out[n] = &v
	}
	for _, n := range optional {
		if v, ok := attrs[n]; ok {
			out[n] = &v
		}
	}
	for n := range attrs {
		if _, ok := out[n]; !ok {
			return nil, fmt.Errorf("unknown attribute %q", n)
		}
	}
	return out, nil
}

func (st *parseState) start(name string, attrs map[string]string) error {
	container := ""
	if len(st.stack) > 0 {
		container = st.stack[len(st.stack)-1]
	}
	switch {
	case container == "" && name == "schemalist":
		a, err := collect(attrs, nil, "gettext-domain")
		if err != nil {
			return err
		}
		st.listDomain = a["gettext-domain"]
		return nil
	case container == "schemalist" && name == "schema":
		a, err := collect(attrs, []string{"id"}, "path", "gettext-domain", "extends", "list-of")
		if err != nil {
			return err
		}
		dom := a["gettext-domain"]
		if dom == nil {
			dom = st.listDomain
		}
		return st.startSchema(*a["id"], a["path"], dom, a["extends"], a["list-of"])
	case container == "schemalist" && (name == "enum" || name == "flags"):
		a, err := collect(attrs, []string{"id"})
		if err != nil {
			return err
		}
		return st.startEnum(*a["id"], name == "flags")
	case container == "schema" && name == "key":
		a, err := collect(attrs, []string{"name"}, "type", "enum", "flags")
		if err != nil {
			return err
		}
		k, err := st.addKey(*a["name"], a["type"], a["enum"], a["flags"])
		st.key = k
		return err
	case container == "schema" && name == "child":
		a, err := collect(attrs, []string{"name", "schema"})
		if err != nil {
			return err
		}
		n := *a["name"]
		if err := validKeyName(n); err != nil {
			return err
		}
		if _, ok := st.schema.keys[n+"/"]; ok {
			return fmt.Errorf("<child name='%s'> already specified", n)
		}
		st.schema.addKey(n+"/", &key{child: a["schema"]})
		return nil
	case container == "schema" && name == "override":
		a, err := collect(attrs, []string{"name"}, "l10n", "context")
		if err != nil {
			return err
		}
		return st.addOverride(*a["name"], a["l10n"], a["context"])
	case container == "key" && name == "default":
		a, err := collect(attrs, nil, "l10n", "context")
		if err != nil {
			return err
		}
		return st.startDefault(st.key, a["l10n"], a["context"])
	case container == "key" && (name == "summary" || name == "description"):
		if _, err := collect(attrs, nil); err != nil {
			return err
		}
		st.text = &strings.Builder{}
		st.textIsDefOf = nil
		return nil
	case container == "key" && name == "range":
		a, err := collect(attrs, nil, "min", "max")
		if err != nil {
			return err
		}
		return st.key.setRange(a["min"], a["max"])
	case container == "key" && name == "choices":
		if _, err := collect(attrs, nil); err != nil {
			return err
		}
		k := st.key
		if k.isEnum {
			return errors.New("<choices> cannot be specified for keys tagged as having an enumerated type")
		}
		if k.hasChoices {
			return errors.New("<choices> already specified for this key")
		}
		t := k.typ
		for t[0] == 'a' || t[0] == 'm' {
			t = t[1:]
		}
		if t != "s" {
			return fmt.Errorf("<choices> not allowed for keys of type %q", k.typ)
		}
		return nil
	case container == "key" && name == "aliases":
		if _, err := collect(attrs, nil); err != nil {
			return err
		}
		k := st.key
		if k.hasAliases {
			return errors.New("<aliases> already specified for this key")
		}
		if !k.isFlags && !k.isEnum && !k.hasChoices {
			return errors.New("<aliases> can only be specified for keys with enumerated or flags types or after <choices>")
		}
		return nil
	case container == "choices" && name == "choice":
		a, err := collect(attrs, []string{"value"})
		if err != nil {
			return err
		}
		v := *a["value"]
		k := st.key
		if k.info.contains(v) {
			return fmt.Errorf("<choice value='%s'/> already given", v)
		}
		var ok bool
		if k.info, ok = k.info.appendItem(v, 0); !ok {
			return fmt.Errorf("choice %q longer than 65 bytes", v)
		}
		k.hasChoices = true
		return nil
	case container == "aliases" && name == "alias":
		a, err := collect(attrs, []string{"value", "target"})
		if err != nil {
			return err
		}
		return st.key.addAlias(*a["value"], *a["target"])
	case (container == "enum" || container == "flags") && name == "value":
		a, err := collect(attrs, []string{"nick", "value"})
		if err != nil {
			return err
		}
		return st.enum.addValue(*a["nick"], *a["value"])
	}
	if container == "" {
		return fmt.Errorf("element <%s> not allowed at the top level", name)
	}
	return fmt.Errorf("element <%s> not allowed inside <%s>", name, container)
}

func (st *parseState) end(name string) error {
	text := st.text
	defKey := st.textIsDefOf
	st.text, st.textIsDefOf = nil, nil
	switch name {
	case "schemalist":
		st.listDomain = nil
	case "enum", "flags":
		e := st.enum
		st.enum = nil
		if len(e.info) == 0 {
			return fmt.Errorf("<%s> must contain at least one <value>", name)
		}
	case "schema":
		st.schema = nil
	case "override":
		k := st.key
		st.key = nil
		return k.endDefault(text.String())
	case "key":
		k := st.key
		st.key = nil
		if !k.hasDef {
			return errors.New("element <default> is required in <key>")
		}
	case "default":
		if defKey != nil {
			return defKey.endDefault(text.String())
		}
	case "choices":
		if !st.key.hasChoices {
			return errors.New("<choices> must contain at least one <choice>")
		}
		return st.key.checkRange()
	case "aliases":
		if !st.key.hasAliases {
			return errors.New("<aliases> must contain at least one <alias>")
		}
	}
	return nil
}

func validKeyName(k string) error {
	if k == "" {
		return errors.New("empty names are not permitted")
	}
	if k[0] < 'a' || k[0] > 'z' {
		return fmt.Errorf("invalid name %q: names must begin with a lowercase letter", k)
	}
	for i := 1; i < len(k); i++ {
		c := k[i]
		if c != '-' && !(c >= 'a' && c <= 'z') && !(c >= '0' && c <= '9') {
			return fmt.Errorf("invalid name %q: invalid character %q", k, c)
		}
		if c == '-' && i+1 < len(k) && k[i+1] == '-' {
			return fmt.Errorf("invalid name %q: two successive hyphens", k)
		}
	}
	if k[len(k)-1] == '-' {
		return fmt.Errorf("invalid name %q: the last character may not be a hyphen", k)
	}
	if len(k) > 1024 {
		return fmt.Errorf("invalid name %q: maximum length is 1024", k)
	}
	return nil
}

func (st *parseState) startSchema(id string, path, domain, extendsName, listOf *string) error {
	c := st.c
	if _, ok := c.schemas[id]; ok {
		return fmt.Errorf("<schema id='%s'> already specified", id)
	}
	var ext *schema
	if extendsName != nil {
		if ext = c.schemas[*extendsName]; ext == nil {
			return fmt.Errorf("<schema id='%s'> extends not yet existing schema %q", id, *extendsName)
		}
	}
	if listOf != nil {
		tmp := c.schemas[*listOf]
		if tmp == nil {
			return fmt.Errorf("<schema id='%s'> is list of not yet existing schema %q", id, *listOf)
		}
		if tmp.path != nil {
			return errors.New("cannot be a list of a schema with a path")
		}
	}
	if ext != nil {
		if ext.path != nil {
			return errors.New("cannot extend a schema with a path")
		}
		if listOf != nil {
			if ext.listOf == nil {
				return fmt.Errorf("<schema id='%s'> is a list, extending <schema id='%s'> which is not a list", id, *extendsName)
			}
			if !c.isSubclass(*listOf, *ext.listOf) {
				return fmt.Errorf("<schema id='%s' list-of='%s'> extends a list of %q that it does not extend", id, *listOf, *ext.listOf)
			}
		} else {
			listOf = ext.listOf
		}
	}
	if path != nil && !(strings.HasPrefix(*path, "/") && strings.HasSuffix(*path, "/")) {
		return errors.New("a path, if given, must begin and end with a slash")
	}
	if path != nil && listOf != nil && !strings.HasSuffix(*path, ":/") {
		return errors.New("the path of a list must end with \":/\"")
	}
	s := &schema{id: id, path: path, domain: domain, extends: ext, extendsName: extendsName, listOf: listOf, keys: map[string]*key{}}
	c.schemas[id] = s
	c.schemaSlots.Insert(id)
	st.fileSchemas = append(st.fileSchemas, id)
	st.schema = s
	return nil
}

func (c *compiler) isSubclass(class, parent string) bool {
	for n := 0; n <= len(c.schemas); n++ {
		if class == parent {
			return true
		}
		s := c.schemas[class]
		if s == nil || s.extendsName == nil {
			return false
		}
		class = *s.extendsName
	}
	return false
}

func (st *parseState) startEnum(id string, flags bool) error {
	table, list := st.c.enums, &st.fileEnums
	kind := "enum"
	if flags {
		table, list, kind = st.c.flags, &st.fileFlags, "flags"
	}
	if _, ok := table[id]; ok {
		return fmt.Errorf("<%s id='%s'> already specified", kind, id)
	}
	st.enum = &enumDef{flags: flags}
	table[id] = st.enum
	*list = append(*list, id)
	return nil
}

// parseCInt reads valuestr as g_ascii_strtoll(valuestr, &end, 0) with
// *end required to be NUL.
func parseCInt(s string) (int64, bool) {
	if s == "" {
		return 0, true // strtoll reads nothing and stops at the NUL
	}
	t := strings.TrimLeft(s, " \t\n\r\f\v")
	neg := false
	if t != "" && (t[0] == '-' || t[0] == '+') {
		neg = t[0] == '-'
		t = t[1:]
	}
	base := 10
	switch {
	case len(t) > 2 && (t[:2] == "0x" || t[:2] == "0X"):
		base, t = 16, t[2:]
	case len(t) > 1 && t[0] == '0':
		base, t = 8, t[1:]
	}
	if t == "" || strings.ContainsAny(t, "_+-") {
		return 0, false
	}
	u, err := strconv.ParseUint(t, base, 64)
	if err != nil {
		if errors.Is(err, strconv.ErrRange) {
			if neg {
				return math.MinInt64, true
			}
			return math.MaxInt64, true
		}
		return 0, false
	}
	if neg {
		if u > 1<<63 {
			return math.MinInt64, true
		}
		return -int64(u), true
	}
	if u > math.MaxInt64 {
		return math.MaxInt64, true
	}
	return int64(u), true
}

func (e *enumDef) addValue(nick, valuestr string) error {
	if len(nick) < 2 {
		return errors.New("nick must be a minimum of 2 characters")
	}
	v, ok := parseCInt(valuestr)
	if !ok || (e.flags && (v > math.MaxUint32 || v < 0)) || (!e.flags && (v > math.MaxInt32 || v < math.MinInt32)) {
		return errors.New("invalid numeric value")
	}
	if e.info.contains(nick) {
		return fmt.Errorf("<value nick='%s'/> already specified", nick)
	}
	if e.info.containsValue(uint32(v)) {
		return fmt.Errorf("value='%s' already specified", valuestr)
	}
	if e.flags && v == 0 {
		return nil
	}
	if e.flags && v&(v-1) != 0 {
		return errors.New("flags values must have at most 1 bit set")
	}
	if e.info, ok = e.info.appendItem(nick, uint32(v)); !ok {
		return fmt.Errorf("nick %q longer than 65 bytes", nick)
	}
	return nil
}

func (st *parseState) addKey(name string, typ, enum, flags *string) (*key, error) {
	s := st.schema
	if s.listOf != nil {
		return nil, errors.New("cannot add keys to a \"list-of\" schema")
	}
	if err := validKeyName(name); err != nil {
		return nil, err
	}
	if _, ok := s.keys[name]; ok {
		return nil, fmt.Errorf("<key name='%s'> already specified", name)
	}
	for n := s; n != nil; n = n.extends {
		if n.extends != nil {
			if sh := n.extends.keys[name]; sh != nil && !sh.isOverride {
				return nil, fmt.Errorf("<key name='%s'> shadows <key name='%s'> in <schema id='%s'>; use <override> to modify value", name, name, *n.extendsName)
			}
		}
	}
	count := 0
	for _, p := range []*string{typ, enum, flags} {
		if p != nil {
			count++
		}
	}
	if count != 1 {
		return nil, errors.New("exactly one of \"type\", \"enum\" or \"flags\" must be specified as an attribute to <key>")
	}
	k := &key{haveDomain: s.domain != nil, isEnum: enum != nil, isFlags: flags != nil}
	if typ == nil {
		var e *enumDef
		if enum != nil {
			e = st.c.enums[*enum]
		} else {
			e = st.c.flags[*flags]
		}
		if e == nil {
			kind, id := "enum", enum
			if flags != nil {
				kind, id = "flags", flags
			}
			return nil, fmt.Errorf("<%s id='%s'> not (yet) defined", kind, *id)
		}
		k.typ = "s"
		if flags != nil {
			k.typ = "as"
		}
		k.info = append(strinfo(nil), e.info...)
	} else {
		if _, err := gvariant.ParseType(*typ); err != nil {
			return nil, fmt.Errorf("invalid GVariant type string %q", *typ)
		}
		k.typ = *typ
	}
	s.addKey(name, k)
	return k, nil
}

func (st *parseState) addOverride(name string, l10n, context *string) error {
	s := st.schema
	if s.extends == nil {
		return errors.New("<override> given but schema isn't extending anything")
	}
	var orig *key
	for p := s.extends; p != nil; p = p.extends {
		if orig = p.keys[name]; orig != nil {
			break
		}
	}
	if orig == nil {
		return fmt.Errorf("no <key name='%s'> to override", name)
	}
	if _, ok := s.keys[name]; ok {
		return fmt.Errorf("<override name='%s'> already specified", name)
	}
	k := &key{
		typ: orig.typ, haveDomain: s.domain != nil, info: append(strinfo(nil), orig.info...),
		isEnum: orig.isEnum, isFlags: orig.isFlags, isOverride: true,
		min: orig.min, max: orig.max, hasRange: orig.hasRange,
	}
	st.key = k
	// GLib inserts the override even when its l10n attributes are bad,
	// but the error stops the file anyway.
	err := st.startDefault(k, l10n, context)
	s.addKey(name, k)
	return err
}

func (st *parseState) startDefault(k *key, l10n, context *string) error {
	if k.child != nil {
		return errors.New("<default> in <child>")
	}
	if l10n != nil {
		switch *l10n {
		case "messages":
			k.l10n = 'm'
		case "time":
			k.l10n = 't'
		default:
			return fmt.Errorf("unsupported l10n category: %s", *l10n)
		}
		if !k.haveDomain {
			return errors.New("l10n requested, but no gettext domain given")
		}
		k.context = context
	} else if context != nil {
		return errors.New("translation context given for value without l10n enabled")
	}
	st.text = &strings.Builder{}
	st.textIsDefOf = k
	return nil
}

func (k *key) endDefault(text string) error {
	k.unparsed = text
	v, err := ParseText(k.typ, text)
	if err != nil {
		return fmt.Errorf("failed to parse <default> value of type %q: %w", k.typ, err)
	}
	k.def, k.hasDef = v, true
	return k.checkRange()
}

// validChoices is GLib's is_valid_choices: every string in v (through
// arrays and maybes) is a member of info.
func validChoices(v any, info strinfo) bool {
	switch x := v.(type) {
	case string:
		return info.valid(x)
	case []any:
		for _, e := range x {
			if !validChoices(e, info) {
				return false
			}
		}
		return true
	case gvariant.Maybe:
		return !x.Valid || validChoices(x.Value, info)
	}
	return false
}

func (k *key) checkRange() error {
	if !k.hasDef {
		return nil
	}
	tag := "default"
	if k.isOverride {
		tag = "override"
	}
	if k.hasRange {
		if compare(k.def, k.min) < 0 || compare(k.def, k.max) > 0 {
			return fmt.Errorf("<%s> is not contained in the specified range", tag)
		}
	} else if len(k.info) > 0 && !validChoices(k.def, k.info) {
		switch {
		case k.isEnum:
			return fmt.Errorf("<%s> is not a valid member of the specified enumerated type", tag)
		case k.isFlags:
			return fmt.Errorf("<%s> contains string not in the specified flags type", tag)
		}
		return fmt.Errorf("<%s> contains a string not in <choices>", tag)
	}
	return nil
}

func cmpOrdered[T int64 | uint64](x, y T) int {
	switch {
	case x < y:
		return -1
	case x > y:
		return 1
	}
	return 0
}

// compare orders two numbers of the same type, as g_variant_compare.
func compare(a, b any) int {
	cmp := func(x, y float64) int {
		switch {
		case x < y:
			return -1
		case x > y:
			return 1
		}
		return 0
	}
	switch x := a.(type) {
	case uint8:
		return cmp(float64(x), float64(b.(uint8)))
	case int16:
		return cmp(float64(x), float64(b.(int16)))
	case uint16:
		return cmp(float64(x), float64(b.(uint16)))
	case int32:
		return cmp(float64(x), float64(b.(int32)))
	case uint32:
		return cmp(float64(x), float64(b.(uint32)))
	case int64:
		return cmpOrdered(x, b.(int64))
	case uint64:
		return cmpOrdered(x, b.(uint64))
	case float64:
		return cmp(x, b.(float64))
	}
	return 0
}

var rangeLimits = map[byte][2]string{
	'y': {"0", "255"},
	'n': {"-32768", "32767"},
	'q': {"0", "65535"},
	'i': {"-2147483648", "2147483647"},
	'u': {"0", "4294967295"},
	'x': {"-9223372036854775808", "9223372036854775807"},
	't': {"0", "18446744073709551615"},
	'd': {"-inf", "inf"},
}

func (k *key) setRange(minStr, maxStr *string) error {
	if k.hasRange {
		return errors.New("<range/> already specified for this key")
	}
	lim, ok := rangeLimits[k.typ[0]]
	if !ok || len(k.typ) != 1 {
		return fmt.Errorf("<range> not allowed for keys of type %q", k.typ)
	}
	lo, hi := lim[0], lim[1]
	if minStr != nil {
		lo = *minStr
	}
	if maxStr != nil {
		hi = *maxStr
	}
	var err error
	if k.min, err = ParseText(k.typ, lo); err != nil {
		return err
	}
	if k.max, err = ParseText(k.typ, hi); err != nil {
		return err
	}
	k.hasRange = true
	if compare(k.min, k.max) > 0 {
		return errors.New("<range> specified minimum is greater than maximum")
	}
	return k.checkRange()
}

func (k *key) addAlias(alias, target string) error {
	if k.info.contains(alias) {
		if k.info.valid(alias) {
			if k.isEnum {
				return fmt.Errorf("<alias value='%s'/> given when %q is already a member of the enumerated type", alias, alias)
			}
			return fmt.Errorf("<alias value='%s'/> given when <choice value='%s'/> was already given", alias, alias)
		}
		return fmt.Errorf("<alias value='%s'/> already specified", alias)
	}
	var ok bool
	if k.info, ok = k.info.appendAlias(alias, target); !ok {
		if k.isEnum {
			return fmt.Errorf("alias target %q is not in enumerated type", target)
		}
		return fmt.Errorf("alias target %q is not in <choices>", target)
	}
	k.hasAliases = true
	return nil
}
