package main

import (
	"context"
	"fmt"
	"io"

	"github.com/debatom/debatom/pkg/ociwriter"
	"github.com/debatom/debatom/pkg/ostreerepo"
)

// runPush sends an OCI image layout to a registry.
func runPush(ctx context.Context, args []string, stdout, stderr io.Writer) error {
	fs := newFlagSet("push", stderr)
	tag := fs.String("tag", "", "image `tag` in the layout (default: its only image)")
	fs.Usage = func() {
		fmt.Fprintln(stderr, "usage: debatom push [--tag TAG] IMAGE-DIR REGISTRY/REPO[:TAG]")
		fmt.Fprintln(stderr, "Credentials come from the docker/podman config (docker login).")
		fs.PrintDefaults()
	}
	if err := parseFlags(fs, args); err != nil {
		return err
	}
	if fs.NArg() != 2 {
		fs.Usage()
		return fmt.Errorf("%w: need an image directory and a reference", errUsage)
	}
	dg, err := ociwriter.Push(ctx, fs.Arg(0), *tag, fs.Arg(1))
	if err != nil {
		return err
	}
	fmt.Fprintf(stdout, "%s@%s\n", fs.Arg(1), dg)
	return nil
}

// runImport reads an encapsulated image back into an OSTree repository.
func runImport(ctx context.Context, args []string, stdout, stderr io.Writer) error {
	fs := newFlagSet("import", stderr)
	repoDir := fs.String("repo", "", "OSTree repository `dir` (created in archive mode if missing)")
	ref := fs.String("ref", "", "point `REF` at the imported commit")
	tag := fs.String("tag", "", "image `tag` in the layout (default: its only image)")
	fs.Usage = func() {
		fmt.Fprintln(stderr, "usage: debatom import --repo DIR [--ref REF] [--tag TAG] OCI-DIR")
		fs.PrintDefaults()
	}
	if err := parseFlags(fs, args); err != nil {
		return err
	}
	if fs.NArg() != 1 || *repoDir == "" {
		fs.Usage()
		return fmt.Errorf("%w: need --repo and one image directory", errUsage)
	}
	repo, err := ostreerepo.Create(*repoDir, ostreerepo.ModeArchive)
	if err != nil {
		return err
	}
	commit, err := ociwriter.Import(ctx, fs.Arg(0), repo, ociwriter.ImportOptions{Tag: *tag, Ref: *ref})
	if err != nil {
		return err
	}
	fmt.Fprintln(stdout, commit)
	return nil
}
