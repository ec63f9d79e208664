// Package script reads the simple commands out of a maintainer script
// without running it. Debian's postinst snippets (debhelper's and
// hand-written ones) call helper programs with literal arguments, maybe
// through a variable set at the top of the script; that much is recovered
// here. Control flow is ignored: every command found is reported, and the
// callers decide which ones a fresh installation would have run.
package script

import (
	"regexp"
	"strings"
)

// Command is one simple command: its words after quote removal and
// expansion of the variables the script assigned at its top level.
type Command struct {
	Line int // 1-based line where the command starts
	Args []string
	// Stdout is the file the command's output is redirected to with > or
	// >> ("" when none).
	Stdout string
	// Heredoc is the text of a here-document fed to the command.
	Heredoc string
	// Conds are the conditions of the enclosing if/while blocks, outermost
	// first, each as its words joined by spaces; "!" starts one whose else
	// branch holds the command.
	Conds []string
}

// maxVars bounds the variables remembered, and maxDepth the nesting
// tracked, so hostile input stays cheap.
const (
	maxVars  = 256
	maxDepth = 64
)

var heredocRE = regexp.MustCompile(`<<(-?)\s*['"]?([A-Za-z_][A-Za-z0-9_]*)['"]?`)

// Parse returns the commands of a shell script in order. Variables that the
// script never assigns, except DPKG_ROOT (empty during a normal
// installation), are left as written ("$1"), so callers can tell them apart.
func Parse(src []byte) []Command {
	vars := map[string]string{"DPKG_ROOT": ""}
	var out []Command
	var conds []string
	var loops []readLoop
	lines := strings.Split(string(src), "\n")
	for i := 0; i < len(lines); i++ {
		start := i + 1
		line := lines[i]
		// A trailing backslash continues the command on the next line.
		for strings.HasSuffix(line, "\\") && i+1 < len(lines) {
			i++
			line = line[:len(line)-1] + " " + lines[i]
		}
		// A here-document's body is data, not commands.
		heredoc, hasDoc := "", false
		if m := heredocRE.FindStringSubmatchIndex(line); m != nil && !inQuotes(line, m[0]) {
			hasDoc = true
			dash, word := line[m[2]:m[3]] == "-", line[m[4]:m[5]]
			line = line[:m[0]] + line[m[1]:]
			var body []string
			for i+1 < len(lines) {
				i++
				l := lines[i]
				if dash {
					l = strings.TrimLeft(l, "\t")
				}
				if l == word {
					break
				}
				body = append(body, l)
			}
			heredoc = strings.Join(body, "\n")
			if len(body) > 0 {
				heredoc += "\n"
			}
		}
		for _, words := range splitLine(line, vars) {
			var stdout string
			words, stdout = dropRedirections(words)
			if len(words) == 0 {
				continue
			}
			switch words[0] {
			case "fi", "done":
				if words[0] == "done" && len(loops) > 0 && loops[len(loops)-1].depth == len(conds) {
					l := loops[len(loops)-1]
					loops = loops[:len(loops)-1]
					if hasDoc {
						out = append(out[:l.start], unroll(out[l.start:], l.names, heredoc)...)
					}
				}
				if len(conds) > 0 {
					conds = conds[:len(conds)-1]
				}
			case "else":
				if len(conds) > 0 {
					conds[len(conds)-1] = "!" + strings.TrimPrefix(conds[len(conds)-1], "!")
				}
			}
			head := words[0]
			words = stripKeywords(words)
			if len(words) == 0 {
				continue
			}
			if len(words) == 1 {
				if k, v, ok := assignment(words[0]); ok {
					if len(vars) < maxVars {
						vars[k] = v
					}
					continue
				}
			}
			c := Command{Line: start, Args: words, Stdout: stdout, Conds: append([]string(nil), conds...)}
			if hasDoc {
				c.Heredoc = heredoc
			}
			out = append(out, c)
			switch head {
			case "if", "while", "until":
				if len(conds) < maxDepth {
					conds = append(conds, strings.Join(words, " "))
					if names, ok := readNames(head, words); ok {
						loops = append(loops, readLoop{depth: len(conds), start: len(out), names: names})
					}
				}
			case "elif":
				if len(conds) > 0 {
					conds[len(conds)-1] = strings.Join(words, " ")
				}
			}
		}
	}
	return out
}

// readLoop is an open "while read A B; do" loop: the conds depth inside
// it, where its body's commands start in the output, and the variables
// each line is read into.
type readLoop struct {
	depth, start int
	names        []string
}

// readNames recognises "while read [-r] NAME...".
func readNames(head string, words []string) ([]string, bool) {
	if head != "while" || len(words) < 2 || words[0] != "read" {
		return nil, false
	}
	names := words[1:]
	if names[0] == "-r" {
		names = names[1:]
	}
	for _, n := range names {
		if k, _, ok := assignment(n + "="); !ok || k != n {
			return nil, false
		}
	}
	return names, len(names) > 0
}

// maxUnrolled bounds the commands a here-document-fed loop expands to.
const maxUnrolled = 4096

// unroll repeats a "while read ...; do BODY; done <<EOF" loop's body once
// per line of the here-document, with the line's fields in the loop's
// variables (the last takes the rest of the line, as read does). Debian's
// postinsts feed tables of alternatives to update-alternatives this way.
func unroll(body []Command, names []string, doc string) []Command {
	var out []Command
	for _, line := range strings.Split(doc, "\n") {
		f := strings.Fields(line)
		if len(f) == 0 {
			continue
		}
		vals := map[string]string{}
		for i, n := range names {
			switch {
			case i >= len(f):
				vals[n] = ""
			case i == len(names)-1:
				vals[n] = strings.Join(f[i:], " ")
			default:
				vals[n] = f[i]
			}
		}
		for _, c := range body {
			if len(out) >= maxUnrolled {
				return out
			}
			c.Args = substAll(c.Args, vals)
			c.Conds = substAll(c.Conds, vals)
			out = append(out, c)
		}
	}
	return out
}

func substAll(ss []string, vals map[string]string) []string {
	out := make([]string, len(ss))
	for i, s := range ss {
		for {
			k := strings.IndexByte(s, '$')
			if k < 0 {
				out[i] += s
				break
			}
			n, v := expand(s[k:], vals)
			out[i] += s[:k] + v
			s = s[k+n:]
		}
	}
	return out
}

// inQuotes reports whether position k of line is inside quotes.
func inQuotes(line string, k int) bool {
	var q byte
	for i := 0; i < k && i < len(line); i++ {
		switch c := line[i]; {
		case q == 0 && (c == '\'' || c == '"'):
			q = c
		case c == q:
			q = 0
		}
	}
	return q != 0
}

// assignment recognises NAME=value.
func assignment(w string) (string, string, bool) {
	eq := strings.IndexByte(w, '=')
	if eq <= 0 {
		return "", "", false
	}
	for i, c := range w[:eq] {
		if !(c == '_' || c >= 'A' && c <= 'Z' || c >= 'a' && c <= 'z' || i > 0 && c >= '0' && c <= '9') {
			return "", "", false
		}
	}
	return w[:eq], w[eq+1:], true
}

// keywords that may precede a command on the same line.
var keywords = map[string]bool{
	"if": true, "then": true, "else": true, "elif": true, "do": true, "while": true,
	"until": true, "!": true, "{": true, "}": true, "(": true, ")": true, "fi": true,
	"done": true, "esac": true, "in_sysroot": true, "command": true,
}

func stripKeywords(w []string) []string {
	for len(w) > 0 && (keywords[w[0]] || strings.HasSuffix(w[0], ")") && len(w) > 1 && !strings.Contains(w[0], "(")) {
		w = w[1:]
	}
	// "case" patterns like "configure)" on their own are skipped above;
	// a bare ";;" never reaches here.
	return w
}

// splitLine splits one logical line into commands at ; && || | and drops
// redirections and comments.
func splitLine(line string, vars map[string]string) [][]string {
	var cmds [][]string
	var words []string
	var cur strings.Builder
	inWord := false
	flushWord := func() {
		if inWord {
			words = append(words, cur.String())
		}
		cur.Reset()
		inWord = false
	}
	flushCmd := func() {
		flushWord()
		if len(words) > 0 {
			cmds = append(cmds, words)
		}
		words = nil
	}
	for i := 0; i < len(line); i++ {
		c := line[i]
		switch {
		case c == '#' && !inWord:
			flushCmd()
			return cmds
		case c == ' ' || c == '\t':
			flushWord()
		case c == '&' && i > 0 && (line[i-1] == '>' || line[i-1] == '<'):
			cur.WriteByte(c) // 2>&1 is one redirection word
		case c == ';' || c == '&' || c == '|':
			flushCmd()
			for i+1 < len(line) && (line[i+1] == ';' || line[i+1] == '&' || line[i+1] == '|') {
				i++
			}
		case c == '\'':
			inWord = true
			j := strings.IndexByte(line[i+1:], '\'')
			if j < 0 {
				cur.WriteString(line[i+1:])
				i = len(line)
				break
			}
			cur.WriteString(line[i+1 : i+1+j])
			i += j + 1
		case c == '"':
			inWord = true
			j := i + 1
			for ; j < len(line) && line[j] != '"'; j++ {
				if line[j] == '\\' && j+1 < len(line) {
					j++
					cur.WriteByte(line[j])
					continue
				}
				if line[j] == '$' {
					n, s := expand(line[j:], vars)
					cur.WriteString(s)
					j += n - 1
					continue
				}
				cur.WriteByte(line[j])
			}
			i = j
		case c == '\\' && i+1 < len(line):
			inWord = true
			i++
			cur.WriteByte(line[i])
		case c == '$':
			// An unquoted expansion to nothing is no word at all.
			n, s := expand(line[i:], vars)
			if s != "" {
				inWord = true
			}
			cur.WriteString(s)
			i += n - 1
		default:
			inWord = true
			cur.WriteByte(c)
		}
	}
	flushCmd()
	return cmds
}

// expand reads one $NAME, ${NAME}, ${NAME:-x}, $(...) or $1 at the start
// of s and returns the bytes consumed and the text to use.
func expand(s string, vars map[string]string) (int, string) {
	if len(s) < 2 {
		return len(s), s
	}
	switch c := s[1]; {
	case c == '{':
		end := strings.IndexByte(s, '}')
		if end < 0 {
			return len(s), s
		}
		name, def := s[2:end], ""
		hasDef := false
		for _, op := range []string{":-", ":+", "-", "+"} {
			if k := strings.Index(name, op); k > 0 {
				if op == ":+" || op == "+" {
					// ${DPKG_ROOT:+--root=...} is empty when the variable is.
					if v := vars[name[:k]]; v == "" {
						return end + 1, ""
					}
				}
				name, def, hasDef = name[:k], name[k+len(op):], true
				break
			}
		}
		if v, ok := vars[name]; ok && (v != "" || !hasDef) {
			return end + 1, v
		}
		if hasDef {
			return end + 1, def
		}
		return end + 1, s[:end+1]
	case c == '(':
		depth := 0
		for i := 1; i < len(s); i++ {
			switch s[i] {
			case '(':
				depth++
			case ')':
				depth--
				if depth == 0 {
					return i + 1, s[:i+1]
				}
			}
		}
		return len(s), s
	case c >= '0' && c <= '9' || c == '@' || c == '*' || c == '#' || c == '?':
		return 2, s[:2]
	default:
		i := 1
		for i < len(s) && (s[i] == '_' || s[i] >= 'A' && s[i] <= 'Z' || s[i] >= 'a' && s[i] <= 'z' || s[i] >= '0' && s[i] <= '9') {
			i++
		}
		if i == 1 {
			return 1, "$"
		}
		if v, ok := vars[s[1:i]]; ok {
			return i, v
		}
		return i, s[:i]
	}
}

// dropRedirections removes ">/dev/null", "2>&1", "> file" and the like,
// and returns the file standard output goes to.
func dropRedirections(w []string) ([]string, string) {
	out := w[:0:0]
	stdout := ""
	for i := 0; i < len(w); i++ {
		word := w[i]
		fd := word[:len(word)-len(strings.TrimLeft(word, "0123456789"))]
		x := word[len(fd):]
		if strings.HasPrefix(x, ">") || strings.HasPrefix(x, "<") {
			target := strings.TrimLeft(x, "<>")
			if target == "" && i+1 < len(w) {
				i++ // the file name is the next word
				target = w[i]
			}
			if x[0] == '>' && (fd == "" || fd == "1") && !strings.HasPrefix(target, "&") {
				stdout = target
			}
			continue
		}
		out = append(out, w[i])
	}
	return out, stdout
}

// Calls returns the commands whose program (first word, path stripped) is
// name, with the program word removed from Args.
func Calls(cmds []Command, name string) []Command {
	var out []Command
	for _, c := range cmds {
		prog := c.Args[0]
		if k := strings.LastIndexByte(prog, '/'); k >= 0 {
			prog = prog[k+1:]
		}
		if prog == name {
			c.Args = c.Args[1:]
			out = append(out, c)
		}
	}
	return out
}
