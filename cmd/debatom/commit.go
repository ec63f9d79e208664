package main

import (
	"context"
	"errors"
	"io"
)

func runCommit(ctx context.Context, args []string, stdout, stderr io.Writer) error {
	fs := newFlagSet("commit", stderr)
	if err := parseFlags(fs, args); err != nil {
		return err
	}
	return errors.New("not implemented yet")
}
