package main

import (
	"context"
	"errors"
	"io"
)

func runUnpack(ctx context.Context, args []string, stdout, stderr io.Writer) error {
	fs := newFlagSet("unpack", stderr)
	if err := parseFlags(fs, args); err != nil {
		return err
	}
	return errors.New("not implemented yet")
}
