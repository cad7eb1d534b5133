# shellcheck shell=sh disable=SC2034,SC2154 # variables and $bb are the init's
# Profile v2: a pure cgroup v2 machine, as on Ubuntu 22.04+, Debian 12, Fedora, current Arch.
# cgroup2 alone on /sys/fs/cgroup (no v1 hierarchy), every controller enabled in the root's
# subtree_control, and the tests run in a login session's leaf cgroup, as a shell under systemd
# does: /user.slice/user-0.slice/session-1.scope. That leaf holds processes, so it cannot hand
# controllers to children (the no-internal-processes rule), as on a real distribution.

# Sourced, with PROFILES_DIR set, by scripts/vm-test on the host (which files go into the image)
# and by the guest's init (/vm/init), where $bb is the static busybox.
PROFILE_BUSYBOX=yes # a static busybox in /usr/bin (busybox-static), so the rootfs is built from it
PROFILE_MODULES=""  # extra kernel modules to load at boot
PROFILE_ROOT_PROPAGATION=shared # as systemd leaves / (mount --make-rshared /)

# systemd enables memory and pids for the user slices (cpu and io too when accounting is on).
V2_USER_SLICE_CONTROLLERS="+memory +pids"

profile_cgroups() {
    v2_tree
}

# The session cgroup the tests run in: its path under /sys/fs/cgroup.
v2_tree() {
    cg=/sys/fs/cgroup
    $bb mount -t cgroup2 -o nsdelegate,memory_recursiveprot cgroup2 $cg ||
        $bb mount -t cgroup2 cgroup2 $cg
    for c in $($bb cat $cg/cgroup.controllers); do
        echo "+$c" >$cg/cgroup.subtree_control || echo "vm: cannot enable $c at the root"
    done
    $bb mkdir -p $cg/init.scope $cg/system.slice $cg/user.slice/user-0.slice/session-1.scope
    echo $$ >$cg/init.scope/cgroup.procs
    for c in $V2_USER_SLICE_CONTROLLERS; do
        echo "$c" >$cg/user.slice/cgroup.subtree_control
        echo "$c" >$cg/user.slice/user-0.slice/cgroup.subtree_control
    done
    SESSION_CGROUPS="$cg/user.slice/user-0.slice/session-1.scope"
}
