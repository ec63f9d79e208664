// Command debatom builds atomic Debian systems: from a treefile to a verified
// package plan, an OSTree commit, a bootc OCI image and bootable disk images,
// in one rootless process that runs no external program.
package main

import (
	"context"
	"errors"
	"flag"
	"fmt"
	"io"
	"os"
	"os/signal"
	"sort"
	"strings"
	"syscall"

	"github.com/debatom/debatom/pkg/apt"
)

// command is one subcommand. run gets the arguments after the subcommand's
// name and writes its results to stdout; diagnostics go to stderr.
type command struct {
	summary string
	run     func(ctx context.Context, args []string, stdout, stderr io.Writer) error
}

func commands() map[string]command {
	return map[string]command{
		"build":   {"build a treefile (default: the embedded base variant) into an OSTree repo and images", runBuild},
		"resolve": {"resolve a package set against signed apt repositories and print the plan", runResolve},
		"lock":    {"resolve and write a lockfile", runLock},
		"fetch":   {"download and verify the packages of a plan into the cache", runFetch},
		"mirror":  {"write an offline, signed mirror bundle for a lockfile", runMirror},
		"commit":  {"commit a directory to an OSTree repo, like ostree commit --tree=dir=", runCommit},
		"unpack":  {"unpack .deb files into an OSTree object store", runUnpack},
		"push":    {"push an OCI image layout to a registry", runPush},
		"import":  {"import a bootc OCI image layout into an OSTree repo", runImport},
		"disk":    {"write a bootable raw or qcow2 disk image of a commit", runDisk},
	}
}

// errUsage marks an error as a usage error (exit status 2).
var errUsage = errors.New("usage")

func main() {
	ctx, stop := signal.NotifyContext(context.Background(), os.Interrupt, syscall.SIGTERM)
	code := run(ctx, os.Args[1:], os.Stdout, os.Stderr)
	stop()
	os.Exit(code)
}

func run(ctx context.Context, args []string, stdout, stderr io.Writer) int {
	cmds := commands()
	if len(args) == 0 {
		args = []string{"build"}
	}
	name := args[0]
	if name == "-h" || name == "--help" || name == "help" {
		usage(stdout, cmds)
		return 0
	}
	if name == "--version" || name == "version" {
		fmt.Fprintln(stdout, "debatom", version())
		return 0
	}
	c, ok := cmds[name]
	if !ok {
		fmt.Fprintf(stderr, "debatom: unknown command %q\n", name)
		usage(stderr, cmds)
		return 2
	}
	if err := c.run(ctx, args[1:], stdout, stderr); err != nil {
		if errors.Is(err, flag.ErrHelp) {
			return 0
		}
		fmt.Fprintf(stderr, "debatom %s: %s\n", name, withHints(err))
		if errors.Is(err, errUsage) {
			return 2
		}
		return 1
	}
	return 0
}

// withHints is err's message with the flag that would get past it named.
// pkg/apt's errors name no flags (a library does not know its callers'),
// so the advice is put in here, the one place every subcommand's error is
// printed.
func withHints(err error) string {
	msg := err.Error()
	var expired *apt.ExpiredError
	if errors.As(err, &expired) {
		msg = strings.Replace(msg, expired.Error(), expired.Problem()+" (pass --allow-expired to use it anyway)", 1)
	}
	return msg
}

func usage(w io.Writer, cmds map[string]command) {
	fmt.Fprintln(w, "usage: debatom <command> [flags]   (no command: build)")
	fmt.Fprintln(w, "\ncommands:")
	names := make([]string, 0, len(cmds))
	for n := range cmds {
		names = append(names, n)
	}
	sort.Strings(names)
	for _, n := range names {
		fmt.Fprintf(w, "  %-8s %s\n", n, cmds[n].summary)
	}
	fmt.Fprintln(w, "\nRun 'debatom <command> -h' for a command's flags.")
}

func version() string {
	return "0.1.0-dev"
}

// newFlagSet returns a FlagSet that reports errors instead of exiting, with
// the command's name in its usage line.
func newFlagSet(name string, stderr io.Writer) *flag.FlagSet {
	fs := flag.NewFlagSet("debatom "+name, flag.ContinueOnError)
	fs.SetOutput(stderr)
	return fs
}

// parseFlags parses args, wrapping failures as usage errors.
func parseFlags(fs *flag.FlagSet, args []string) error {
	if err := fs.Parse(args); err != nil {
		if errors.Is(err, flag.ErrHelp) {
			return err
		}
		return fmt.Errorf("%w: %v", errUsage, err)
	}
	return nil
}
