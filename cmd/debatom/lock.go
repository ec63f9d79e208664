package main

import (
	"context"
	"errors"
	"io"
)

func runLock(ctx context.Context, args []string, stdout, stderr io.Writer) error {
	fs := newFlagSet("lock", stderr)
	if err := parseFlags(fs, args); err != nil {
		return err
	}
	return errors.New("not implemented yet")
}
