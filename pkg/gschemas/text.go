package gschemas

import (
	"fmt"
	"math"
	"strconv"
	"strings"
	"unicode/utf8"

	"github.com/debatom/debatom/pkg/gvariant"
)

// maxNesting bounds the depth of parsed values and types so hostile
// text cannot exhaust the stack.
const maxNesting = 64

// ParseText parses s, a value in GVariant text format (what
// g_variant_parse reads, as in a schema's <default>), as type sig. It
// returns the value as the Go value gvariant.Marshal takes for sig.
func ParseText(sig, s string) (any, error) {
	if _, err := gvariant.ParseType(sig); err != nil {
		return nil, err
	}
	p := &textParser{s: s}
	v, _, err := p.value(sig, 0)
	if err != nil {
		return nil, err
	}
	p.space()
	if p.i < len(p.s) {
		return nil, p.errf("trailing text %q", p.rest(10))
	}
	return v, nil
}

type textParser struct {
	s string
	i int
}

func (p *textParser) errf(format string, args ...any) error {
	return fmt.Errorf("gvariant text at %d: %s", p.i, fmt.Sprintf(format, args...))
}

func (p *textParser) rest(n int) string {
	r := p.s[p.i:]
	if len(r) > n {
		r = r[:n]
	}
	return r
}

func (p *textParser) space() {
	for p.i < len(p.s) && isSpace(p.s[p.i]) {
		p.i++
	}
}

func isSpace(c byte) bool {
	return c == ' ' || c == '\t' || c == '\n' || c == '\r' || c == '\f' || c == '\v'
}

func (p *textParser) peek() byte {
	p.space()
	if p.i < len(p.s) {
		return p.s[p.i]
	}
	return 0
}

func (p *textParser) expect(c byte) error {
	if p.peek() != c {
		return p.errf("expected %q, found %q", c, p.rest(10))
	}
	p.i++
	return nil
}

// word reads an identifier or number token.
func (p *textParser) word() string {
	p.space()
	j := p.i
	for j < len(p.s) {
		c := p.s[j]
		if c >= 'a' && c <= 'z' || c >= 'A' && c <= 'Z' || c >= '0' && c <= '9' || c == '_' || c == '.' || c == '+' || c == '-' {
			j++
			continue
		}
		break
	}
	w := p.s[p.i:j]
	p.i = j
	return w
}

// firstType splits the first complete type off sig.
func firstType(sig string) (string, string, error) {
	n, err := typeLen(sig, 0)
	if err != nil {
		return "", "", err
	}
	return sig[:n], sig[n:], nil
}

func typeLen(sig string, depth int) (int, error) {
	if depth > maxNesting {
		return 0, fmt.Errorf("type nested too deeply")
	}
	if sig == "" {
		return 0, fmt.Errorf("incomplete type")
	}
	switch sig[0] {
	case 'b', 'y', 'n', 'q', 'i', 'u', 'x', 't', 'h', 'd', 's', 'o', 'g', 'v':
		return 1, nil
	case 'a', 'm':
		n, err := typeLen(sig[1:], depth+1)
		return n + 1, err
	case '(', '{':
		end := byte(')')
		if sig[0] == '{' {
			end = '}'
		}
		i := 1
		for i < len(sig) && sig[i] != end {
			n, err := typeLen(sig[i:], depth+1)
			if err != nil {
				return 0, err
			}
			i += n
		}
		if i >= len(sig) {
			return 0, fmt.Errorf("unterminated %q", sig)
		}
		return i + 1, nil
	}
	return 0, fmt.Errorf("bad type character %q", sig[0])
}

func fields(sig string) ([]string, error) {
	var out []string
	inner := sig[1 : len(sig)-1]
	for inner != "" {
		f, rest, err := firstType(inner)
		if err != nil {
			return nil, err
		}
		out = append(out, f)
		inner = rest
	}
	return out, nil
}

var keywordType = map[string]string{
	"boolean": "b", "byte": "y", "int16": "n", "uint16": "q", "int32": "i",
	"uint32": "u", "handle": "h", "int64": "x", "uint64": "t", "double": "d",
	"string": "s", "objectpath": "o", "signature": "g",
}

// value parses one value of type want ("" to infer it) and returns it
// with its type.
func (p *textParser) value(want string, depth int) (any, string, error) {
	if depth > maxNesting {
		return nil, "", p.errf("value nested too deeply")
	}
	c := p.peek()
	switch {
	case c == '@':
		p.i++
		j := p.i
		for j < len(p.s) && strings.IndexByte("bynqiuxthdsogvam(){}", p.s[j]) >= 0 {
			j++
		}
		sig := p.s[p.i:j]
		if _, err := gvariant.ParseType(sig); err != nil {
			return nil, "", p.errf("bad type annotation: %v", err)
		}
		if want != "" && want != sig {
			return nil, "", p.errf("annotation @%s where %s is expected", sig, want)
		}
		p.i = j
		return p.value(sig, depth+1)
	case want != "" && want[0] == 'm':
		return p.maybe(want, depth)
	case c == '[':
		return p.array(want, depth)
	case c == '(':
		return p.tuple(want, depth)
	case c == '{':
		return p.dict(want, depth)
	case c == '<':
		if want != "" && want != "v" {
			return nil, "", p.errf("variant where %s is expected", want)
		}
		p.i++
		v, sig, err := p.value("", depth+1)
		if err != nil {
			return nil, "", err
		}
		if err := p.expect('>'); err != nil {
			return nil, "", err
		}
		return gvariant.Variant{Type: sig, Value: v}, "v", nil
	case c == '\'' || c == '"':
		return p.stringValue(want)
	case c == 'b' && p.i+1 < len(p.s) && (p.s[p.i+1] == '\'' || p.s[p.i+1] == '"'):
		if want != "" && want != "ay" {
			return nil, "", p.errf("byte string where %s is expected", want)
		}
		p.i++
		s, err := p.quoted()
		if err != nil {
			return nil, "", err
		}
		return append([]byte(s), 0), "ay", nil
	case c == 0:
		return nil, "", p.errf("value expected, found end of text")
	}
	save := p.i
	w := p.word()
	if w == "" {
		return nil, "", p.errf("unexpected %q", p.rest(10))
	}
	switch w {
	case "true", "false":
		if want != "" && want != "b" {
			return nil, "", p.errf("boolean where %s is expected", want)
		}
		return w == "true", "b", nil
	case "nothing", "just":
		return nil, "", p.errf("%s needs a maybe type", w)
	}
	if kt, ok := keywordType[w]; ok {
		if want != "" && want != kt {
			return nil, "", p.errf("%s where %s is expected", w, want)
		}
		return p.value(kt, depth+1)
	}
	p.i = save
	return p.number(want)
}

func (p *textParser) maybe(want string, depth int) (any, string, error) {
	save := p.i
	switch p.word() {
	case "nothing":
		return gvariant.Maybe{}, want, nil
	case "just":
		v, _, err := p.value(want[1:], depth+1)
		if err != nil {
			return nil, "", err
		}
		return gvariant.Maybe{Valid: true, Value: v}, want, nil
	}
	p.i = save
	v, _, err := p.value(want[1:], depth+1)
	if err != nil {
		return nil, "", err
	}
	return gvariant.Maybe{Valid: true, Value: v}, want, nil
}

func (p *textParser) array(want string, depth int) (any, string, error) {
	if want != "" && want[0] != 'a' {
		return nil, "", p.errf("array where %s is expected", want)
	}
	p.i++ // '['
	elem := ""
	if want != "" {
		elem = want[1:]
	}
	var items []any
	for p.peek() != ']' {
		if len(items) > 0 {
			if err := p.expect(','); err != nil {
				return nil, "", err
			}
		}
		v, sig, err := p.value(elem, depth+1)
		if err != nil {
			return nil, "", err
		}
		elem = sig
		items = append(items, v)
	}
	p.i++
	if elem == "" {
		return nil, "", p.errf("cannot infer the type of an empty array")
	}
	if elem == "y" {
		b := make([]byte, len(items))
		for i, it := range items {
			b[i] = it.(uint8)
		}
		return b, "ay", nil
	}
	if items == nil {
		items = []any{}
	}
	return items, "a" + elem, nil
}

func (p *textParser) tuple(want string, depth int) (any, string, error) {
	if want != "" && want[0] != '(' {
		return nil, "", p.errf("tuple where %s is expected", want)
	}
	p.i++
	var fs []string
	if want != "" {
		var err error
		if fs, err = fields(want); err != nil {
			return nil, "", err
		}
	}
	tup := gvariant.Tuple{}
	sig := "("
	for p.peek() != ')' {
		if len(tup) > 0 {
			if err := p.expect(','); err != nil {
				return nil, "", err
			}
			// A one-tuple is written "(x,)".
			if len(tup) == 1 && p.peek() == ')' {
				break
			}
		}
		ft := ""
		if want != "" {
			if len(tup) >= len(fs) {
				return nil, "", p.errf("too many items for %s", want)
			}
			ft = fs[len(tup)]
		}
		v, s, err := p.value(ft, depth+1)
		if err != nil {
			return nil, "", err
		}
		tup = append(tup, v)
		sig += s
	}
	p.i++
	if want != "" && len(tup) != len(fs) {
		return nil, "", p.errf("%d items for %s", len(tup), want)
	}
	return tup, sig + ")", nil
}

// dict parses "{k: v, ...}" (a dictionary) or "{k, v}" (one entry).
func (p *textParser) dict(want string, depth int) (any, string, error) {
	p.i++
	var kt, vt string
	entry := false
	switch {
	case want == "":
	case strings.HasPrefix(want, "a{"):
		fs, err := fields(want[1:])
		if err != nil || len(fs) != 2 {
			return nil, "", p.errf("bad dictionary type %s", want)
		}
		kt, vt = fs[0], fs[1]
	case want[0] == '{':
		fs, err := fields(want)
		if err != nil || len(fs) != 2 {
			return nil, "", p.errf("bad entry type %s", want)
		}
		kt, vt, entry = fs[0], fs[1], true
	default:
		return nil, "", p.errf("dictionary where %s is expected", want)
	}
	if p.peek() == '}' {
		p.i++
		if entry || want == "" {
			return nil, "", p.errf("empty dictionary needs a dictionary type")
		}
		return []any{}, want, nil
	}
	k, ks, err := p.value(kt, depth+1)
	if err != nil {
		return nil, "", err
	}
	sep := p.peek()
	if sep == ',' && (want == "" || entry) {
		p.i++
		v, vs, err := p.value(vt, depth+1)
		if err != nil {
			return nil, "", err
		}
		if err := p.expect('}'); err != nil {
			return nil, "", err
		}
		return gvariant.Tuple{k, v}, "{" + ks + vs + "}", nil
	}
	if sep != ':' || entry {
		return nil, "", p.errf("expected ':' in dictionary")
	}
	var items []any
	for {
		if err := p.expect(':'); err != nil {
			return nil, "", err
		}
		v, vs, err := p.value(vt, depth+1)
		if err != nil {
			return nil, "", err
		}
		kt, vt = ks, vs
		items = append(items, gvariant.Tuple{k, v})
		if p.peek() == '}' {
			p.i++
			break
		}
		if err := p.expect(','); err != nil {
			return nil, "", err
		}
		if k, ks, err = p.value(kt, depth+1); err != nil {
			return nil, "", err
		}
	}
	return items, "a{" + kt + vt + "}", nil
}

func (p *textParser) stringValue(want string) (any, string, error) {
	s, err := p.quoted()
	if err != nil {
		return nil, "", err
	}
	if want == "" {
		want = "s"
	}
	switch want {
	case "s":
	case "o":
		if !validObjectPath(s) {
			return nil, "", p.errf("%q is not a valid object path", s)
		}
	case "g":
		if s != "" {
			if _, err := gvariant.ParseType("(" + s + ")"); err != nil {
				return nil, "", p.errf("%q is not a valid signature", s)
			}
		}
	default:
		return nil, "", p.errf("string where %s is expected", want)
	}
	return s, want, nil
}

func validObjectPath(s string) bool {
	if s == "/" {
		return true
	}
	if !strings.HasPrefix(s, "/") || strings.HasSuffix(s, "/") {
		return false
	}
	for _, el := range strings.Split(s[1:], "/") {
		if el == "" {
			return false
		}
		for _, c := range el {
			if !(c >= 'a' && c <= 'z' || c >= 'A' && c <= 'Z' || c >= '0' && c <= '9' || c == '_') {
				return false
			}
		}
	}
	return true
}

// quoted reads a '...' or "..." string with GVariant's escapes: \a \b
// \f \n \r \t \v, \uXXXX, \UXXXXXXXX, a backslash before a newline
// continues the line, and any other escaped character stands for itself.
func (p *textParser) quoted() (string, error) {
	q := p.s[p.i]
	p.i++
	var b strings.Builder
	for {
		if p.i >= len(p.s) {
			return "", p.errf("unterminated string")
		}
		c := p.s[p.i]
		switch {
		case c == q:
			p.i++
			if !utf8.ValidString(b.String()) {
				return "", p.errf("string is not valid UTF-8")
			}
			return b.String(), nil
		case c == 0:
			return "", p.errf("NUL in string")
		case c != '\\':
			b.WriteByte(c)
			p.i++
			continue
		}
		p.i++
		if p.i >= len(p.s) {
			return "", p.errf("unterminated string")
		}
		e := p.s[p.i]
		p.i++
		switch e {
		case 'a':
			b.WriteByte('\a')
		case 'b':
			b.WriteByte('\b')
		case 'f':
			b.WriteByte('\f')
		case 'n':
			b.WriteByte('\n')
		case 'r':
			b.WriteByte('\r')
		case 't':
			b.WriteByte('\t')
		case 'v':
			b.WriteByte('\v')
		case '\n':
		case 'u', 'U':
			n := 4
			if e == 'U' {
				n = 8
			}
			if p.i+n > len(p.s) {
				return "", p.errf("short unicode escape")
			}
			r, err := strconv.ParseUint(p.s[p.i:p.i+n], 16, 32)
			if err != nil || r == 0 || !utf8.ValidRune(rune(r)) {
				return "", p.errf("bad unicode escape")
			}
			b.WriteRune(rune(r))
			p.i += n
		default:
			b.WriteByte(e)
		}
	}
}

var intRange = map[string][2]float64{
	"y": {0, math.MaxUint8}, "n": {math.MinInt16, math.MaxInt16}, "q": {0, math.MaxUint16},
	"i": {math.MinInt32, math.MaxInt32}, "h": {math.MinInt32, math.MaxInt32}, "u": {0, math.MaxUint32},
}

func (p *textParser) number(want string) (any, string, error) {
	w := p.word()
	if w == "" {
		return nil, "", p.errf("number expected")
	}
	body := strings.TrimLeft(w, "+-")
	hex := strings.HasPrefix(body, "0x") || strings.HasPrefix(body, "0X")
	float := !hex && (strings.ContainsAny(body, ".eE") || body == "inf" || body == "nan")
	if want == "" {
		want = "i"
		if float {
			want = "d"
		}
	}
	if want == "d" {
		if strings.Contains(w, "_") {
			return nil, "", p.errf("bad number %q", w)
		}
		f, err := strconv.ParseFloat(w, 64)
		if err != nil && !strings.Contains(err.Error(), "range") {
			return nil, "", p.errf("bad number %q", w)
		}
		return f, "d", nil
	}
	if float || len(w)-len(body) > 1 {
		return nil, "", p.errf("bad integer %q", w)
	}
	neg := strings.HasPrefix(w, "-")
	base := 10
	digits := body
	switch {
	case hex:
		base, digits = 16, body[2:]
	case len(body) > 1 && body[0] == '0':
		base, digits = 8, body[1:]
	}
	if digits == "" || strings.ContainsAny(digits, "_+-") {
		return nil, "", p.errf("bad integer %q", w)
	}
	abs, err := strconv.ParseUint(digits, base, 64)
	if err != nil {
		return nil, "", p.errf("bad integer %q", w)
	}
	switch want {
	case "x":
		if neg && abs > 1<<63 || !neg && abs > math.MaxInt64 {
			return nil, "", p.errf("%q out of range for int64", w)
		}
		if neg {
			return int64(-abs), "x", nil
		}
		return int64(abs), "x", nil
	case "t":
		if neg && abs != 0 {
			return nil, "", p.errf("%q out of range for uint64", w)
		}
		return abs, "t", nil
	}
	r, ok := intRange[want]
	if !ok {
		return nil, "", p.errf("number where %s is expected", want)
	}
	if abs > 1<<32 {
		return nil, "", p.errf("%q out of range for %s", w, want)
	}
	v := float64(abs)
	if neg {
		v = -v
	}
	if v < r[0] || v > r[1] {
		return nil, "", p.errf("%q out of range for %s", w, want)
	}
	n := int64(v)
	switch want {
	case "y":
		return uint8(n), want, nil
	case "n":
		return int16(n), want, nil
	case "q":
		return uint16(n), want, nil
	case "u":
		return uint32(n), want, nil
	}
	return int32(n), want, nil
}
