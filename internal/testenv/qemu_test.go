package testenv

import (
	"bytes"
	"context"
	"regexp"
	"slices"
	"strings"
	"testing"
	"time"
)

func TestVMArgs(t *testing.T) {
	o := VMOptions{
		UEFI: true, MemoryMiB: 2048, CPUs: 2, CPU: "max", NoReboot: true,
		Disks: []Disk{
			{File: "/d.qcow2", Format: "qcow2"},
			{File: "/u.img", Format: "raw", ReadOnly: true},
			{File: "/s.img", Format: "raw", Snapshot: true},
		},
		CDROM:  "/c.iso",
		Kernel: "/vmlinuz", Initrd: "/initrd", Append: "console=ttyS0",
	}
	got := strings.Join(o.Args("/code.fd", "/vars.fd"), " ")
	want := "-machine q35,accel=tcg -m 2048 -smp 2 -display none -serial stdio -monitor none -nic none -cpu max -no-reboot " +
		"-drive if=pflash,format=raw,readonly=on,file=/code.fd -drive if=pflash,format=raw,file=/vars.fd " +
		"-drive file=/d.qcow2,format=qcow2,if=virtio -drive file=/u.img,format=raw,if=virtio,readonly=on " +
		"-drive file=/s.img,format=raw,if=virtio,snapshot=on -cdrom /c.iso -kernel /vmlinuz -initrd /initrd -append console=ttyS0"
	if got != want {
		t.Errorf("args:\n got %s\nwant %s", got, want)
	}
	// Defaults, and no firmware drives without UEFI.
	args := VMOptions{}.Args("/code.fd", "/vars.fd")
	if !slices.Contains(args, "256") || slices.ContainsFunc(args, func(a string) bool { return strings.Contains(a, "pflash") || a == "-no-reboot" }) {
		t.Errorf("default args: %q", args)
	}
}

// TestConsole drives sh through the console code QEMU's serial port uses:
// a shell reading its standard input is what a logged-in guest is.
func TestConsole(t *testing.T) {
	sh := Tool(t, "sh")
	v := startConsole(context.Background(), t, sh, nil)
	out, rc, err := v.Run("echo hello; echo world", 10*time.Second)
	if err != nil || rc != 0 || out != "hello\nworld" {
		t.Fatalf("Run = %q, %d, %v", out, rc, err)
	}
	if _, rc, err := v.Run("false", 10*time.Second); err != nil || rc != 1 {
		t.Fatalf("Run(false) = %d, %v", rc, err)
	}
	// Expect consumes what it matched: the second wait sees only later output.
	v.Send("echo one-1; echo one-2\n")
	m, err := v.Expect(regexp.MustCompile(`one-(\d)`), 10*time.Second)
	if err != nil || m[1] != "1" {
		t.Fatalf("Expect = %q, %v", m, err)
	}
	if m, err := v.Expect(regexp.MustCompile(`one-(\d)`), 10*time.Second); err != nil || m[1] != "2" {
		t.Fatalf("second Expect = %q, %v", m, err)
	}
	if _, err := v.Expect(regexp.MustCompile(`never`), 300*time.Millisecond); err == nil || !strings.Contains(err.Error(), "timed out") {
		t.Fatalf("Expect of absent output: %v", err)
	}
	if !strings.Contains(v.Tail(3), "one-2") {
		t.Errorf("Tail(3) = %q", v.Tail(3))
	}
	// A program that exits ends a wait at once, with what it printed.
	v.Send("echo bye; exit 3\n")
	if err := v.Wait(10*time.Second, func(s []byte) bool { return bytes.Contains(s, []byte("never")) }); err == nil || !strings.Contains(err.Error(), "exited") {
		t.Fatalf("Wait after exit: %v", err)
	}
	if err := v.Exited(time.Second); err == nil || !strings.Contains(err.Error(), "exit status 3") {
		t.Errorf("Exited = %v", err)
	}
	if !strings.Contains(v.Console(), "bye") {
		t.Errorf("console %q lacks the last output", v.Console())
	}
}

func TestConsoleKilledByContext(t *testing.T) {
	sh := Tool(t, "sh")
	ctx, cancel := context.WithCancel(context.Background())
	v := startConsole(ctx, t, sh, nil)
	cancel()
	if err := v.Exited(10 * time.Second); err == nil {
		t.Fatal("cancelling the context did not kill the program")
	}
}
