# shellcheck shell=sh disable=SC2034,SC2154 # variables and $bb are the init's
# Profile v1: only cgroup v1 hierarchies, as on older distributions (Debian 10, Ubuntu 20.04,
# CentOS 7) and on machines booted with systemd.unified_cgroup_hierarchy=0: a tmpfs on
# /sys/fs/cgroup with one v1 hierarchy per controller (cpu and cpuacct together, net_cls and
# net_prio together, as systemd mounts them), systemd's named hierarchy, and no cgroup2 at all.
# The tests run in /user.slice of every hierarchy (a session scope in the named one), so a stage
# that creates its cgroups beneath its own (DESIGN.md) is seen to do so.
# Sourced, with PROFILES_DIR set, by scripts/vm-test on the host and by the guest's init.
PROFILE_BUSYBOX=yes
PROFILE_MODULES=""
PROFILE_ROOT_PROPAGATION=shared # as systemd leaves / (mount --make-rshared /)

profile_cgroups() {
    cg=/sys/fs/cgroup
    $bb mount -t tmpfs -o mode=755,nosuid,nodev,noexec tmpfs $cg
    SESSION_CGROUPS=""
    # /proc/cgroups: subsys_name hierarchy num_cgroups enabled
    for c in $($bb awk '!/^#/ && $4 == 1 && $1 != "cpuacct" && $1 != "net_prio" { print $1 }' /proc/cgroups); do
        case $c in
            cpu) dir=cpu,cpuacct ;;
            net_cls) dir=net_cls,net_prio ;;
            *) dir=$c ;;
        esac
        $bb mkdir -p $cg/$dir
        $bb mount -t cgroup -o "$dir" cgroup $cg/$dir || { echo "vm: cannot mount the $dir hierarchy"; continue; }
        case $dir in
            cpu,cpuacct) $bb ln -s $dir $cg/cpu; $bb ln -s $dir $cg/cpuacct ;;
            net_cls,net_prio) $bb ln -s $dir $cg/net_cls; $bb ln -s $dir $cg/net_prio ;;
        esac
        # cpuset needs cpus and mems before it takes a task; systemd leaves processes at its root.
        [ "$c" = cpuset ] && continue
        $bb mkdir -p $cg/$dir/user.slice
        SESSION_CGROUPS="$SESSION_CGROUPS $cg/$dir/user.slice"
    done
    $bb mkdir -p $cg/systemd
    $bb mount -t cgroup -o none,name=systemd cgroup $cg/systemd
    $bb mkdir -p $cg/systemd/user.slice/user-0.slice/session-1.scope
    SESSION_CGROUPS="$SESSION_CGROUPS $cg/systemd/user.slice/user-0.slice/session-1.scope"
    $bb mount -o remount,ro $cg
}
