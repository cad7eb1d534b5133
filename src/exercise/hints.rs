//! Tiered hints, shown one at a time on request, as rustlings does: `cargo run -- hint 04` prints
//! the next level not yet seen for that exercise. Level 1 is the idea, level 2 where to look (the
//! man page, the flag), level 3 the API. The exercise files keep only the task, what the checker
//! verifies and the man pages, so a student who wants to work it out from the man page can.
//!
//! The hints are plain text in `exercises/hints/NN_topic.md`, compiled in (so `hint` works from any
//! directory), one `## N · title` section per level. The levels seen are remembered per exercise in
//! a small file in the student's own space ([`state_file`]), owned by them even when `cargo run`
//! went through sudo.
//!
//! The checker names a hint level too: a failure that matches a known mistake (one of the "break
//! it" tasks, see [`diagnose`]) says what is wrong and which level to read.

use crate::stage::Stage;
use std::path::{Path, PathBuf};

/// One level of an exercise's hints.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Hint {
    /// 1, 2, 3, in the order they are shown.
    pub level: usize,
    /// The heading after `## N · `: "where to look: pivot_root(2) and its EINVAL, a bind mount".
    pub title: String,
    pub text: String,
}

/// The hint file's text for a stage that has an exercise.
fn source(stage: Stage) -> Option<&'static str> {
    Some(match stage {
        Stage::Pid => include_str!("../../exercises/hints/01_pid.md"),
        Stage::MountProc => include_str!("../../exercises/hints/02_mount_proc.md"),
        Stage::Rootfs => include_str!("../../exercises/hints/03_rootfs.md"),
        Stage::Network => include_str!("../../exercises/hints/04_network.md"),
        Stage::User => include_str!("../../exercises/hints/05_user.md"),
        Stage::Cgroups => include_str!("../../exercises/hints/06_cgroups.md"),
        Stage::Overlay => include_str!("../../exercises/hints/07_overlay.md"),
        Stage::Security => include_str!("../../exercises/hints/08_security.md"),
        Stage::Lifecycle => include_str!("../../exercises/hints/09_lifecycle.md"),
    })
}

/// Parses a hint file: every `## N · title` heading starts level N; text before the first heading
/// (the file's `#` title) is not a hint.
pub fn parse(text: &str) -> Vec<Hint> {
    let mut hints: Vec<Hint> = Vec::new();
    for line in text.lines() {
        if let Some(heading) = line.strip_prefix("## ") {
            if let Some((n, title)) = heading.split_once(" · ") {
                if let Ok(level) = n.trim().parse() {
                    hints.push(Hint { level, title: title.trim().into(), text: String::new() });
                    continue;
                }
            }
        }
        if let Some(h) = hints.last_mut() {
            h.text.push_str(line);
            h.text.push('\n');
        }
    }
    for h in &mut hints {
        h.text = h.text.trim().to_string();
    }
    hints
}

/// A stage's hints, in order; empty for a stage with no exercise yet.
pub fn for_stage(stage: Stage) -> Vec<Hint> {
    source(stage).map(parse).unwrap_or_default()
}

/// How the checker points at a hint: "see `cargo run -- hint 03` (level 2, where to look: …)".
pub fn pointer(stage: Stage, level: usize) -> String {
    let n = stage.number();
    match for_stage(stage).into_iter().find(|h| h.level == level) {
        Some(h) => format!("see `cargo run -- hint {n:02}` (level {level}, {})", h.title),
        None => format!("see `cargo run -- hint {n:02}`"),
    }
}

/// A mistake the checker recognises in a failure, and the hint level that explains it.
struct Diagnosis {
    stage: Stage,
    /// Every one of these appears in the failure's sentence (which quotes the stage's stderr).
    seen: &'static [&'static str],
    says: &'static str,
    level: usize,
}

/// The "break it" mistakes of each exercise (and their look-alikes), as the checker sees them.
const DIAGNOSES: [Diagnosis; 12] = [
    Diagnosis {
        stage: Stage::Pid,
        seen: &["not the first process of a new PID namespace"],
        says: "the child was born in the host's PID namespace: a namespace is chosen at birth, \
               by the CLONE_NEW* flags given to clone(2); pass it the `flags` you were handed",
        level: 2,
    },
    Diagnosis {
        stage: Stage::MountProc,
        seen: &["still shared"],
        says: "a mount below / is still shared after make_private: MS_PRIVATE alone changes \
               only the mount it is given; MS_REC applies it to every mount below as well",
        level: 2,
    },
    Diagnosis {
        stage: Stage::Rootfs,
        seen: &["pivot_root", "EBUSY"],
        says: "pivot_root(2) refused with EBUSY: the new root is a plain directory on the old root's \
               mount, not a mount point of its own; bind-mount it onto itself first",
        level: 2,
    },
    Diagnosis {
        stage: Stage::Rootfs,
        seen: &["pivot_root", "EINVAL"],
        says: "pivot_root(2) refused with EINVAL: the new root is a plain directory on the old root's \
               mount, not a mount point of its own; bind-mount it onto itself first",
        level: 2,
    },
    Diagnosis {
        stage: Stage::Network,
        seen: &["ip addr add", "dev eth0", "ENODEV"],
        says: "the address was given to eth0 when there is no eth0 yet (ENODEV): the veth end \
               still has the host's name; rename it first, then address it",
        level: 2,
    },
    Diagnosis {
        stage: Stage::User,
        seen: &["become root in the user namespace", "EINVAL"],
        says: "the child could not switch to uid or gid 0 of its namespace (EINVAL): that id is \
               not mapped; write both the uid_map and the gid_map",
        level: 2,
    },
    Diagnosis {
        stage: Stage::Cgroups,
        seen: &["--memory 32m, not 33554432"],
        says: "the memory limit file never received the limit: a limit exists only once its \
               value is written into its file, before the child joins",
        level: 1,
    },
    Diagnosis {
        stage: Stage::Overlay,
        seen: &["is not an opaque dir", "userxattr"],
        says: "removing a directory of the image failed: in a user namespace overlay can keep its \
               own attributes (opaque dirs, redirects) only with the `userxattr` mount option",
        level: 1,
    },
    Diagnosis {
        stage: Stage::Overlay,
        seen: &["lowerdir is", "top first"],
        says: "the layers are stacked the wrong way up: lowerdir= lists the top layer first, and \
               an image lists its layers bottom first",
        level: 1,
    },
    Diagnosis {
        stage: Stage::Security,
        seen: &["CapBnd"],
        says: "the bounding set still holds capabilities outside the kept set: it is a separate \
               set, lowered one capability at a time (PR_CAPBSET_DROP), before the others are set",
        level: 1,
    },
    Diagnosis {
        stage: Stage::Security,
        seen: &["seccomp(SECCOMP_SET_MODE_FILTER)", "failed"],
        says: "the kernel refused the seccomp filter: without no_new_privs only a holder of \
               CAP_SYS_ADMIN may install one, so install it before the capabilities are dropped",
        level: 1,
    },
    Diagnosis {
        stage: Stage::Lifecycle,
        seen: &["not in the container's user namespace"],
        says: "the exec'd process stayed in the host's user namespace, so it is the host's own \
               root in the container: join the user namespace too (CLONE_NEWUSER), and first",
        level: 1,
    },
];

/// The checker's extra sentence for a failure that matches a known mistake of `stage`'s exercise:
/// what is wrong, and which hint level to read.
pub fn diagnose(stage: Stage, failure: &str) -> Option<String> {
    DIAGNOSES
        .iter()
        .filter(|d| d.stage == stage)
        .find(|d| d.seen.iter().all(|s| failure.contains(s)))
        .map(|d| format!("{}; {}", d.says, pointer(stage, d.level)))
}

/// Where the levels seen are remembered: `$XDG_STATE_HOME/workshop/hints`, or
/// `~/.local/state/workshop/hints` in the home of the user who ran sudo (SUDO_UID), or in $HOME.
/// Never in the repository: the student must be able to delete everything there.
pub fn state_file() -> PathBuf {
    let base = match std::env::var_os("XDG_STATE_HOME").filter(|v| Path::new(v).is_absolute()) {
        Some(dir) => PathBuf::from(dir),
        None => home().join(".local/state"),
    };
    base.join("workshop").join("hints")
}

fn home() -> PathBuf {
    let user = |uid: u32| {
        nix::unistd::User::from_uid(nix::unistd::Uid::from_raw(uid)).ok().flatten().map(|u| u.dir)
    };
    if let Some(dir) = sudo_owner().and_then(|(uid, _)| user(uid)) {
        return dir;
    }
    std::env::var_os("HOME")
        .map(PathBuf::from)
        .or_else(|| user(nix::unistd::getuid().as_raw()))
        .unwrap_or_else(|| "/tmp".into())
}

/// The user who ran `sudo`, when we are root because of it: files we make are theirs.
fn sudo_owner() -> Option<(u32, u32)> {
    if !nix::unistd::geteuid().is_root() {
        return None;
    }
    let uid = std::env::var("SUDO_UID").ok()?.parse().ok()?;
    let gid = std::env::var("SUDO_GID").ok()?.parse().ok()?;
    Some((uid, gid))
}

/// The levels seen so far, per stage number: lines "03 2".
fn read_seen(path: &Path) -> Vec<(u8, usize)> {
    std::fs::read_to_string(path)
        .unwrap_or_default()
        .lines()
        .filter_map(|l| {
            let (n, level) = l.split_once(' ')?;
            Some((n.parse().ok()?, level.trim().parse().ok()?))
        })
        .collect()
}

/// How many hints of `stage` have been shown.
pub fn seen(stage: Stage) -> usize {
    read_seen(&state_file())
        .into_iter()
        .find(|(n, _)| *n == stage.number())
        .map_or(0, |(_, level)| level)
}

/// Remembers that `level` hints of `stage` have been shown (0: none). Atomic: a temporary file,
/// then rename; directories it makes and the file belong to the user who ran sudo.
pub fn set_seen(stage: Stage, level: usize) -> std::io::Result<()> {
    let path = state_file();
    let mut all: Vec<(u8, usize)> =
        read_seen(&path).into_iter().filter(|(n, _)| *n != stage.number()).collect();
    if level > 0 {
        all.push((stage.number(), level));
    }
    all.sort();
    let dir = path.parent().expect("the state file is in a directory");
    let owner = sudo_owner();
    // Create the missing directories one by one, so that each one made here can be handed over.
    let mut missing: Vec<&Path> = dir.ancestors().take_while(|d| !d.exists()).collect();
    missing.reverse();
    for d in missing {
        std::fs::create_dir(d)?;
        chown(d, owner)?;
    }
    let text: String = all.iter().map(|(n, l)| format!("{n:02} {l}\n")).collect();
    let tmp = path.with_extension("tmp");
    {
        use std::io::Write;
        let mut f = std::fs::File::create(&tmp)?;
        f.write_all(text.as_bytes())?;
        f.sync_all()?;
    }
    chown(&tmp, owner)?;
    std::fs::rename(&tmp, &path)
}

fn chown(path: &Path, owner: Option<(u32, u32)>) -> std::io::Result<()> {
    match owner {
        Some((uid, gid)) => std::os::unix::fs::chown(path, Some(uid), Some(gid)),
        None => Ok(()),
    }
}

/// What `cargo run -- hint NN` does.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Request {
    /// The next level not yet seen.
    Next,
    /// Every level.
    All,
    /// Forget the levels seen.
    Reset,
}

/// Prints the hints asked for, in full sentences. An error is one line for the student.
pub fn show(stage: Stage, request: Request) -> Result<(), String> {
    let n = stage.number();
    let hints = for_stage(stage);
    if hints.is_empty() {
        return Err(format!("stage {n:02} ({stage}) has no exercise, so no hints, yet"));
    }
    let remember = |level| {
        set_seen(stage, level).map_err(|e| {
            format!("could not remember the hints seen in {}: {e}", state_file().display())
        })
    };
    let total = hints.len();
    let print = |h: &Hint| {
        println!("Hint {} of {total} for exercise {n:02} ({stage}) · {}\n", h.level, h.title);
        println!("{}\n", h.text);
    };
    match request {
        Request::Reset => {
            remember(0)?;
            println!("Forgot the hints you had seen for exercise {n:02}; `cargo run -- hint {n:02}` starts again at level 1.");
        }
        Request::All => {
            hints.iter().for_each(print);
            remember(total)?;
        }
        Request::Next => {
            let done = seen(stage);
            match hints.get(done) {
                Some(h) => {
                    print(h);
                    remember(done + 1)?;
                    match hints.get(done + 1) {
                        Some(next) => println!(
                            "Still stuck? `cargo run -- hint {n:02}` again shows level {}, {}.",
                            next.level, next.title
                        ),
                        None => println!(
                            "That was the last hint. The solution, with the why of each line, is {}.",
                            super::Track::Solutions.file(stage)
                        ),
                    }
                }
                None => println!(
                    "You have seen all {total} hints for exercise {n:02}. `cargo run -- hint {n:02} --all` shows them again; `--reset` starts over. The solution is {}.",
                    super::Track::Solutions.file(stage)
                ),
            }
        }
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn every_exercise_has_three_levels_in_order() {
        for stage in Stage::ALL.into_iter().filter(|s| s.built()) {
            let hints = for_stage(stage);
            let levels: Vec<usize> = hints.iter().map(|h| h.level).collect();
            assert_eq!(levels, [1, 2, 3], "{stage}");
            for (h, starts) in hints.iter().zip(["the idea", "where to look", "the API"]) {
                assert!(h.title.starts_with(starts), "{stage} level {}: {:?}", h.level, h.title);
                assert!(h.text.len() > 80, "{stage} level {} is nearly empty", h.level);
            }
        }
    }

    #[test]
    fn parse_skips_the_title_and_keeps_each_sections_text() {
        let h = parse("# title\nignored\n## 1 · one: a\nfirst\n\n## 2 · two\nsecond\nmore\n");
        assert_eq!(h.len(), 2);
        assert_eq!((h[0].level, h[0].title.as_str(), h[0].text.as_str()), (1, "one: a", "first"));
        assert_eq!(h[1].text, "second\nmore");
    }

    #[test]
    fn each_break_it_mistake_names_its_stage_and_level() {
        let d = diagnose(
            Stage::Rootfs,
            "exited before its container ran `sleep`: error: pivot_root into the root \
             filesystem: EINVAL: Invalid argument",
        )
        .unwrap();
        assert!(d.contains("EINVAL") && d.contains("not a mount point"), "{d}");
        assert!(d.contains("`cargo run -- hint 03` (level 2, where to look: pivot_root(2)"), "{d}");
        // A look-alike in another stage's check is not this stage's mistake.
        assert_eq!(diagnose(Stage::Pid, "pivot_root … EINVAL"), None);
        for d in &DIAGNOSES {
            assert!(for_stage(d.stage).iter().any(|h| h.level == d.level), "{}", d.stage);
        }
    }
}
