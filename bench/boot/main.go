// Command boot times debatom's depmod and initramfs against the tools
// people use (run.sh drives it). It writes nothing outside its arguments.
//
//	go run ./bench/boot depmod ROOT KVER          # writes the files into ROOT's modules dir
//	go run ./bench/boot initramfs ROOT OUT.img
package main

import (
	"context"
	"fmt"
	"os"
	"path/filepath"
	"time"

	"github.com/debatom/debatom/pkg/depmod"
	"github.com/debatom/debatom/pkg/initramfs"
)

func main() {
	if err := run(os.Args[1:]); err != nil {
		fmt.Fprintln(os.Stderr, "boot:", err)
		os.Exit(1)
	}
}

func run(args []string) error {
	if len(args) != 3 {
		return fmt.Errorf("usage: boot depmod ROOT KVER | boot initramfs ROOT OUT")
	}
	ctx := context.Background()
	root := args[1]
	t0 := time.Now()
	switch args[0] {
	case "depmod":
		files, err := depmod.Generate(ctx, os.DirFS(root), args[2], depmod.Options{})
		if err != nil {
			return err
		}
		for name, data := range files {
			if err := os.WriteFile(filepath.Join(root, depmod.ModulesDir(args[2]), name), data, 0o644); err != nil {
				return err
			}
		}
	case "initramfs":
		img, err := initramfs.Build(ctx, os.DirFS(root).(initramfs.FS), initramfs.Options{MTime: 1700000000})
		if err != nil {
			return err
		}
		if err := os.WriteFile(args[2], img, 0o644); err != nil {
			return err
		}
		fmt.Printf("size %d\n", len(img))
	default:
		return fmt.Errorf("unknown command %q", args[0])
	}
	fmt.Printf("wall %.2f s\n", time.Since(t0).Seconds())
	return nil
}
