package gschemas

import (
	"errors"
	"fmt"
	"strings"

	"github.com/debatom/debatom/pkg/gvariant"
	"github.com/debatom/debatom/pkg/gvdb"
)

// keyFile is what GKeyFile keeps of an override file: groups and their
// keys in first-seen order, the last value of a repeated key.
type keyFile struct {
	groups []string
	keys   map[string][]string
	values map[string]map[string]string
}

func parseKeyFile(data []byte) (*keyFile, error) {
	kf := &keyFile{keys: map[string][]string{}, values: map[string]map[string]string{}}
	group := ""
	for n, line := range strings.Split(string(data), "\n") {
		line = strings.TrimSuffix(line, "\r")
		t := strings.TrimLeft(line, " \t\n\r\f\v")
		switch {
		case t == "" || t[0] == '#':
			continue
		case t[0] == '[':
			end := strings.LastIndexByte(t, ']')
			if end < 0 || strings.TrimRight(t[end+1:], " \t") != "" || end == 1 {
				return nil, fmt.Errorf("line %d: invalid group %q", n+1, t)
			}
			group = t[1:end]
			if _, ok := kf.values[group]; !ok {
				kf.groups = append(kf.groups, group)
				kf.values[group] = map[string]string{}
			}
			continue
		}
		eq := strings.IndexByte(t, '=')
		if eq < 0 {
			return nil, fmt.Errorf("line %d: %q is not a group, key or comment", n+1, t)
		}
		if group == "" {
			return nil, errors.New("key file does not start with a group")
		}
		k := strings.TrimRight(t[:eq], " \t")
		if k == "" {
			return nil, fmt.Errorf("line %d: empty key", n+1)
		}
		v := strings.TrimLeft(t[eq+1:], " \t")
		if _, ok := kf.values[group][k]; !ok {
			kf.keys[group] = append(kf.keys[group], k)
		}
		kf.values[group][k] = v
	}
	return kf, nil
}

// applyOverrides applies one override file. Problems are warnings unless
// strict, when they fail the compilation.
func (c *compiler) applyOverrides(f File, strict bool, warnings *[]error) error {
	warn := func(err error) error {
		if strict {
			return err
		}
		*warnings = append(*warnings, fmt.Errorf("gschemas: %s: %w", f.Name, err))
		return nil
	}
	kf, err := parseKeyFile(f.Data)
	if err != nil {
		return warn(fmt.Errorf("%w; file ignored", err))
	}
	for _, group := range kf.groups {
		name, desktop, hasDesktop := strings.Cut(group, ":")
		s := c.schemas[name]
		if s == nil {
			continue // schemas not installed are expected
		}
		for _, kn := range kf.keys[group] {
			k := s.keys[kn]
			if k == nil || k.child != nil {
				if err := warn(fmt.Errorf("no such key %q in schema %q; override ignored", kn, group)); err != nil {
					return err
				}
				continue
			}
			if hasDesktop && k.l10n != 0 {
				if err := warn(fmt.Errorf("cannot provide per-desktop overrides for localised key %q in schema %q; override ignored", kn, group)); err != nil {
					return err
				}
				continue
			}
			v, err := ParseText(k.typ, kf.values[group][kn])
			if err != nil {
				if err := warn(fmt.Errorf("key %q in schema %q: %w; override ignored", kn, group, err)); err != nil {
					return err
				}
				continue
			}
			if k.hasRange {
				if compare(v, k.min) < 0 || compare(v, k.max) > 0 {
					if err := warn(fmt.Errorf("override for key %q in schema %q is outside the range given in the schema; override ignored", kn, group)); err != nil {
						return err
					}
					continue
				}
			} else if len(k.info) > 0 && !validChoices(v, k.info) {
				if err := warn(fmt.Errorf("override for key %q in schema %q is not in the list of valid choices; override ignored", kn, group)); err != nil {
					return err
				}
				continue
			}
			if hasDesktop {
				if k.desktop == nil {
					k.desktop = map[string]any{}
				}
				if _, ok := k.desktop[desktop]; !ok {
					k.deskOrder = append(k.deskOrder, desktop)
				}
				k.desktop[desktop] = gvariant.Variant{Type: k.typ, Value: v}
			} else {
				k.def = v
			}
		}
	}
	return nil
}

// serialize is GLib's key_state_serialise: a child's schema id, or the
// tuple of the default and whichever of localisation, choices, range and
// per-desktop defaults the key has.
func (k *key) serialize() (gvariant.Variant, error) {
	if k.child != nil {
		return gvariant.Variant{Type: "s", Value: *k.child}, nil
	}
	sig := "(" + k.typ
	tup := gvariant.Tuple{k.def}
	if k.l10n != 0 {
		// GSettings translates the default as written, without the
		// surrounding whitespace, with any context before a \004.
		msg := strings.Trim(k.unparsed, " \t\n\r\f\v")
		if k.context != nil {
			msg = *k.context + "\x04" + msg
		}
		sig += "(y(ys))"
		tup = append(tup, gvariant.Tuple{uint8('l'), gvariant.Tuple{k.l10n, msg}})
	}
	if len(k.info) > 0 {
		tag := uint8('c')
		switch {
		case k.isFlags:
			tag = 'f'
		case k.isEnum:
			tag = 'e'
		}
		sig += "(yau)"
		tup = append(tup, gvariant.Tuple{tag, k.info.words()})
	}
	if k.hasRange {
		sig += "(y(" + k.typ + k.typ + "))"
		tup = append(tup, gvariant.Tuple{uint8('r'), gvariant.Tuple{k.min, k.max}})
	}
	if k.desktop != nil {
		sig += "(ya{sv})"
		var d []any
		for _, id := range gvariant.GLibDictOrder(k.deskOrder) {
			d = append(d, gvariant.Tuple{id, k.desktop[id]})
		}
		tup = append(tup, gvariant.Tuple{uint8('d'), d})
	}
	return gvariant.Variant{Type: sig + ")", Value: tup}, nil
}

// output lays out the tables as glib-compile-schemas' write_to_file: a
// root table of schema ids, each a table of its keys plus .path,
// .extends, .list-of and .gettext-domain, each table with an item ""
// listing its entries. Tables are filled walking GLib's own hash tables,
// so the insertion orders reproduce theirs.
func (c *compiler) output() ([]byte, error) {
	root := gvdb.NewTable()
	rootList := root.Insert("")
	for _, id := range c.schemaSlots.Order() {
		s := c.schemas[id]
		t := gvdb.NewTable()
		list := t.Insert("")
		item := root.Insert(id)
		item.SetParent(rootList)
		item.SetTable(t)
		l10n := false
		for _, kn := range gvariant.GLibDictOrder(s.order) {
			k := s.keys[kn]
			v, err := k.serialize()
			if err != nil {
				return nil, err
			}
			b, err := gvariant.Marshal("v", v)
			if err != nil {
				return nil, fmt.Errorf("gschemas: schema %s key %s: %w", id, kn, err)
			}
			ki := t.Insert(kn)
			ki.SetParent(list)
			ki.SetValue(b)
			if k.l10n != 0 {
				l10n = true
			}
		}
		if s.path != nil {
			t.InsertString(".path", *s.path)
		}
		if s.extendsName != nil {
			t.InsertString(".extends", *s.extendsName)
		}
		if s.listOf != nil {
			t.InsertString(".list-of", *s.listOf)
		}
		if l10n && s.domain != nil {
			t.InsertString(".gettext-domain", *s.domain)
		}
	}
	return root.Bytes(), nil
}
