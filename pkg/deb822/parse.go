package deb822

import (
	"fmt"
	"strings"
)

// Parse reads every paragraph of data in one pass, with the same rules and
// results as Reader. It is the fast path for whole indexes already in
// memory: field values are substrings of one copy of data, and paragraphs
// and fields are carved out of a few large slabs, so a 56 MB Packages file
// costs a handful of allocations per thousand stanzas instead of several per
// line.
func Parse(data []byte, name string) ([]*Paragraph, error) {
	return ParseString(string(data), name)
}

// ParseString is Parse for text already held as a string; values share its
// memory, so the whole string stays alive as long as any value does.
func ParseString(s string, name string) ([]*Paragraph, error) {
	var (
		out     []*Paragraph
		paras   []Paragraph // slab
		fields  []Field     // slab; the current paragraph's fields are fields[start:]
		start   int
		cur     *Paragraph
		lineNo  int
		pending bool // the last field has continuation lines in cont
		cont    strings.Builder
	)
	// Rough guesses that keep slab refills rare for Packages files.
	const paraSlab, fieldSlab = 1024, 16384
	flushCont := func() {
		if pending {
			fields[len(fields)-1].Value = cont.String()
			cont.Reset()
			pending = false
		}
	}
	endPara := func() {
		flushCont()
		cur.Fields = fields[start:len(fields):len(fields)]
		start = len(fields)
		out = append(out, cur)
		cur = nil
	}
	for pos := 0; pos < len(s); {
		var line string
		if nl := strings.IndexByte(s[pos:], '\n'); nl >= 0 {
			line = s[pos : pos+nl]
			pos += nl + 1
		} else {
			line = s[pos:]
			pos = len(s)
		}
		lineNo++
		// bufio.ScanLines drops one trailing CR; Reader sees lines that way.
		if len(line) > 0 && line[len(line)-1] == '\r' {
			line = line[:len(line)-1]
		}
		if cur == nil && len(line) > 0 && line[0] == '#' {
			continue
		}
		if isBlank(line) {
			if cur != nil {
				endPara()
			}
			continue
		}
		if line[0] == ' ' || line[0] == '\t' {
			if cur == nil {
				return nil, fmt.Errorf("%s:%d: continuation line outside a field", name, lineNo)
			}
			if !pending {
				cont.WriteString(fields[len(fields)-1].Value)
				pending = true
			}
			cont.WriteByte('\n')
			cont.WriteString(line[1:])
			continue
		}
		if line[0] == '#' {
			continue
		}
		colon := strings.IndexByte(line, ':')
		if colon <= 0 {
			return nil, fmt.Errorf("%s:%d: line is not a field (no \"Name:\"): %.60q", name, lineNo, line)
		}
		flushCont()
		if cur == nil {
			if len(paras) == cap(paras) {
				paras = make([]Paragraph, 0, paraSlab)
			}
			paras = append(paras, Paragraph{Line: lineNo})
			cur = &paras[len(paras)-1]
		}
		if len(fields) == cap(fields) {
			// Move the paragraph's fields so far to a fresh slab; they must
			// stay contiguous.
			n := make([]Field, len(fields)-start, max(fieldSlab, 2*(len(fields)-start)))
			copy(n, fields[start:])
			fields, start = n, 0
		}
		fields = append(fields, Field{Name: line[:colon], Value: trimSpace(line[colon+1:])})
	}
	if cur != nil {
		endPara()
	}
	return out, nil
}

// isBlank reports whether strings.TrimSpace(line) == "", without its cost on
// the common ASCII path.
func isBlank(line string) bool {
	for i := 0; i < len(line); i++ {
		switch c := line[i]; {
		case c == ' ' || c == '\t' || c == '\v' || c == '\f' || c == '\r' || c == '\n':
		case c >= 0x80:
			return strings.TrimSpace(line[i:]) == ""
		default:
			return false
		}
	}
	return true
}

// trimSpace is strings.TrimSpace with a shortcut for values that need no
// trimming, the common case after "Name: ".
func trimSpace(v string) string {
	if len(v) > 1 && v[0] == ' ' && v[1] > ' ' && v[1] < 0x80 {
		if c := v[len(v)-1]; c > ' ' && c < 0x80 {
			return v[1:]
		}
	}
	return strings.TrimSpace(v)
}
