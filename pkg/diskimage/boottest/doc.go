// Package boottest proves debatom's disk images boot, upgrade and roll back:
// its test builds the frozen archive's package set, writes a qcow2 image,
// boots it under QEMU with OVMF (TCG, no KVM) and drives the serial console
// through internal/testenv's VM harness. The package has no API.
package boottest
