# shellcheck shell=sh disable=SC2034,SC2154 # variables and $bb are the init's
# Profile apparmor: the v2 machine with the kernel's AppArmor on, as Debian and Ubuntu boot it
# (securityfs mounted, Debian's apparmor_parser in the image). Stage 08 then confines each
# container with a profile of its own, and its tests check the refusal for real.
#
# The other profiles boot with apparmor=0 selinux=0 (PROFILE_CMDLINE, read by scripts/vm-test):
# under emulation (TCG) stage 04's tests ran twice as slow with AppArmor on, enough for its timed
# steps to miss their deadlines now and then. On real hardware the cost does not show.
. "$PROFILES_DIR/v2.sh"
PROFILE_CMDLINE=""
