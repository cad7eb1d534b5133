//! How a container is named: by a random id, and by a name a person chose (or one made from the id).
//!
//! As in Docker, the id is 64 hex digits (256 random bits, so two containers never share one) and
//! is shown cut to its first 12; any unambiguous prefix of it, or the name, picks the container.

use serde::{Deserialize, Serialize};
use std::io::Read;

/// A container's id: 64 lowercase hex digits.
#[derive(Clone, Debug, PartialEq, Eq, PartialOrd, Ord, Hash, Serialize, Deserialize)]
#[serde(try_from = "String", into = "String")]
pub struct ContainerId(String);

/// How many digits of the id `ps` shows, and `ws-` names are made of (Docker's 12).
pub const SHORT_LEN: usize = 12;

impl ContainerId {
    /// A fresh id from the kernel's random generator (/dev/urandom, see random(4)).
    pub fn generate() -> std::io::Result<ContainerId> {
        loop {
            let mut bytes = [0u8; 32];
            std::fs::File::open("/dev/urandom")?.read_exact(&mut bytes)?;
            let hex: String = bytes.iter().map(|b| format!("{b:02x}")).collect();
            // Docker draws again when the short id is all digits: it becomes the container's
            // hostname, and a hostname that reads as a number confuses resolvers.
            if !hex[..SHORT_LEN].bytes().all(|c| c.is_ascii_digit()) {
                return Ok(ContainerId(hex));
            }
        }
    }

    /// Checks a full id, as read back from a directory name or a state file.
    pub fn parse(text: &str) -> Result<ContainerId, String> {
        let hex = |c: u8| c.is_ascii_digit() || (b'a'..=b'f').contains(&c);
        if text.len() == 64 && text.bytes().all(hex) {
            Ok(ContainerId(text.to_string()))
        } else {
            Err(format!("{text:?} is not a container id (64 lowercase hex digits)"))
        }
    }

    pub fn full(&self) -> &str {
        &self.0
    }

    /// The first 12 digits, as `ps` shows it.
    pub fn short(&self) -> &str {
        &self.0[..SHORT_LEN]
    }
}

impl std::fmt::Display for ContainerId {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(&self.0)
    }
}

impl TryFrom<String> for ContainerId {
    type Error = String;
    fn try_from(text: String) -> Result<ContainerId, String> {
        ContainerId::parse(&text)
    }
}

impl From<ContainerId> for String {
    fn from(id: ContainerId) -> String {
        id.0
    }
}

/// The name given when `--name` is not: `ws-` and the short id. (Docker makes up names like
/// `admiring_turing`; the workshop keeps to something a reader can trace back to the id.)
pub fn default_name(id: &ContainerId) -> String {
    format!("ws-{}", id.short())
}

/// Checks a `--name` as Docker does: `[a-zA-Z0-9][a-zA-Z0-9_.-]*`. The rule keeps names safe as
/// file names, hostnames-to-be and command-line words.
pub fn validate_name(name: &str) -> Result<(), String> {
    let mut chars = name.chars();
    let first_ok = chars.next().is_some_and(|c| c.is_ascii_alphanumeric());
    if first_ok && chars.all(|c| c.is_ascii_alphanumeric() || matches!(c, '_' | '.' | '-')) {
        Ok(())
    } else {
        Err(format!(
            "invalid container name {name:?}: a name starts with a letter or digit, followed by \
             letters, digits, '_', '.' or '-' ([a-zA-Z0-9][a-zA-Z0-9_.-]*)"
        ))
    }
}

/// Why an argument names no single container.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum ResolveError {
    /// Nothing matches (Docker's wording).
    NoSuch(String),
    /// More than one id starts with this prefix.
    Ambiguous { prefix: String, matches: Vec<String> },
}

impl std::fmt::Display for ResolveError {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match self {
            ResolveError::NoSuch(arg) => write!(f, "No such container: {arg}"),
            ResolveError::Ambiguous { prefix, matches } => write!(
                f,
                "multiple IDs found with provided prefix: {prefix} ({}); give more of the id, or the name",
                matches.join(", ")
            ),
        }
    }
}

impl std::error::Error for ResolveError {}

/// Finds the container a person means by `arg`, among `known` (id, name) pairs, in Docker's order:
/// an exact id, then an exact name, then a prefix of exactly one id.
pub fn resolve<'a>(
    arg: &str,
    known: impl IntoIterator<Item = (&'a ContainerId, &'a str)> + Clone,
) -> Result<&'a ContainerId, ResolveError> {
    if arg.is_empty() {
        return Err(ResolveError::NoSuch(arg.to_string()));
    }
    if let Some((id, _)) = known.clone().into_iter().find(|(id, _)| id.full() == arg) {
        return Ok(id);
    }
    if let Some((id, _)) = known.clone().into_iter().find(|(_, name)| *name == arg) {
        return Ok(id);
    }
    let mut matches: Vec<&ContainerId> =
        known.into_iter().map(|(id, _)| id).filter(|id| id.full().starts_with(arg)).collect();
    matches.sort();
    matches.dedup();
    match matches.as_slice() {
        [] => Err(ResolveError::NoSuch(arg.to_string())),
        [one] => Ok(one),
        many => Err(ResolveError::Ambiguous {
            prefix: arg.to_string(),
            matches: many.iter().map(|id| id.short().to_string()).collect(),
        }),
    }
}

/// Docker's message when a name is taken, with what to do about it.
pub fn check_name_free<'a>(
    name: &str,
    known: impl IntoIterator<Item = (&'a ContainerId, &'a str)>,
) -> Result<(), String> {
    match known.into_iter().find(|(_, n)| *n == name) {
        None => Ok(()),
        Some((id, _)) => Err(format!(
            "the container name {name:?} is already in use by container {}; remove it \
             (rm {name}) or choose another --name",
            id.short()
        )),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn id(prefix: &str) -> ContainerId {
        ContainerId::parse(&format!("{prefix}{}", "0".repeat(64 - prefix.len()))).unwrap()
    }

    #[test]
    fn generated_ids_are_64_hex_digits_shown_as_12_and_differ() {
        let a = ContainerId::generate().unwrap();
        assert_eq!(a.full().len(), 64);
        assert!(ContainerId::parse(a.full()).is_ok());
        assert_eq!(a.short(), &a.full()[..12]);
        assert!(!a.short().bytes().all(|c| c.is_ascii_digit()));
        assert_ne!(a, ContainerId::generate().unwrap());
        assert_eq!(default_name(&a), format!("ws-{}", a.short()));
    }

    #[test]
    fn only_full_lowercase_hex_ids_parse() {
        assert!(ContainerId::parse(&"a".repeat(64)).is_ok());
        for bad in ["", "abc", &"A".repeat(64), &"g".repeat(64), &"a".repeat(65)] {
            assert!(ContainerId::parse(bad).is_err(), "{bad:?}");
        }
        assert!(serde_json::from_str::<ContainerId>(r#""abc""#).is_err());
    }

    #[test]
    fn names_follow_dockers_rule() {
        for good in ["web", "web-1", "a", "9lives", "my_db.v2", "A-b_c.d"] {
            assert_eq!(validate_name(good), Ok(()), "{good}");
        }
        for bad in ["", "-web", "_web", ".web", "has space", "web/1", "wéb", "a:b"] {
            let e = validate_name(bad).unwrap_err();
            assert!(e.contains("[a-zA-Z0-9][a-zA-Z0-9_.-]*") && !e.contains('\n'), "{e}");
        }
    }

    #[test]
    fn resolve_takes_an_exact_id_a_name_or_a_unique_prefix() {
        let (a, b) = (id("abc1"), id("abc2"));
        let known = [(&a, "web"), (&b, "db")];
        assert_eq!(resolve(a.full(), known), Ok(&a));
        assert_eq!(resolve("db", known), Ok(&b));
        assert_eq!(resolve("abc1", known), Ok(&a));
        assert_eq!(resolve("abc2", known), Ok(&b));
    }

    #[test]
    fn a_name_wins_over_an_id_prefix() {
        // A container named "abc2" and another whose id starts with it: Docker takes the name.
        let (a, b) = (id("abc1"), id("abc2"));
        let known = [(&a, "abc2"), (&b, "db")];
        assert_eq!(resolve("abc2", known), Ok(&a));
    }

    #[test]
    fn an_ambiguous_prefix_names_the_candidates_in_one_line() {
        let (a, b) = (id("abc1"), id("abc2"));
        let e = resolve("abc", [(&a, "web"), (&b, "db")]).unwrap_err();
        assert!(matches!(e, ResolveError::Ambiguous { .. }));
        let text = e.to_string();
        assert!(text.starts_with("multiple IDs found with provided prefix: abc"), "{text}");
        assert!(text.contains(a.short()) && text.contains(b.short()) && !text.contains('\n'));
    }

    #[test]
    fn an_unknown_argument_is_no_such_container() {
        let a = id("abc1");
        for arg in ["nope", "abd", "", "web2"] {
            let e = resolve(arg, [(&a, "web")]).unwrap_err();
            assert_eq!(e.to_string(), format!("No such container: {arg}"));
        }
    }

    #[test]
    fn a_taken_name_is_refused_with_the_holder() {
        let a = id("abc1");
        assert!(check_name_free("db", [(&a, "web")]).is_ok());
        let e = check_name_free("web", [(&a, "web")]).unwrap_err();
        assert!(e.contains("already in use") && e.contains(a.short()), "{e}");
    }
}
