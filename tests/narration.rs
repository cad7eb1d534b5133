//! Every `shell` line a stage narrates is safe to paste on the host.
//!
//! The introduction invites students to type the narrated commands as root. A line that changes the
//! host (a mount, a link, the hostname, a module) must therefore either be wrapped in the namespace
//! that keeps the change away from the host (`unshare --mount` around a mount, `unshare --net`
//! around `ip link add`, `unshare --uts` or `--user` around `hostname NAME`), or be narrated with
//! [`Narrator::shell_inside`](workshop::narrate::Narrator::shell_inside), which labels it `inside`:
//! typed in the container's shell, never on the host.
//!
//! The checker below reads a line the way a shell would split it (quotes, `&&`, `;`, `|`,
//! `sh -c '…'`) and knows which commands change what. Each stage's demo runs for real and every
//! `shell` line it prints goes through the checker; so does every line of the book's `sh` blocks,
//! where the one change made on purpose (chapter 02's leak, and its undo) is listed by name.
mod common;

use workshop::narrate::{INSIDE_LABEL, SHELL_LABEL};
use workshop::Stage;

/// What a command changes on the host, and so which namespace must be around it.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
enum Change {
    /// mount, umount, pivot_root: the mount table (needs `--mount`).
    Mounts,
    /// ip link/addr/route add|del|set, tc … add: the network (needs `--net`).
    Network,
    /// hostname NAME: the hostname (needs `--uts`, or `--user`, under which it is refused).
    Hostname,
    /// insmod, modprobe, mknod: the kernel or /dev (needs `--user`, under which they are refused).
    Privileged,
}

/// The namespaces an `unshare` around a command gives it.
#[derive(Clone, Copy, Debug, Default)]
struct Wrapped {
    mount: bool,
    net: bool,
    uts: bool,
    user: bool,
}

impl Wrapped {
    fn covers(&self, change: Change) -> bool {
        match change {
            Change::Mounts => self.mount,
            Change::Network => self.net,
            Change::Hostname => self.uts || self.user,
            Change::Privileged => self.user,
        }
    }
}

/// Splits at `&&`, `||`, `;` and `|` outside quotes, and drops a `# comment`.
fn segments(line: &str) -> Vec<String> {
    let mut out = Vec::new();
    let mut current = String::new();
    let mut quote: Option<char> = None;
    let mut chars = line.chars().peekable();
    while let Some(c) = chars.next() {
        match (quote, c) {
            (Some(q), c) if c == q => {
                quote = None;
                current.push(c);
            }
            (Some(_), c) => current.push(c),
            (None, '\'' | '"') => {
                quote = Some(c);
                current.push(c);
            }
            (None, '#') if current.is_empty() || current.ends_with(' ') => break,
            (None, ';') => out.push(std::mem::take(&mut current)),
            (None, '&' | '|') => {
                if chars.peek() == Some(&c) {
                    chars.next();
                }
                out.push(std::mem::take(&mut current));
            }
            (None, c) => current.push(c),
        }
    }
    out.push(current);
    out.into_iter().map(|s| s.trim().to_string()).filter(|s| !s.is_empty()).collect()
}

/// Splits a segment into words as the shell would, removing quotes.
fn words(segment: &str) -> Vec<String> {
    let mut out = Vec::new();
    let mut current = String::new();
    let mut quote: Option<char> = None;
    let mut in_word = false;
    for c in segment.chars() {
        match (quote, c) {
            (Some(q), c) if c == q => quote = None,
            (Some(_), c) => current.push(c),
            (None, '\'' | '"') => {
                quote = Some(c);
                in_word = true;
            }
            (None, c) if c.is_whitespace() => {
                if in_word {
                    out.push(std::mem::take(&mut current));
                    in_word = false;
                }
            }
            (None, c) => {
                current.push(c);
                in_word = true;
            }
        }
    }
    if in_word {
        out.push(current);
    }
    out
}

/// unshare's options that take their value as the next word.
const UNSHARE_OPTIONS_WITH_VALUE: [&str; 9] =
    ["--root", "-R", "--propagation", "--setuid", "-S", "--setgid", "-G", "--wd", "-w"];

/// What one command (its words, wrappers removed) changes on the host, if anything.
fn change_of(words: &[String]) -> Option<Change> {
    let name = words.first()?.rsplit('/').next()?;
    // Words that are not options: the object and verb of `ip`/`tc`, the argument of hostname.
    let args: Vec<&str> =
        words[1..].iter().map(String::as_str).filter(|w| !w.starts_with('-')).collect();
    match name {
        "mount" if words.len() > 1 => Some(Change::Mounts),
        "umount" | "pivot_root" => Some(Change::Mounts),
        "hostname" | "sethostname" if !args.is_empty() => Some(Change::Hostname),
        "insmod" | "modprobe" | "rmmod" | "mknod" => Some(Change::Privileged),
        "ip" => {
            let verb = args.get(1).copied().unwrap_or("");
            let object = args.first().copied().unwrap_or("");
            let objects =
                ["link", "l", "addr", "address", "a", "route", "r", "ro", "neigh", "rule"];
            let verbs = ["add", "del", "delete", "set", "change", "replace", "flush"];
            (objects.contains(&object) && verbs.contains(&verb)).then_some(Change::Network)
        }
        "tc" => {
            let verb = args.get(1).copied().unwrap_or("");
            ["add", "del", "delete", "change", "replace"].contains(&verb).then_some(Change::Network)
        }
        _ => None,
    }
}

/// The host changes in a narrated command that nothing keeps away from the host, each with the
/// command that makes it.
fn unwrapped_changes(command: &str, around: Wrapped) -> Vec<(Change, String)> {
    let mut found = Vec::new();
    for segment in segments(command) {
        let w = words(&segment);
        let mut wrapped = around;
        let mut leaky = false;
        let mut i = 0;
        while w.get(i).is_some_and(|x| x == "sudo") {
            i += 1;
        }
        if w.get(i).is_some_and(|x| x == "unshare") {
            i += 1;
            while let Some(option) = w.get(i).filter(|x| x.starts_with('-')) {
                let long = option.split('=').next().unwrap_or(option);
                match long {
                    "--mount" => wrapped.mount = true,
                    "--net" => wrapped.net = true,
                    "--uts" => wrapped.uts = true,
                    "--user" | "--map-root-user" | "--map-users" | "--map-groups"
                    | "--map-auto" | "--map-user" | "--map-group" | "--map-current-user" => {
                        wrapped.user = true
                    }
                    _ if !long.starts_with("--") => {
                        // Short options, possibly several in one word: -mnu, -r, -U.
                        for letter in long.chars().skip(1) {
                            match letter {
                                'm' => wrapped.mount = true,
                                'n' => wrapped.net = true,
                                'u' => wrapped.uts = true,
                                'U' | 'r' | 'c' => wrapped.user = true,
                                _ => {}
                            }
                        }
                    }
                    _ => {}
                }
                // A new mount namespace keeps mounts off the host only when its mounts are
                // private (unshare's default); `--propagation shared|unchanged` lets them out.
                let propagation = match option.split_once('=') {
                    Some(("--propagation", value)) => Some(value),
                    _ if option == "--propagation" => w.get(i + 1).map(String::as_str),
                    _ => None,
                };
                if matches!(propagation, Some("shared" | "unchanged")) {
                    leaky = true;
                }
                if UNSHARE_OPTIONS_WITH_VALUE.contains(&option.as_str()) {
                    i += 1;
                }
                i += 1;
            }
            if leaky {
                wrapped.mount = around.mount;
            }
        }
        let rest = &w[i.min(w.len())..];
        let shell = rest.first().is_some_and(|c| ["sh", "bash", "/bin/sh"].contains(&c.as_str()));
        if let (true, Some(at)) = (shell, rest.iter().position(|x| x == "-c")) {
            if let Some(script) = rest.get(at + 1) {
                found.extend(unwrapped_changes(script, wrapped));
            }
        } else if let Some(change) = change_of(rest) {
            if !wrapped.covers(change) {
                found.push((change, rest.join(" ")));
            }
        }
    }
    found
}

/// Runs a stage's narrated demo to its end and returns its plain output.
///
/// Whether every claim held is the stage tests' question, not this file's: a claim that fails
/// (status 1) still prints every step, and on a shared machine stage 04's "the host's network is
/// exactly as before" can fail because another user's container came or went meanwhile. Any other
/// status (125: the stage stopped with an error) means the narration is incomplete.
fn demo_output(stage: Stage) -> String {
    run_demo(stage, &[])
}

fn run_demo(stage: Stage, args: &[&str]) -> String {
    let out = workshop::facts::run(common::lesson_bin(stage), args);
    let finished = out.stdout.lines().any(|l| l.contains(&format!("{}: ", stage.bin())));
    assert!(
        (out.status == 0 || out.status == 1) && finished,
        "{stage}'s demo did not run to its end (status {}):\n{}\n{}",
        out.status,
        out.stdout,
        out.stderr
    );
    out.stdout
}

#[test]
fn every_narrated_shell_line_is_safe_to_paste_on_the_host() {
    let Some(_s) = common::root_and_serial() else { return };
    let mut unsafe_lines = Vec::new();
    let mut counted = 0;
    for stage in [Stage::Pid, Stage::MountProc, Stage::Rootfs, Stage::Network, Stage::User] {
        let output = demo_output(stage);
        let shell: Vec<&str> = output.lines().filter_map(|l| l.strip_prefix(SHELL_LABEL)).collect();
        assert!(!shell.is_empty(), "{stage}'s demo narrates no shell line:\n{output}");
        counted += shell.len();
        for line in shell {
            for (change, command) in unwrapped_changes(line, Wrapped::default()) {
                unsafe_lines.push(format!(
                    "{stage}: `{line}`: `{command}` changes the host ({change:?}): wrap it in \
                     unshare, or narrate it with shell_inside"
                ));
            }
        }
    }
    assert!(unsafe_lines.is_empty(), "unsafe shell lines:\n{}", unsafe_lines.join("\n"));
    assert!(
        counted >= 20,
        "only {counted} shell lines were narrated: is the label still {SHELL_LABEL:?}?"
    );
}

#[test]
fn commands_typed_inside_the_container_are_labelled_inside() {
    let Some(_s) = common::root_and_serial() else { return };
    // Stage 04 sets up eth0 inside the container; those lines carry the inside label.
    let output = demo_output(Stage::Network);
    let inside: Vec<&str> = output.lines().filter_map(|l| l.strip_prefix(INSIDE_LABEL)).collect();
    assert!(
        inside.iter().any(|l| l.contains("ip route add default via")),
        "stage 04 does not narrate its inside commands as inside:\n{output}"
    );
}

#[test]
fn stage_04_narrates_the_subnet_it_was_given() {
    let Some(_s) = common::root_and_serial() else { return };
    // Every address the narration prints comes from --subnet, none from the default.
    let out = run_demo(Stage::Network, &["--subnet", "10.202.0.0/24"]);
    assert!(out.contains("10.202.0.1/30"), "the --subnet is not narrated:\n{out}");
    let stale: Vec<&str> = out.lines().filter(|l| l.contains("10.200.")).collect();
    assert!(
        stale.is_empty(),
        "lines with the default subnet under --subnet:\n{}",
        stale.join("\n")
    );
}

/// Lines of the book that change the host on purpose: chapter 02 shows a mount leaking out of a
/// namespace with shared propagation, and removes it on the next line.
const BOOK_HOST_CHANGES_ON_PURPOSE: [(&str, &str); 2] = [
    (
        "ch02-mount-proc.md",
        "unshare --mount --propagation unchanged sh -c 'mount -t tmpfs none /mnt'",
    ),
    ("ch02-mount-proc.md", "sudo umount /mnt"),
];

/// The commands in the book's `sh` blocks, a line continued with `\` joined to the next: its
/// pages, and the quizzes the chapters include (`quiz/NN_topic.md`).
fn book_commands() -> Vec<(String, String)> {
    let dir = std::path::Path::new(env!("CARGO_MANIFEST_DIR")).join("book/src");
    let mut found = Vec::new();
    let pages =
        std::fs::read_dir(&dir).unwrap().chain(std::fs::read_dir(dir.join("quiz")).unwrap());
    for entry in pages {
        let path = entry.unwrap().path();
        if path.extension().is_none_or(|e| e != "md") {
            continue;
        }
        let page = path.strip_prefix(&dir).unwrap().to_string_lossy().to_string();
        let text = std::fs::read_to_string(&path).unwrap();
        let mut in_shell = false;
        let mut pending = String::new();
        for line in text.lines() {
            let fence = line.trim_start();
            if fence.starts_with("```") {
                in_shell =
                    !in_shell && ["```sh", "```bash", "```console"].contains(&fence.trim_end());
                continue;
            }
            if !in_shell {
                continue;
            }
            match line.trim_end().strip_suffix('\\') {
                Some(start) => pending.push_str(start),
                None => {
                    pending.push_str(line);
                    found.push((page.clone(), std::mem::take(&mut pending)));
                }
            }
        }
    }
    found
}

#[test]
fn every_shell_line_of_the_book_is_safe_to_paste_on_the_host() {
    let commands = book_commands();
    assert!(commands.len() > 50, "only {} commands found in the book's sh blocks", commands.len());
    let mut unsafe_lines = Vec::new();
    for (page, line) in &commands {
        let on_purpose =
            BOOK_HOST_CHANGES_ON_PURPOSE.iter().any(|(p, l)| p == page && line.contains(l));
        if on_purpose {
            continue;
        }
        for (change, command) in unwrapped_changes(line, Wrapped::default()) {
            unsafe_lines
                .push(format!("{page}: `{line}`: `{command}` changes the host ({change:?})"));
        }
    }
    assert!(
        unsafe_lines.is_empty(),
        "unsafe shell lines in the book:\n{}",
        unsafe_lines.join("\n")
    );
}

// The checker itself, on lines the course once printed and on their fixed forms.

fn changes(line: &str) -> Vec<Change> {
    unwrapped_changes(line, Wrapped::default()).into_iter().map(|(c, _)| c).collect()
}

#[test]
fn the_old_pivot_root_line_of_stage_03_is_caught() {
    let dir = "/var/lib/workshop/rootfs";
    let old = format!("mount --bind {dir} {dir} && cd {dir} && pivot_root . . && umount -l .");
    assert_eq!(changes(&old), [Change::Mounts, Change::Mounts, Change::Mounts]);
    assert!(changes(&format!("unshare --mount sh -c '{old}'")).is_empty());
    // The same line with the unshare only around its first command is still unsafe.
    assert_eq!(changes(&format!("unshare --mount true && {old}")).len(), 3);
}

#[test]
fn a_namespace_covers_only_its_own_kind_of_change() {
    assert_eq!(changes("unshare --net sh -c 'mount -t proc proc /proc'"), [Change::Mounts]);
    assert_eq!(changes("unshare --mount ip link add x type dummy"), [Change::Network]);
    assert!(changes("unshare -mpf sh -c 'mount -t proc proc /proc && ps -e'").is_empty());
    assert!(changes("unshare --uts sh -c 'hostname NAME; hostname'").is_empty());
    assert!(
        changes("unshare --user --map-root-user sh -c 'hostname hacked; insmod x.ko'").is_empty()
    );
    assert_eq!(
        changes("hostname inside-05; mount -t tmpfs none /tmp"),
        [Change::Hostname, Change::Mounts]
    );
}

#[test]
fn a_mount_namespace_with_shared_propagation_does_not_protect_the_host() {
    let leak = "unshare --mount --propagation unchanged sh -c 'mount -t tmpfs none /mnt'";
    assert_eq!(changes(leak), [Change::Mounts]);
    assert_eq!(
        changes("unshare -m --propagation=shared mount -t tmpfs none /mnt"),
        [Change::Mounts]
    );
    assert!(changes("unshare --mount --propagation private mount -t tmpfs none /mnt").is_empty());
}

#[test]
fn network_changes_and_reads_are_told_apart() {
    assert_eq!(changes("ip link add wsh-TAG type veth peer name wsc-TAG"), [Change::Network]);
    assert_eq!(changes("ip addr add 10.200.0.1/30 dev wsh-TAG && ip link set wsh-TAG up").len(), 2);
    assert_eq!(changes("ip route add default via 10.200.0.1"), [Change::Network]);
    assert_eq!(
        changes("tc qdisc add dev eth0 root tbf rate 1mbit burst 32kbit latency 400ms"),
        [Change::Network]
    );
    assert!(changes("unshare --net ip -o link").is_empty());
    assert!(changes("ip -br addr; ip route; ip -o link; tc qdisc show").is_empty());
    assert!(
        changes("ping -c 1 10.200.0.2; wget -qO- http://10.200.0.2/   (on the host)").is_empty()
    );
}

#[test]
fn comments_and_quotes_are_read_as_a_shell_reads_them() {
    assert!(changes("chroot /srv sh   # then mount -t proc proc /proc from inside").is_empty());
    assert!(changes("echo 'mount -t proc proc /proc'").is_empty());
    assert_eq!(words("sh -c 'a b' \"c d\""), ["sh", "-c", "a b", "c d"]);
    assert_eq!(segments("a && b || c; d | e"), ["a", "b", "c", "d", "e"]);
}
