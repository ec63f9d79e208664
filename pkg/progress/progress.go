// Package progress reports what a long operation is doing: a redrawn status
// line on a terminal, one JSON object per line for machines, or nothing.
//
// Stages call a Reporter; they never print themselves, so a library user
// embedding debatom gets silence by default (Discard).
package progress

import (
	"encoding/json"
	"fmt"
	"io"
	"strings"
	"sync"
	"time"
)

// Event is one report. Stage names a build stage ("resolve", "fetch",
// "unpack", ...); Done/Total count items or bytes as Unit says.
type Event struct {
	Time    time.Time `json:"time"`
	Stage   string    `json:"stage"`
	Kind    string    `json:"kind"` // "start", "progress", "end", "info", "warning"
	Done    int64     `json:"done,omitempty"`
	Total   int64     `json:"total,omitempty"`
	Unit    string    `json:"unit,omitempty"` // "bytes", "packages", "files", ...
	Message string    `json:"message,omitempty"`
	Elapsed float64   `json:"elapsed_seconds,omitempty"`
}

// Reporter receives events; implementations are safe for concurrent use.
type Reporter interface {
	Report(Event)
}

// Discard drops everything.
var Discard Reporter = discard{}

type discard struct{}

func (discard) Report(Event) {}

// JSON writes each event as one line of JSON.
func JSON(w io.Writer) Reporter { return &jsonReporter{w: w} }

type jsonReporter struct {
	mu sync.Mutex
	w  io.Writer
}

func (j *jsonReporter) Report(e Event) {
	if e.Time.IsZero() {
		e.Time = time.Now().UTC()
	}
	b, _ := json.Marshal(e)
	j.mu.Lock()
	defer j.mu.Unlock()
	j.w.Write(append(b, '\n'))
}

// Terminal redraws one status line per stage on w (a terminal) and prints a
// line when a stage ends, warnings as they come. Progress updates are
// throttled so a hot loop reporting every file costs nothing visible.
func Terminal(w io.Writer) Reporter { return &termReporter{w: w} }

type termReporter struct {
	mu     sync.Mutex
	w      io.Writer
	last   time.Time
	drawn  bool
	starts map[string]time.Time
}

func (t *termReporter) Report(e Event) {
	t.mu.Lock()
	defer t.mu.Unlock()
	now := time.Now()
	if t.starts == nil {
		t.starts = map[string]time.Time{}
	}
	switch e.Kind {
	case "start":
		t.starts[e.Stage] = now
		t.status(fmt.Sprintf("%-10s %s", e.Stage, e.Message))
	case "progress":
		if now.Sub(t.last) < 100*time.Millisecond && e.Done != e.Total {
			return
		}
		t.last = now
		t.status(fmt.Sprintf("%-10s %s %s", e.Stage, amount(e), rate(e, now.Sub(t.starts[e.Stage]))))
	case "end":
		t.clear()
		d := e.Elapsed
		if d == 0 {
			d = now.Sub(t.starts[e.Stage]).Seconds()
		}
		fmt.Fprintf(t.w, "%-10s %-50s %6.2fs\n", e.Stage, e.Message, d)
	case "warning":
		t.clear()
		fmt.Fprintf(t.w, "warning: %s: %s\n", e.Stage, e.Message)
	default:
		t.clear()
		fmt.Fprintf(t.w, "%-10s %s\n", e.Stage, e.Message)
	}
}

func (t *termReporter) status(s string) {
	if len(s) > 78 {
		s = s[:78]
	}
	fmt.Fprintf(t.w, "\r\x1b[K%s", s)
	t.drawn = true
}

func (t *termReporter) clear() {
	if t.drawn {
		fmt.Fprint(t.w, "\r\x1b[K")
		t.drawn = false
	}
}

func amount(e Event) string {
	if e.Unit == "bytes" {
		if e.Total > 0 {
			return fmt.Sprintf("%s / %s (%d%%)", Bytes(e.Done), Bytes(e.Total), 100*e.Done/e.Total)
		}
		return Bytes(e.Done)
	}
	if e.Total > 0 {
		return fmt.Sprintf("%d/%d %s", e.Done, e.Total, e.Unit)
	}
	return fmt.Sprintf("%d %s", e.Done, e.Unit)
}

func rate(e Event, elapsed time.Duration) string {
	if e.Unit != "bytes" || elapsed < 500*time.Millisecond || e.Done == 0 {
		return ""
	}
	r := float64(e.Done) / elapsed.Seconds()
	s := Bytes(int64(r)) + "/s"
	if e.Total > e.Done {
		eta := time.Duration(float64(e.Total-e.Done) / r * float64(time.Second)).Round(time.Second)
		s += " ETA " + eta.String()
	}
	return s
}

// Bytes formats n with a binary unit ("12.3 MiB").
func Bytes(n int64) string {
	const unit = 1024
	if n < unit {
		return fmt.Sprintf("%d B", n)
	}
	div, exp := int64(unit), 0
	for m := n / unit; m >= unit; m /= unit {
		div *= unit
		exp++
	}
	return fmt.Sprintf("%.1f %siB", float64(n)/float64(div), string("KMGTPE"[exp]))
}

// Stage is a helper that stamps events with a stage name and start time.
type Stage struct {
	r     Reporter
	name  string
	start time.Time
}

// Start reports the start of a stage and returns a handle for it.
func Start(r Reporter, name, msg string) *Stage {
	if r == nil {
		r = Discard
	}
	s := &Stage{r: r, name: name, start: time.Now()}
	r.Report(Event{Stage: name, Kind: "start", Message: msg})
	return s
}

// Progress reports done of total units.
func (s *Stage) Progress(done, total int64, unit string) {
	s.r.Report(Event{Stage: s.name, Kind: "progress", Done: done, Total: total, Unit: unit})
}

// Warn reports a warning; the build goes on.
func (s *Stage) Warn(format string, args ...any) {
	s.r.Report(Event{Stage: s.name, Kind: "warning", Message: strings.TrimSpace(fmt.Sprintf(format, args...))})
}

// End reports the end of the stage with a one-line summary and returns the
// elapsed time.
func (s *Stage) End(format string, args ...any) time.Duration {
	d := time.Since(s.start)
	s.r.Report(Event{Stage: s.name, Kind: "end", Message: fmt.Sprintf(format, args...), Elapsed: d.Seconds()})
	return d
}
