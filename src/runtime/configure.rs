//! The one place that says how a stage's container builds on the one before: (stage, arguments) →
//! the container's [`Config`]. Lessons, exercises, the checker and the tests all come through here.

use crate::cli::StageArgs;
use crate::container::Config;
use crate::runtime::Cleanup;
use crate::stage::Stage;
use crate::userns::UserNamespace;

/// The container of `args.stage`, and what was made on the host to describe it (the address lease),
/// to be held for as long as the run lasts.
pub fn configure(args: &StageArgs) -> anyhow::Result<(Config, Cleanup)> {
    let stage = args.stage;
    let rootless = args.common.rootless;
    let mut config = Config::for_stage(stage);
    let mut held = Cleanup::new();
    if args.overlay.is_some() {
        // 07 keeps every container's upper dir in the store: refuse a store overlay cannot use
        // before the root filesystem is built there.
        crate::overlay::store::check_store_filesystem()?;
    }
    // 03: a root filesystem of its own, and a hostname.
    if let Some(r) = &args.rootfs {
        config = config
            .with_rootfs(crate::image::ensure(r.rootfs.as_deref())?)
            .with_hostname(r.hostname.clone().unwrap_or_else(crate::uts::container_id));
    }
    // 04: an address block of the workshop subnet and a veth pair; without root, loopback only.
    if let Some(n) = &args.network {
        if rootless {
            if let Some(flag) = n.needs_host_links() {
                anyhow::bail!(
                    "{flag} needs a link on the host, which --rootless cannot make (an ordinary user may not add one); drop {flag}, or run without --rootless (with sudo)"
                );
            }
        } else {
            let (net, lease) = n.network_config()?;
            held.push(lease);
            config = config.with_network(net);
        }
    }
    // 06: a cgroup with the limits asked for. Checked now, so that a flag this machine cannot
    // honour (no memory controller, no delegation) is one line before anything is made.
    if let Some(c) = &args.cgroups {
        let limits = c.limits().map_err(anyhow::Error::msg)?;
        let cgroup = crate::container::CgroupConfig { limits, parent: c.cgroup_parent.clone() };
        cgroup.placement("check")?;
        config.cgroup = Some(cgroup);
    }
    // 07: the container's root is an image's layers under an upper dir of its own, made for each
    // container when it starts (see crate::overlay::root).
    if let Some(o) = &args.overlay {
        // The demo images are always made from the workshop's own root filesystem; one given with
        // --rootfs becomes an image of its own, as --image DIR does, so it never replaces them.
        let given = args.rootfs.as_ref().and_then(|r| r.rootfs.as_ref());
        let image = match (&o.image, given) {
            (Some(image), _) => Some(image.clone()),
            (None, Some(dir)) => Some(std::path::absolute(dir)?.display().to_string()),
            (None, None) => None,
        };
        let base = match given {
            Some(_) => crate::image::ensure(None)?,
            None => config.rootfs.clone().expect("07 builds on 03's root filesystem"),
        };
        config.overlay = Some(crate::overlay::store::open(&base, image.as_deref())?);
    }
    // 08: Docker's hardening, resolved now so that a bad capability, profile or user is one line
    // before anything is made. `--user` names are looked up in the image's own /etc/passwd.
    if let Some(sec) = &args.security {
        let image_root = match &config.overlay {
            Some(o) => o
                .image
                .layer_dirs(&o.store)
                .into_iter()
                .rev()
                .find(|d| d.join("etc/passwd").exists()),
            None => config.rootfs.clone(),
        };
        config.security = Some(sec.resolve(&image_root.unwrap_or_default())?);
    }
    // 05: a user namespace with a subordinate range; --rootless gives one at any stage, mapping
    // only the caller's own uid.
    if rootless {
        config = config.with_user(UserNamespace::rootless());
    } else if stage >= Stage::User {
        let remap = args.user.as_ref().and_then(|u| u.userns_remap.as_deref());
        config = config.with_user(UserNamespace::for_root(remap)?);
    }
    // 08: --user must name ids the user namespace maps, or setresuid would fail inside.
    if let (Some(sec), Some(user)) = (&config.security, &config.user) {
        let (uid, gid) = (sec.user.uid, sec.user.gid);
        let mapped =
            |id: u32, map: &crate::userns::IdMap| id >= map.inside && id - map.inside < map.count;
        if !mapped(uid, &user.uid_map) || !mapped(gid, &user.gid_map) {
            anyhow::bail!(
                "--user {uid}:{gid}: the container's user namespace maps ids {} to {} only; use a user in that range",
                user.uid_map.inside,
                user.uid_map.inside + user.uid_map.count - 1
            );
        }
    }
    Ok((config, held))
}

#[cfg(test)]
mod tests {
    use super::*;

    fn parse(stage: Stage, args: &[&str]) -> Result<StageArgs, clap::Error> {
        StageArgs::try_parse_from(stage, std::iter::once(stage.bin()).chain(args.iter().copied()))
    }

    #[test]
    fn each_stage_takes_the_flags_of_the_stages_before_it() {
        assert!(parse(Stage::Pid, &["--hostname", "x"]).is_err(), "01 has no --hostname");
        assert!(parse(Stage::Rootfs, &["--hostname", "x"]).is_ok());
        assert!(parse(Stage::Rootfs, &["-p", "8080:80"]).is_err(), "03 has no network");
        assert!(parse(Stage::Network, &["-p", "8080:80", "--hostname", "x"]).is_ok());
        assert!(parse(Stage::Network, &["--userns-remap", "root"]).is_err());
        let a =
            parse(Stage::User, &["--userns-remap", "root", "-p", "8080:80", "--", "id"]).unwrap();
        assert!(a.rootfs.is_some() && a.network.is_some() && a.user.is_some());
        assert_eq!(a.common.command, vec!["id"]);
        for later in Stage::ALL.into_iter().filter(|s| *s >= Stage::User) {
            assert!(parse(later, &["--hostname", "x", "-p", "1:2", "--userns-remap", "r"]).is_ok());
        }
    }

    #[test]
    fn rootless_refuses_what_needs_host_links() {
        for (flag, value) in
            [("-p", "8080:80"), ("--network-rate", "1mbit"), ("--subnet", "10.9.0.0/24")]
        {
            let a = parse(Stage::Network, &["--rootless", flag, value, "--", "true"]).unwrap();
            let e = configure(&a).err().expect("refused").to_string();
            assert!(e.contains(flag) && e.contains("--rootless"), "{e}");
        }
    }

    #[test]
    fn publishing_one_host_port_twice_is_refused() {
        let a = parse(Stage::Network, &["-p", "18090:80", "-p", "18090:81"]).unwrap();
        let e = a.network.unwrap().network_config().expect_err("refused").to_string();
        assert!(e.contains("both publish host port 18090"), "{e}");
    }
}
