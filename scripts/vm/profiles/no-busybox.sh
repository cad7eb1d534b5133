# shellcheck shell=sh disable=SC2034,SC2154 # variables and $bb are the init's
# Profile no-busybox: the v2 machine without a static busybox anywhere the workshop looks for one
# (/bin, /usr/bin, /usr/local/bin, /sbin), so the stages build their root filesystem from the
# guest's own dynamic binaries and the libraries ldd names, as on a machine without busybox-static.
. "$PROFILES_DIR/v2.sh"
PROFILE_BUSYBOX=no
