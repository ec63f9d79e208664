// Package subcmd dispatches the subcommands of the bench helpers
// (bench/*/main.go), the Go halves that the run.sh scripts call and time.
package subcmd

import (
	"flag"
	"fmt"
	"os"
	"strings"
)

// Command is one subcommand: prog Name [flags] ARGS.
type Command struct {
	Name string
	// Args is the synopsis after the name, e.g. "[-c] RAW OUT".
	Args string
	// NArg is the number of arguments after the flags.
	NArg int
	// Flags, if set, defines the command's flags; Run reads them.
	Flags func(*flag.FlagSet)
	Run   func(args []string) error
}

// Main runs the command os.Args names and exits: 2 with the synopsis of
// every command on bad usage, 1 with "prog: error" when the command fails.
func Main(prog string, cmds ...Command) {
	usage := func() {
		var s []string
		for _, c := range cmds {
			s = append(s, prog+" "+c.Name+" "+c.Args)
		}
		fmt.Fprintln(os.Stderr, "usage: "+strings.Join(s, " | "))
		os.Exit(2)
	}
	if len(os.Args) < 2 {
		usage()
	}
	for _, c := range cmds {
		if c.Name != os.Args[1] {
			continue
		}
		fl := flag.NewFlagSet(prog+" "+c.Name, flag.ExitOnError)
		if c.Flags != nil {
			c.Flags(fl)
		}
		fl.Parse(os.Args[2:])
		if fl.NArg() != c.NArg {
			usage()
		}
		if err := c.Run(fl.Args()); err != nil {
			fmt.Fprintf(os.Stderr, "%s: %v\n", prog, err)
			os.Exit(1)
		}
		return
	}
	usage()
}
