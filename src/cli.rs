//! A stage's flags: one group per mechanism, and [`StageArgs`], which gives stage N every group of
//! stages 1 to N. Lessons, exercises, the checker and the tests all parse through it, so an exercise
//! takes exactly its lesson's flags, and adding a stage touches [`StageArgs::command`] and nothing
//! else here.

use crate::stage::Stage;
use clap::{Args, FromArgMatches};
use std::path::PathBuf;

/// Docker's status for an error of the stage itself, a bad flag included (`docker run --bad` is 125).
pub const SETUP_FAILED: i32 = 125;

/// The flags of a stage, cumulative: the groups of the stages it builds on, and its own.
#[derive(Debug, Clone)]
pub struct StageArgs {
    pub stage: Stage,
    pub common: CommonArgs,
    /// 03_rootfs on.
    pub rootfs: Option<RootfsArgs>,
    /// 04_network on.
    pub network: Option<NetworkArgs>,
    /// 05_user on.
    pub user: Option<UserArgs>,
    /// 06_cgroups on.
    pub cgroups: Option<crate::cgroups::CgroupArgs>,
    /// 07_overlay on.
    pub overlay: Option<OverlayArgs>,
    /// 08_security on.
    pub security: Option<crate::security::SecurityArgs>,
}

impl StageArgs {
    /// The command line of `stage`: each stage's group is added from the stage that brings it.
    pub fn command(stage: Stage) -> clap::Command {
        let mut cmd = clap::Command::new(stage.bin()).after_help(examples(stage.bin()));
        cmd = CommonArgs::augment_args(cmd);
        if stage >= Stage::Rootfs {
            cmd = RootfsArgs::augment_args(cmd);
        }
        if stage >= Stage::Network {
            cmd = NetworkArgs::augment_args(cmd);
        }
        if stage >= Stage::User {
            cmd = UserArgs::augment_args(cmd);
        }
        if stage >= Stage::Cgroups {
            cmd = crate::cgroups::CgroupArgs::augment_args(cmd);
        }
        if stage >= Stage::Overlay {
            cmd = OverlayArgs::augment_args(cmd);
        }
        if stage >= Stage::Security {
            cmd = crate::security::SecurityArgs::augment_args(cmd);
        }
        cmd
    }

    fn from_matches(stage: Stage, m: &clap::ArgMatches) -> Result<StageArgs, clap::Error> {
        let group = |from: Stage| stage >= from;
        Ok(StageArgs {
            stage,
            common: CommonArgs::from_arg_matches(m)?,
            rootfs: group(Stage::Rootfs).then(|| RootfsArgs::from_arg_matches(m)).transpose()?,
            network: group(Stage::Network).then(|| NetworkArgs::from_arg_matches(m)).transpose()?,
            user: group(Stage::User).then(|| UserArgs::from_arg_matches(m)).transpose()?,
            cgroups: group(Stage::Cgroups)
                .then(|| crate::cgroups::CgroupArgs::from_arg_matches(m))
                .transpose()?,
            overlay: group(Stage::Overlay).then(|| OverlayArgs::from_arg_matches(m)).transpose()?,
            security: group(Stage::Security)
                .then(|| crate::security::SecurityArgs::from_arg_matches(m))
                .transpose()?,
        })
    }

    /// Parses `args` (the program name first) as `stage`'s command line.
    pub fn try_parse_from<I, T>(stage: Stage, args: I) -> Result<StageArgs, clap::Error>
    where
        I: IntoIterator<Item = T>,
        T: Into<std::ffi::OsString> + Clone,
    {
        let m = Self::command(stage).try_get_matches_from(args)?;
        Self::from_matches(stage, &m)
    }

    /// Parses the process's arguments; `about` is the help's opening paragraph. A usage error is one
    /// clear line and exit 125; `--help` prints the help.
    pub fn parse(stage: Stage, about: &'static str) -> StageArgs {
        let cmd = Self::command(stage).about(about);
        match cmd.try_get_matches().and_then(|m| Self::from_matches(stage, &m)) {
            Ok(args) => args,
            Err(e) => usage_error(e),
        }
    }
}

/// Flags of every stage.
#[derive(Args, Debug, Clone)]
pub struct CommonArgs {
    /// Print nothing but errors and the final verdict (one line).
    #[arg(long, short)]
    pub quiet: bool,

    /// Pause for Enter between steps (for teaching live).
    #[arg(long)]
    pub step: bool,

    /// Run as an ordinary user, without sudo, inside a user namespace where you are root (the
    /// kernel must allow unprivileged user namespaces; `cargo run` tells you).
    #[arg(long)]
    pub rootless: bool,

    /// Run this command inside the container instead of the narrated demo, with your terminal.
    /// Write it after `--`, for example: -- sh -c 'echo $$'
    #[arg(trailing_var_arg = true, value_name = "CMD")]
    pub command: Vec<String>,
}

/// Flags from stage 03 on: the root filesystem and the UTS namespace.
#[derive(Args, Debug, Clone)]
pub struct RootfsArgs {
    /// Use this unpacked root filesystem instead of the one the workshop builds in its store (from
    /// stage 07 on, it becomes a one-layer image of its own, as --image DIR does).
    #[arg(long, value_name = "DIR")]
    pub rootfs: Option<PathBuf>,

    /// The container's hostname (default: a new 12-digit container id, as Docker does).
    #[arg(long, value_name = "NAME", value_parser = parse_hostname)]
    pub hostname: Option<String>,
}

fn parse_hostname(s: &str) -> Result<String, String> {
    crate::uts::validate_hostname(s).map(|()| s.to_string())
}

/// The help text's closing examples, the same for every stage.
pub fn examples(bin: &str) -> String {
    format!(
        "Examples:\n  cargo run --bin {bin}                      the narrated demo\n  \
         cargo run --bin {bin} -- --step            the demo, one step per Enter\n  \
         cargo run --bin {bin} -- sh -c 'echo $$'   a command inside the container\n  \
         sudo target/debug/{bin} -- sh               a shell inside (exit to leave)\n\n\
         Exit status: 0 when every claim of the demo held; with a command, the command's own status\n\
         (128 + signal when it was killed); 125 when the container could not be set up."
    )
}

/// Parses the arguments of a binary that is not a stage (the `workshop` tool), with the same
/// one-line errors as a stage.
pub fn parse<T: clap::Parser>() -> T {
    T::try_parse().unwrap_or_else(|e| usage_error(e))
}

/// A usage error is one clear line (clap's first, with the flag it is about) plus where to look,
/// not clap's whole usage block, and Docker's 125; `--help` prints the full help as usual.
fn usage_error(e: clap::Error) -> ! {
    use clap::error::{ContextKind, ContextValue, ErrorKind};
    if matches!(e.kind(), ErrorKind::DisplayHelp | ErrorKind::DisplayVersion) {
        e.exit();
    }
    let text = e.render().to_string();
    // clap's message ends at its first blank line; a value may itself hold a newline (a hostname
    // pasted with one), so keep the whole message and show such newlines as \n.
    let mut first = text
        .split("\n\n")
        .next()
        .unwrap_or("error: bad arguments")
        .trim_start_matches("error: ")
        .trim_end()
        .replace('\n', "\\n");
    // `-p -5:80` reads as an unknown flag `-5`: name the flag that wanted a value.
    if e.kind() == ErrorKind::UnknownArgument {
        let arg = e.get(ContextKind::InvalidArg).and_then(|v| match v {
            ContextValue::String(s) => Some(s.clone()),
            _ => None,
        });
        if let Some(arg) = arg {
            let args: Vec<String> = std::env::args().collect();
            if let Some(i) = args.iter().position(|a| a.starts_with(arg.as_str())) {
                if i > 0 && args[i - 1].starts_with('-') && !args[i - 1].contains('=') {
                    first = format!(
                        "{} needs a value, and {:?} was read as a flag; write {}={}",
                        args[i - 1],
                        args[i],
                        args[i - 1],
                        args[i]
                    );
                }
            }
        }
    }
    let bin = std::env::args().next().unwrap_or_default();
    let bin = std::path::Path::new(&bin)
        .file_name()
        .map(|b| b.to_string_lossy().into_owned())
        .unwrap_or_default();
    eprintln!("error: {bin}: {first}; see `{bin} --help` for the flags");
    std::process::exit(SETUP_FAILED);
}

/// Flags from stage 07 on: the image the container's root is stacked from.
#[derive(Args, Debug, Clone)]
pub struct OverlayArgs {
    /// The image to run: a name in the store (`base`, `web`, or one imported before; see
    /// `cargo run -- images`), or an unpacked root filesystem DIR or a `docker export` TAR
    /// (.tar or .tar.gz), imported as a one-layer image named after the file [default: base].
    #[arg(long, value_name = "NAME|DIR|TAR")]
    pub image: Option<String>,
}

/// Flags from stage 05 on: the user namespace.
#[derive(Args, Debug, Clone)]
pub struct UserArgs {
    /// Map the container's ids to this user's subordinate range in /etc/subuid and /etc/subgid
    /// (default: the user who ran sudo, then root, then 100000-165535).
    #[arg(long, value_name = "USER")]
    pub userns_remap: Option<String>,
}

/// Flags from stage 04 on: the container's network.
#[derive(Args, Debug, Clone)]
pub struct NetworkArgs {
    /// The workshop subnet [default: 10.200.0.0/24]: each container gets a /30 block of it of its
    /// own (the host's end is the block's first address, the container its second), so many
    /// containers can run at once. It is checked against this host's routes first.
    #[arg(long, value_name = "CIDR")]
    pub subnet: Option<crate::network::Subnet>,

    /// Publish a container port on the host's 127.0.0.1, as Docker does: -p 8080:80.
    #[arg(short = 'p', long = "publish", value_name = "HOST:CONTAINER")]
    pub publish: Vec<crate::network::forward::Publish>,

    /// Limit the container's outgoing bandwidth with a token bucket, in tc's units: 1mbit, 500kbit.
    #[arg(long, value_name = "RATE")]
    pub network_rate: Option<crate::network::Rate>,
}

impl NetworkArgs {
    /// The workshop subnet, given or default.
    pub fn pool(&self) -> crate::network::Subnet {
        self.subnet.unwrap_or_else(|| {
            crate::network::subnet::DEFAULT_SUBNET.parse().expect("the default subnet parses")
        })
    }

    /// The network for one container: a block of the subnet leased to this run (released when the
    /// returned [`crate::runtime::Owned`] is dropped), checked against the host's routes.
    pub fn network_config(
        &self,
    ) -> anyhow::Result<(crate::network::NetworkConfig, crate::runtime::Owned)> {
        self.refuse_duplicate_ports()?;
        let (lease, block) =
            crate::network::ipam::lease(&self.pool(), crate::network::ipam::SINGLE_BLOCK)?;
        let mut net = crate::network::NetworkConfig::single(block);
        net.rate = self.network_rate.clone();
        net.publish = self.publish.clone();
        Ok((net, lease))
    }

    fn refuse_duplicate_ports(&self) -> anyhow::Result<()> {
        for (i, p) in self.publish.iter().enumerate() {
            if let Some(q) = self.publish[..i].iter().find(|q| q.host_port == p.host_port) {
                anyhow::bail!(
                    "-p {q} and -p {p} both publish host port {}; give each -p its own host port",
                    p.host_port
                );
            }
        }
        Ok(())
    }

    /// The flags given that need links on the host, which `--rootless` cannot make.
    pub fn needs_host_links(&self) -> Option<&'static str> {
        if !self.publish.is_empty() {
            Some("-p")
        } else if self.network_rate.is_some() {
            Some("--network-rate")
        } else if self.subnet.is_some() {
            Some("--subnet")
        } else {
            None
        }
    }
}
