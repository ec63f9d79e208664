package diskimage

import (
	"github.com/debatom/debatom/pkg/deploy"
)

// espSyncScript keeps the ESP in step with ostree's /boot (see the package
// doc). It copies kernel directories before entries that name them, swaps
// the entries directory in by rename, and only then drops kernel
// directories no entry uses, so an interruption leaves a bootable ESP.
const espSyncScript = `#!/bin/sh
# Written by debatom: copy ostree's boot entries and kernels from /boot (ext4)
# to the EFI system partition at /efi, where systemd-boot reads them.
# Arguments (for tests): the /boot and ESP directories.
set -eu
boot=${1:-/boot}
esp=${2:-/efi}
[ -d "$boot/loader/entries" ] || exit 0
[ -d "$esp/loader" ] || { echo "esp-sync: $esp is not the ESP" >&2; exit 1; }
mkdir -p "$esp/ostree"
for d in "$boot"/ostree/*/; do
	[ -d "$d" ] || continue
	name=$(basename "$d")
	[ -d "$esp/ostree/$name" ] && continue
	rm -rf "$esp/ostree/$name.tmp"
	cp -r "$d" "$esp/ostree/$name.tmp"
	sync -f "$esp/ostree"
	mv "$esp/ostree/$name.tmp" "$esp/ostree/$name"
done
rm -rf "$esp/loader/entries.new" "$esp/loader/entries.old"
mkdir "$esp/loader/entries.new"
cp "$boot"/loader/entries/*.conf "$esp/loader/entries.new/"
newest=$(ls "$esp/loader/entries.new" | sort -V | tail -n 1)
sync -f "$esp/loader"
if [ -d "$esp/loader/entries" ]; then mv "$esp/loader/entries" "$esp/loader/entries.old"; fi
mv "$esp/loader/entries.new" "$esp/loader/entries"
rm -rf "$esp/loader/entries.old"
printf '# Written by /etc/debatom/esp-sync.\ndefault %s\ntimeout 3\neditor no\n' "$newest" > "$esp/loader/loader.conf.new"
mv "$esp/loader/loader.conf.new" "$esp/loader/loader.conf"
for d in "$esp"/ostree/*/; do
	[ -d "$d" ] || continue
	name=$(basename "$d")
	[ -d "$boot/ostree/$name" ] || rm -rf "$d"
done
sync -f "$esp"
`

// espSyncUnit runs the script at boot and, being ordered before
// ostree-finalize-staged.service, at shutdown after a staged deployment is
// finalized (units stop in the reverse of their start order).
const espSyncUnit = `[Unit]
Description=Copy OSTree boot entries and kernels to the EFI system partition
RequiresMountsFor=/efi /boot
Before=ostree-finalize-staged.service

[Service]
Type=oneshot
RemainAfterExit=yes
ExecStart=/etc/debatom/esp-sync
ExecStop=/etc/debatom/esp-sync

[Install]
WantedBy=multi-user.target
`

// sshKeygenUnit makes the host keys on first boot: they identify one
// machine, so they belong in no image, and Debian's ssh.service refuses to
// start without them (its postinst would have made them).
const sshKeygenUnit = `[Unit]
Description=Generate missing SSH host keys
Before=ssh.service
ConditionPathExists=/usr/bin/ssh-keygen

[Service]
Type=oneshot
ExecStart=/usr/bin/ssh-keygen -A

[Install]
WantedBy=ssh.service
`

// addSSHKeygen installs sshKeygenUnit when the commit has sshd.
func addSSHKeygen(s *deploy.Sysroot) error {
	if s.Get(s.Deployment+"/usr/sbin/sshd") == nil {
		return nil
	}
	if err := s.AddEtcFile("systemd/system/debatom-ssh-keygen.service", []byte(sshKeygenUnit), 0o644); err != nil {
		return err
	}
	return s.AddEtcSymlink("systemd/system/ssh.service.wants/debatom-ssh-keygen.service", "/etc/systemd/system/debatom-ssh-keygen.service")
}

func addESPSync(s *deploy.Sysroot) error {
	if err := s.AddEtcFile("debatom/esp-sync", []byte(espSyncScript), 0o755); err != nil {
		return err
	}
	if err := s.AddEtcFile("systemd/system/debatom-esp-sync.service", []byte(espSyncUnit), 0o644); err != nil {
		return err
	}
	return s.AddEtcSymlink("systemd/system/multi-user.target.wants/debatom-esp-sync.service", "/etc/systemd/system/debatom-esp-sync.service")
}
