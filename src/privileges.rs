//! Privileges: creating namespaces, mounting and pivoting need root (CAP_SYS_ADMIN).

use nix::unistd::Uid;

pub fn is_root() -> bool {
    Uid::effective().is_root()
}

/// The exact command that works: this same invocation under sudo.
pub fn sudo_command() -> String {
    let args: Vec<String> = std::env::args().map(|a| shell_quote(&a)).collect();
    format!("sudo {}", args.join(" "))
}

/// Quotes an argument for a POSIX shell when it needs it.
pub fn shell_quote(arg: &str) -> String {
    if !arg.is_empty() && arg.chars().all(|c| c.is_ascii_alphanumeric() || "-_./=:,+@%".contains(c))
    {
        arg.to_string()
    } else {
        format!("'{}'", arg.replace('\'', r"'\''"))
    }
}

/// One clear line for a stage started without root.
pub fn needs_root_message(stage_bin: &str) -> String {
    format!(
        "this stage needs root to create namespaces and mount filesystems; run it as `{}` \
         (or `cargo run --bin {stage_bin}`, which uses sudo for you), or try --rootless",
        sudo_command()
    )
}

#[cfg(test)]
mod tests {
    use super::shell_quote;

    #[test]
    fn quotes_only_what_needs_it() {
        assert_eq!(shell_quote("target/debug/01_pid"), "target/debug/01_pid");
        assert_eq!(shell_quote("echo $$"), "'echo $$'");
        assert_eq!(shell_quote("it's"), r"'it'\''s'");
    }
}
