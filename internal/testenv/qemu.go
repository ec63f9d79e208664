package testenv

import (
	"bytes"
	"context"
	"fmt"
	"io"
	"os"
	"os/exec"
	"path/filepath"
	"regexp"
	"strconv"
	"strings"
	"sync"
	"testing"
	"time"
)

// OVMF returns the UEFI firmware's code image and the template of its
// variable store (the 4 MiB split build Debian's ovmf package ships),
// skipping (or, under Strict, failing) when it is not installed. A VM must
// not write to the template: StartVM copies it per VM.
func OVMF(t testing.TB) (code, vars string) {
	t.Helper()
	code, vars = "/usr/share/OVMF/OVMF_CODE_4M.fd", "/usr/share/OVMF/OVMF_VARS_4M.fd"
	for _, p := range []string{code, vars} {
		if _, err := os.Stat(p); err != nil {
			if Strict() {
				t.Fatalf("OVMF firmware: %v (DEBATOM_TEST_ORACLES=1; apt-get install ovmf)", err)
			}
			t.Skip("no OVMF firmware; apt-get install ovmf")
		}
	}
	return code, vars
}

// Disk is a drive of a test VM, attached as virtio-blk.
type Disk struct {
	File   string
	Format string // "raw" or "qcow2"
	// ReadOnly attaches the image read-only; Snapshot lets the guest write
	// but keeps the writes in a temporary overlay, so the file is unchanged.
	ReadOnly, Snapshot bool
}

// VMOptions describe a test VM: always a q35 machine under TCG (nested KVM
// trips over OVMF on some hosts, and CI has none) with its first serial
// port as the console on the VM's standard input and output, no display,
// no monitor and no network.
type VMOptions struct {
	// UEFI boots through OVMF; otherwise QEMU's default BIOS runs, which
	// is enough for a direct Kernel boot.
	UEFI bool
	// MemoryMiB defaults to 256, CPUs to 1. CPU is the -cpu model (QEMU's
	// default if empty).
	MemoryMiB, CPUs int
	CPU             string
	Disks           []Disk
	CDROM           string
	// Kernel, Initrd and Append boot a kernel directly (-kernel etc.).
	Kernel, Initrd, Append string
	// NoReboot makes a guest reboot end QEMU, for one-shot boots that
	// should not loop on a failure.
	NoReboot bool
}

// Args returns QEMU's command line for o. vars is the VM's own copy of the
// OVMF variable store (ignored unless o.UEFI).
func (o VMOptions) Args(code, vars string) []string {
	mem, cpus := o.MemoryMiB, o.CPUs
	if mem == 0 {
		mem = 256
	}
	if cpus == 0 {
		cpus = 1
	}
	args := []string{"-machine", "q35,accel=tcg", "-m", strconv.Itoa(mem), "-smp", strconv.Itoa(cpus),
		"-display", "none", "-serial", "stdio", "-monitor", "none", "-nic", "none"}
	if o.CPU != "" {
		args = append(args, "-cpu", o.CPU)
	}
	if o.NoReboot {
		args = append(args, "-no-reboot")
	}
	if o.UEFI {
		args = append(args,
			"-drive", "if=pflash,format=raw,readonly=on,file="+code,
			"-drive", "if=pflash,format=raw,file="+vars)
	}
	for _, d := range o.Disks {
		spec := "file=" + d.File + ",format=" + d.Format + ",if=virtio"
		if d.ReadOnly {
			spec += ",readonly=on"
		}
		if d.Snapshot {
			spec += ",snapshot=on"
		}
		args = append(args, "-drive", spec)
	}
	if o.CDROM != "" {
		args = append(args, "-cdrom", o.CDROM)
	}
	if o.Kernel != "" {
		args = append(args, "-kernel", o.Kernel)
		if o.Initrd != "" {
			args = append(args, "-initrd", o.Initrd)
		}
		if o.Append != "" {
			args = append(args, "-append", o.Append)
		}
	}
	return args
}

// VM is a running QEMU whose serial console is read into a transcript and
// written through Send. Its methods may be called from one goroutine at a
// time (the test's).
type VM struct {
	cmd   *exec.Cmd
	stdin io.WriteCloser
	start time.Time

	mu      sync.Mutex
	buf     bytes.Buffer  // the whole console transcript
	mark    int           // buf before mark has been consumed by Expect
	changed chan struct{} // closed and replaced whenever buf grows

	done chan struct{} // closed when QEMU has exited and its output is read
	err  error         // QEMU's exit, valid once done is closed
	seq  int           // numbers Run's markers
}

// consoleTailLines is how much of the transcript a failed test logs.
const consoleTailLines = 80

// StartVM starts QEMU for o under ctx (cancelling ctx kills it). A cleanup
// kills it when the test ends and, if the test failed, logs the last
// lines of the console. Missing QEMU or OVMF skip the test, or fail it
// under Strict. DEBATOM_TEST_CONSOLE names a file that receives the
// console as it runs, for watching a slow boot.
func StartVM(ctx context.Context, t testing.TB, o VMOptions) *VM {
	t.Helper()
	qemu := Tool(t, "qemu-system-x86_64")
	var code, vars string
	if o.UEFI {
		var template string
		code, template = OVMF(t)
		// The firmware writes its boot entries into the store; each VM
		// gets its own copy so runs cannot see each other's.
		b, err := os.ReadFile(template)
		if err != nil {
			t.Fatalf("OVMF variable store: %v", err)
		}
		vars = filepath.Join(t.TempDir(), "OVMF_VARS.fd")
		if err := os.WriteFile(vars, b, 0o644); err != nil {
			t.Fatalf("copying the OVMF variable store: %v", err)
		}
	}
	return startConsole(ctx, t, qemu, o.Args(code, vars))
}

// startConsole runs a program whose standard input and output are a
// console, with StartVM's cleanup and transcript.
func startConsole(ctx context.Context, t testing.TB, prog string, args []string) *VM {
	t.Helper()
	var live io.Writer = io.Discard
	if p := os.Getenv("DEBATOM_TEST_CONSOLE"); p != "" {
		f, err := os.Create(p)
		if err != nil {
			t.Fatalf("DEBATOM_TEST_CONSOLE: %v", err)
		}
		t.Cleanup(func() { f.Close() })
		live = f
	}
	cmd := exec.CommandContext(ctx, prog, args...)
	stdin, err := cmd.StdinPipe()
	if err != nil {
		t.Fatalf("console input of %s: %v", prog, err)
	}
	stdout, err := cmd.StdoutPipe()
	if err != nil {
		t.Fatalf("console output of %s: %v", prog, err)
	}
	cmd.Stderr = cmd.Stdout // QEMU's own complaints belong in the transcript
	v := &VM{cmd: cmd, stdin: stdin, changed: make(chan struct{}), done: make(chan struct{})}
	v.start = time.Now()
	if err := cmd.Start(); err != nil {
		t.Fatalf("starting %s: %v", prog, err)
	}
	go v.read(stdout, live)
	t.Cleanup(func() {
		v.Kill()
		if t.Failed() {
			t.Logf("%s ran %v; last %d console lines:\n%s", filepath.Base(prog), v.Elapsed().Round(time.Second), consoleTailLines, v.Tail(consoleTailLines))
		}
	})
	return v
}

func (v *VM) read(out io.Reader, live io.Writer) {
	b := make([]byte, 32<<10)
	for {
		n, err := out.Read(b)
		if n > 0 {
			v.mu.Lock()
			v.buf.Write(b[:n])
			live.Write(b[:n])
			close(v.changed)
			v.changed = make(chan struct{})
			v.mu.Unlock()
		}
		if err != nil {
			break
		}
	}
	v.err = v.cmd.Wait()
	close(v.done)
}

// Elapsed returns the time since QEMU started.
func (v *VM) Elapsed() time.Duration { return time.Since(v.start) }

// Wait waits until cond, called with the console output not yet consumed
// by Expect, reports true. It fails when QEMU exits first or timeout
// passes.
func (v *VM) Wait(timeout time.Duration, cond func(console []byte) bool) error {
	timer := time.NewTimer(timeout)
	defer timer.Stop()
	for {
		v.mu.Lock()
		ok := cond(v.buf.Bytes()[v.mark:])
		changed := v.changed
		v.mu.Unlock()
		if ok {
			return nil
		}
		select {
		case <-changed:
		case <-v.done:
			// The output is complete: one last look.
			v.mu.Lock()
			ok := cond(v.buf.Bytes()[v.mark:])
			v.mu.Unlock()
			if ok {
				return nil
			}
			return fmt.Errorf("QEMU exited (%v) after %v", v.err, v.Elapsed().Round(time.Second))
		case <-timer.C:
			return fmt.Errorf("timed out after %v", timeout)
		}
	}
}

// Expect waits until re matches the console output after the previous
// match, consumes the output up to the end of this match and returns the
// submatches.
func (v *VM) Expect(re *regexp.Regexp, timeout time.Duration) ([]string, error) {
	var m []string
	err := v.Wait(timeout, func(s []byte) bool {
		loc := re.FindSubmatchIndex(s)
		if loc == nil {
			return false
		}
		m = make([]string, len(loc)/2)
		for i := range m {
			if loc[2*i] >= 0 {
				m[i] = string(s[loc[2*i]:loc[2*i+1]])
			}
		}
		v.mark += loc[1] // cond runs under v.mu
		return true
	})
	if err != nil {
		return nil, fmt.Errorf("waiting for %q on the console: %w", re, err)
	}
	return m, nil
}

// Send types s on the console.
func (v *VM) Send(s string) error {
	if _, err := io.WriteString(v.stdin, s); err != nil {
		return fmt.Errorf("console input: %w", err)
	}
	return nil
}

// Run types a shell command at a shell prompt and returns its output and
// exit status. The end marker is computed by the shell, so the echoed
// command line cannot match it. The shell should not echo (stty -echo)
// for the output to hold only the command's.
func (v *VM) Run(command string, timeout time.Duration) (string, int, error) {
	v.seq++
	n := 1000 + v.seq
	if err := v.Send(fmt.Sprintf("echo @@S$((%d))@@; %s; echo \"@@E$((%d)) rc=$?@@\"\n", n, command, n)); err != nil {
		return "", 0, err
	}
	if _, err := v.Expect(regexp.MustCompile(fmt.Sprintf("@@S%d@@", n)), timeout); err != nil {
		return "", 0, fmt.Errorf("%s: %w", command, err)
	}
	m, err := v.Expect(regexp.MustCompile(fmt.Sprintf(`(?s)^(.*?)@@E%d rc=(\d+)@@`, n)), timeout)
	if err != nil {
		return "", 0, fmt.Errorf("%s: %w", command, err)
	}
	rc, _ := strconv.Atoi(m[2])
	return strings.TrimSpace(strings.ReplaceAll(m[1], "\r", "")), rc, nil
}

// Console returns the whole transcript so far.
func (v *VM) Console() string {
	v.mu.Lock()
	defer v.mu.Unlock()
	return v.buf.String()
}

// Tail returns the last n lines of the console.
func (v *VM) Tail(n int) string {
	lines := strings.Split(strings.ReplaceAll(v.Console(), "\r", ""), "\n")
	return strings.Join(lines[max(0, len(lines)-n):], "\n")
}

// Exited waits up to timeout for QEMU to exit by itself (a guest power-off,
// or a reboot under NoReboot) and returns how it exited.
func (v *VM) Exited(timeout time.Duration) error {
	select {
	case <-v.done:
		return v.err
	case <-time.After(timeout):
		return fmt.Errorf("QEMU still running after %v", timeout)
	}
}

// Kill stops QEMU and waits until its output has been read. It may be
// called more than once.
func (v *VM) Kill() {
	if v.cmd.Process != nil {
		v.cmd.Process.Kill()
	}
	<-v.done
}
