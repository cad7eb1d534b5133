//! `workshop-runc`: the workshop's container as an OCI runtime, for engines such as podman:
//! `podman --runtime $PWD/target/debug/workshop-runc --cgroup-manager cgroupfs run --rm IMAGE CMD`.
//! The operations are runc's; see `src/oci/` and the book's chapter 10.

use clap::Parser;
use std::process::ExitCode;
use workshop::oci;

fn main() -> ExitCode {
    let args = oci::cli::Args::parse();
    match oci::cli::main(args) {
        Ok(code) => ExitCode::from(code.clamp(0, 255) as u8),
        Err(e) => {
            let message = format!("{e:#}");
            oci::log::write("error", &message);
            eprintln!("{}: {message}", oci::BIN);
            let code = e
                .downcast_ref::<workshop::container::ContainerError>()
                .map(|c| c.exit_code)
                .unwrap_or(1);
            ExitCode::from(code.clamp(1, 255) as u8)
        }
    }
}
