// Package boottest proves debatom's disk images boot, upgrade and roll back:
// its test builds the frozen archive's package set, writes a qcow2 image,
// boots it under QEMU with OVMF (TCG, no KVM) and drives the serial console.
// This file holds the console driver; the package has no exported API.
package boottest

import (
	"bytes"
	"context"
	"fmt"
	"io"
	"os"
	"os/exec"
	"regexp"
	"strings"
	"sync"
	"time"
)

// vm is a running QEMU whose serial console is on its stdin/stdout.
type vm struct {
	cmd   *exec.Cmd
	stdin io.WriteCloser

	mu   sync.Mutex
	buf  bytes.Buffer
	mark int // console output before mark has been consumed by expect
	done chan struct{}
	err  error
	seq  int
}

func startVM(ctx context.Context, qemu string, args []string) (*vm, error) {
	cmd := exec.CommandContext(ctx, qemu, args...)
	in, err := cmd.StdinPipe()
	if err != nil {
		return nil, err
	}
	out, err := cmd.StdoutPipe()
	if err != nil {
		return nil, err
	}
	cmd.Stderr = cmd.Stdout
	v := &vm{cmd: cmd, stdin: in, done: make(chan struct{})}
	// DEBATOM_TEST_CONSOLE names a file that receives the console as it
	// runs, for watching a slow boot.
	var log io.Writer = io.Discard
	if p := os.Getenv("DEBATOM_TEST_CONSOLE"); p != "" {
		f, err := os.Create(p)
		if err != nil {
			return nil, err
		}
		log = f
	}
	if err := cmd.Start(); err != nil {
		return nil, fmt.Errorf("starting %s: %w", qemu, err)
	}
	go func() {
		b := make([]byte, 4096)
		for {
			n, err := out.Read(b)
			v.mu.Lock()
			v.buf.Write(b[:n])
			log.Write(b[:n])
			v.mu.Unlock()
			if err != nil {
				break
			}
		}
		v.err = cmd.Wait()
		close(v.done)
	}()
	return v, nil
}

// expect waits until re matches console output after the last match and
// returns the submatches.
func (v *vm) expect(re *regexp.Regexp, timeout time.Duration) ([]string, error) {
	deadline := time.Now().Add(timeout)
	for {
		v.mu.Lock()
		s := v.buf.String()[v.mark:]
		if loc := re.FindStringSubmatchIndex(s); loc != nil {
			m := make([]string, len(loc)/2)
			for i := range m {
				if loc[2*i] >= 0 {
					m[i] = s[loc[2*i]:loc[2*i+1]]
				}
			}
			v.mark += loc[1]
			v.mu.Unlock()
			return m, nil
		}
		v.mu.Unlock()
		select {
		case <-v.done:
			return nil, fmt.Errorf("QEMU exited (%v) while waiting for %q", v.err, re)
		case <-time.After(200 * time.Millisecond):
		}
		if time.Now().After(deadline) {
			return nil, fmt.Errorf("no %q on the console within %v", re, timeout)
		}
	}
}

func (v *vm) send(s string) error {
	_, err := io.WriteString(v.stdin, s)
	return err
}

// run types a shell command and returns its output and exit status. The
// end marker is computed by the shell, so the echoed command line cannot
// match it.
func (v *vm) run(command string, timeout time.Duration) (string, int, error) {
	v.seq++
	n := 1000 + v.seq
	start := fmt.Sprintf("@@S%d@@", n)
	if err := v.send(fmt.Sprintf("echo @@S$((%d))@@; %s; echo \"@@E$((%d)) rc=$?@@\"\n", n, command, n)); err != nil {
		return "", 0, err
	}
	if _, err := v.expect(regexp.MustCompile(regexp.QuoteMeta(start)), timeout); err != nil {
		return "", 0, err
	}
	m, err := v.expect(regexp.MustCompile(fmt.Sprintf(`(?s)^(.*?)@@E%d rc=(\d+)@@`, n)), timeout)
	if err != nil {
		return "", 0, fmt.Errorf("%s: %w", command, err)
	}
	rc := 0
	fmt.Sscan(m[2], &rc)
	return strings.TrimSpace(strings.ReplaceAll(m[1], "\r", "")), rc, nil
}

// tail returns the last n lines of the console.
func (v *vm) tail(n int) string {
	v.mu.Lock()
	defer v.mu.Unlock()
	lines := strings.Split(strings.ReplaceAll(v.buf.String(), "\r", ""), "\n")
	if len(lines) > n {
		lines = lines[len(lines)-n:]
	}
	return strings.Join(lines, "\n")
}

// wait waits for QEMU to exit.
func (v *vm) wait(timeout time.Duration) error {
	select {
	case <-v.done:
		return nil
	case <-time.After(timeout):
		return fmt.Errorf("QEMU still running after %v", timeout)
	}
}

func (v *vm) kill() {
	if v.cmd.Process != nil {
		v.cmd.Process.Kill()
	}
	<-v.done
}
