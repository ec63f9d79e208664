// Package deb822 reads Debian control files: the stanza format of Packages,
// Release, dpkg status, .deb control members and deb822 .sources files.
//
// A Paragraph keeps its fields in file order, because some consumers (dpkg's
// status file, Release) are written back in the order they were read.
package deb822

import (
	"bufio"
	"bytes"
	"fmt"
	"io"
	"strings"
)

// Field is one "Name: value" pair. Value keeps continuation lines joined
// by "\n", each with its leading space removed (" ." stays ".").
type Field struct {
	Name  string
	Value string
}

// Paragraph is one stanza.
type Paragraph struct {
	Fields []Field
	// Line is the 1-based line of the stanza's first field, for error messages.
	Line int
}

// Get returns the value of the field name, compared case-insensitively as
// Debian policy requires, or "" when it is absent.
func (p *Paragraph) Get(name string) string {
	v, _ := p.Lookup(name)
	return v
}

// Lookup is Get that also reports presence.
func (p *Paragraph) Lookup(name string) (string, bool) {
	for i := range p.Fields {
		if strings.EqualFold(p.Fields[i].Name, name) {
			return p.Fields[i].Value, true
		}
	}
	return "", false
}

// Set replaces the field's value, or appends the field.
func (p *Paragraph) Set(name, value string) {
	for i := range p.Fields {
		if strings.EqualFold(p.Fields[i].Name, name) {
			p.Fields[i].Value = value
			return
		}
	}
	p.Fields = append(p.Fields, Field{Name: name, Value: value})
}

// WriteTo writes the paragraph in control-file form, without the blank line
// that separates it from the next one.
func (p *Paragraph) WriteTo(w io.Writer) (int64, error) {
	var b bytes.Buffer
	for _, f := range p.Fields {
		b.WriteString(f.Name)
		b.WriteByte(':')
		lines := strings.Split(f.Value, "\n")
		if lines[0] != "" {
			b.WriteByte(' ')
			b.WriteString(lines[0])
		}
		b.WriteByte('\n')
		for _, l := range lines[1:] {
			b.WriteByte(' ')
			b.WriteString(l)
			b.WriteByte('\n')
		}
	}
	n, err := w.Write(b.Bytes())
	return int64(n), err
}

// Reader yields paragraphs one at a time, so an index of tens of megabytes is
// never held whole.
type Reader struct {
	s    *bufio.Scanner
	name string
	line int
}

// NewReader reads paragraphs from r; name is used in error messages.
func NewReader(r io.Reader, name string) *Reader {
	s := bufio.NewScanner(r)
	s.Buffer(make([]byte, 0, 64*1024), 16*1024*1024)
	return &Reader{s: s, name: name}
}

// Next returns the next paragraph, or io.EOF after the last one.
func (r *Reader) Next() (*Paragraph, error) {
	var p *Paragraph
	for r.s.Scan() {
		r.line++
		line := r.s.Text()
		if strings.HasPrefix(line, "#") && p == nil {
			continue // deb822 .sources allow comment lines
		}
		if strings.TrimSpace(line) == "" {
			if p != nil {
				return p, nil
			}
			continue
		}
		if line[0] == ' ' || line[0] == '\t' {
			if p == nil || len(p.Fields) == 0 {
				return nil, fmt.Errorf("%s:%d: continuation line outside a field", r.name, r.line)
			}
			f := &p.Fields[len(p.Fields)-1]
			f.Value += "\n" + line[1:]
			continue
		}
		if strings.HasPrefix(line, "#") {
			continue
		}
		colon := strings.IndexByte(line, ':')
		if colon <= 0 {
			return nil, fmt.Errorf("%s:%d: line is not a field (no \"Name:\"): %.60q", r.name, r.line, line)
		}
		if p == nil {
			p = &Paragraph{Line: r.line}
		}
		p.Fields = append(p.Fields, Field{
			Name:  line[:colon],
			Value: strings.TrimSpace(line[colon+1:]),
		})
	}
	if err := r.s.Err(); err != nil {
		return nil, fmt.Errorf("%s:%d: %w", r.name, r.line, err)
	}
	if p != nil {
		return p, nil
	}
	return nil, io.EOF
}

// ReadAll reads every paragraph. It reads r whole and uses Parse, which
// gives the same paragraphs as Reader (a fuzz target checks this) at a
// fraction of the cost.
func ReadAll(r io.Reader, name string) ([]*Paragraph, error) {
	data, err := io.ReadAll(r)
	if err != nil {
		return nil, fmt.Errorf("%s: %w", name, err)
	}
	return Parse(data, name)
}
