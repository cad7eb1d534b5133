//! The flags every stage shares, in groups that each stage adds as it adds mechanisms.

use clap::Args;
use std::path::PathBuf;

/// Flags of every stage.
#[derive(Args, Debug, Clone)]
pub struct CommonArgs {
    /// Print nothing but errors and the final verdict.
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
    /// Use this unpacked root filesystem instead of the one the workshop builds under target/.
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

/// Parses a stage's arguments. A usage error is one clear line (clap's first) plus where to look,
/// not clap's whole usage block; `--help` prints the full help as usual.
pub fn parse<T: clap::Parser>() -> T {
    match T::try_parse() {
        Ok(args) => args,
        Err(e) => {
            use clap::error::ErrorKind;
            if matches!(e.kind(), ErrorKind::DisplayHelp | ErrorKind::DisplayVersion) {
                e.exit();
            }
            let text = e.render().to_string();
            let first =
                text.lines().next().unwrap_or("error: bad arguments").trim_start_matches("error: ");
            let bin = std::env::args().next().unwrap_or_default();
            let bin = std::path::Path::new(&bin)
                .file_name()
                .map(|b| b.to_string_lossy().into_owned())
                .unwrap_or_default();
            eprintln!("error: {bin}: {first}; see `{bin} --help` for the flags");
            std::process::exit(2);
        }
    }
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
    /// The workshop subnet: the host is its first address, the container the second. It is checked
    /// against this host's routes first.
    #[arg(long, value_name = "CIDR", default_value = crate::network::subnet::DEFAULT_SUBNET)]
    pub subnet: crate::network::Subnet,

    /// Publish a container port on the host's 127.0.0.1, as Docker does: -p 8080:80.
    #[arg(short = 'p', long = "publish", value_name = "HOST:CONTAINER")]
    pub publish: Vec<crate::network::forward::Publish>,

    /// Limit the container's outgoing bandwidth with a token bucket, in tc's units: 1mbit, 500kbit.
    #[arg(long, value_name = "RATE")]
    pub network_rate: Option<crate::network::Rate>,
}

impl NetworkArgs {
    /// The network for one container, after checking that the subnet is free on this host.
    pub fn network_config(&self) -> anyhow::Result<crate::network::NetworkConfig> {
        crate::network::check_subnet_free(&self.subnet)?;
        let mut net = crate::network::NetworkConfig::single(self.subnet);
        net.rate = self.network_rate.clone();
        net.publish = self.publish.clone();
        Ok(net)
    }
}
