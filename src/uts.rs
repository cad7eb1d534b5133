//! UTS namespace: the container's own hostname. See uts_namespaces(7).

use std::io::Read;

// ANCHOR: set_hostname
/// Sets the hostname of this UTS namespace; the host's hostname is untouched.
/// The same as `hostname NAME` inside `unshare --uts`.
pub fn set_hostname(sys: &dyn crate::runtime::syscalls::Syscalls, name: &str) -> nix::Result<()> {
    sys.sethostname(name)
}
// ANCHOR_END: set_hostname

/// A container id like Docker's: 12 hex digits from the kernel's random source.
pub fn container_id() -> String {
    let mut bytes = [0u8; 6];
    if std::fs::File::open("/dev/urandom").and_then(|mut f| f.read_exact(&mut bytes)).is_err() {
        // Never fails on Linux; fall back to time and PID rather than panic.
        let t =
            std::time::SystemTime::now().duration_since(std::time::UNIX_EPOCH).unwrap_or_default();
        let mixed = t.as_nanos() as u64 ^ ((std::process::id() as u64) << 20);
        bytes.copy_from_slice(&mixed.to_le_bytes()[..6]);
    }
    bytes.iter().map(|b| format!("{b:02x}")).collect()
}

/// Checks a hostname the way the kernel and RFC 1123 would accept it, with a reason when not.
pub fn validate_hostname(name: &str) -> Result<(), String> {
    if name.is_empty() || name.len() > 64 {
        return Err(format!("--hostname {name:?} must be 1 to 64 characters long"));
    }
    let ok = name.split('.').all(|label| {
        !label.is_empty()
            && !label.starts_with('-')
            && !label.ends_with('-')
            && label.chars().all(|c| c.is_ascii_alphanumeric() || c == '-')
    });
    if ok {
        Ok(())
    } else {
        Err(format!("--hostname {name:?} may hold only letters, digits, '-' and '.', like web-1 or box.local"))
    }
}

pub fn host_hostname() -> String {
    nix::unistd::gethostname().map(|h| h.to_string_lossy().into_owned()).unwrap_or_default()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn container_ids_are_twelve_hex_digits_and_differ() {
        let a = container_id();
        assert_eq!(a.len(), 12);
        assert!(a.chars().all(|c| c.is_ascii_hexdigit()));
        assert_ne!(a, container_id());
    }

    #[test]
    fn hostnames_are_checked() {
        assert!(validate_hostname("web-1").is_ok());
        assert!(validate_hostname("box.local").is_ok());
        assert!(validate_hostname("").is_err());
        assert!(validate_hostname("-bad").is_err());
        assert!(validate_hostname("has space").is_err());
        assert!(validate_hostname(&"a".repeat(65)).is_err());
    }
}
