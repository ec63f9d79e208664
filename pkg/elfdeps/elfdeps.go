// Package elfdeps reads what the dynamic loader needs to start an ELF
// program or library: its interpreter (PT_INTERP), the sonames it needs
// (DT_NEEDED) and where it says to look for them (DT_RPATH, DT_RUNPATH).
// Resolving sonames to files is the caller's job, since only it knows the
// tree and its loader configuration; Search lists the directories in the
// loader's order.
package elfdeps

import (
	"bytes"
	"debug/elf"
	"fmt"
	"io"
	"path"
	"strings"
)

// Info is the dynamic-linking view of one ELF file.
type Info struct {
	Interp  string   // PT_INTERP, "" for libraries and static programs
	Needed  []string // DT_NEEDED sonames in file order
	RPath   []string // DT_RPATH entries (consulted only without DT_RUNPATH)
	RunPath []string // DT_RUNPATH entries
}

// IsELF reports whether b starts with the ELF magic.
func IsELF(b []byte) bool { return bytes.HasPrefix(b, []byte(elf.ELFMAG)) }

// Parse reads r, which must be an ELF file.
func Parse(r io.ReaderAt) (*Info, error) {
	f, err := elf.NewFile(r)
	if err != nil {
		return nil, fmt.Errorf("elf: %w", err)
	}
	defer f.Close()
	info := &Info{}
	for _, p := range f.Progs {
		if p.Type != elf.PT_INTERP {
			continue
		}
		if p.Filesz > 4096 {
			return nil, fmt.Errorf("elf: PT_INTERP of %d bytes", p.Filesz)
		}
		b := make([]byte, p.Filesz)
		if _, err := p.ReadAt(b, 0); err != nil && err != io.EOF {
			return nil, fmt.Errorf("elf: reading PT_INTERP: %w", err)
		}
		info.Interp = string(bytes.TrimRight(b, "\x00"))
	}
	if f.Section(".dynamic") == nil && dynamicProg(f) == nil {
		return info, nil // static
	}
	if info.Needed, err = f.DynString(elf.DT_NEEDED); err != nil {
		return nil, fmt.Errorf("elf: DT_NEEDED: %w", err)
	}
	for _, t := range []struct {
		tag elf.DynTag
		dst *[]string
	}{{elf.DT_RPATH, &info.RPath}, {elf.DT_RUNPATH, &info.RunPath}} {
		vals, err := f.DynString(t.tag)
		if err != nil {
			return nil, fmt.Errorf("elf: %v: %w", t.tag, err)
		}
		for _, v := range vals {
			for _, d := range strings.Split(v, ":") {
				if d != "" {
					*t.dst = append(*t.dst, d)
				}
			}
		}
	}
	return info, nil
}

func dynamicProg(f *elf.File) *elf.Prog {
	for _, p := range f.Progs {
		if p.Type == elf.PT_DYNAMIC {
			return p
		}
	}
	return nil
}

// Search returns the directories, absolute and cleaned, in which the
// loader looks for the sonames of the object at objPath (an absolute path
// in the tree): DT_RPATH when there is no DT_RUNPATH, DT_RUNPATH, then
// the loader's own directories (ldconfig's cache is not consulted, since
// an initramfs usually has none). $ORIGIN expands to objPath's directory.
func (info *Info) Search(objPath string, system []string) []string {
	origin := path.Dir(objPath)
	var dirs []string
	add := func(list []string) {
		for _, d := range list {
			d = strings.ReplaceAll(strings.ReplaceAll(d, "${ORIGIN}", origin), "$ORIGIN", origin)
			if strings.HasPrefix(d, "/") {
				dirs = append(dirs, path.Clean(d))
			}
		}
	}
	if len(info.RunPath) == 0 {
		add(info.RPath)
	}
	add(info.RunPath)
	add(system)
	return dirs
}
