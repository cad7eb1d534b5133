//! `docker ps`, column for column, so that a student's eye trained on Docker reads it at once:
//!
//! ```text
//! CONTAINER ID   IMAGE     COMMAND       CREATED         STATUS         PORTS                  NAMES
//! 3f2a9c0b1d4e   busybox   "sleep 100"   5 seconds ago   Up 3 seconds   127.0.0.1:8080->80/tcp web
//! ```
//!
//! Everything here is a pure function of the states and a `now`, so every row is unit-tested
//! without a container or a clock.

use super::liveness::Observed;
use super::state::{ContainerState, Status};
use super::time::Timestamp;
use std::time::Duration;

/// How long, in Docker's words (go-units' `HumanDuration`): "Less than a second", "1 second",
/// "5 seconds", "About a minute", "2 minutes", "About an hour", "3 hours", "2 days", "3 weeks",
/// "4 months", "2 years".
pub fn human_duration(d: Duration) -> String {
    let seconds = d.as_secs();
    let minutes = seconds / 60;
    // Hours are rounded to the nearest, half away from zero, as Go's Duration.Round does.
    let hours = (d.as_nanos() + 1_800_000_000_000) / 3_600_000_000_000;
    match () {
        _ if seconds < 1 => "Less than a second".into(),
        _ if seconds == 1 => "1 second".into(),
        _ if seconds < 60 => format!("{seconds} seconds"),
        _ if minutes == 1 => "About a minute".into(),
        _ if minutes < 60 => format!("{minutes} minutes"),
        _ if hours == 1 => "About an hour".into(),
        _ if hours < 48 => format!("{hours} hours"),
        _ if hours < 24 * 7 * 2 => format!("{} days", hours / 24),
        _ if hours < 24 * 30 * 2 => format!("{} weeks", hours / 24 / 7),
        _ if hours < 24 * 365 * 2 => format!("{} months", hours / 24 / 30),
        _ => format!("{} years", seconds / 3600 / 24 / 365),
    }
}

/// The CREATED column: "5 seconds ago".
pub fn created(state: &ContainerState, now: Timestamp) -> String {
    format!("{} ago", human_duration(now.since(state.created)))
}

/// The STATUS column, from the status to believe (see [`super::liveness::observe`]):
/// "Created", "Up 3 seconds", "Up 5 seconds (Paused)", "Exited (0) 2 minutes ago", "Dead".
pub fn status(state: &ContainerState, status: Status, now: Timestamp) -> String {
    let since = |t: Option<Timestamp>| human_duration(t.map(|t| now.since(t)).unwrap_or_default());
    match status {
        Status::Created => "Created".into(),
        Status::Running => format!("Up {}", since(state.started)),
        Status::Paused => format!("Up {} (Paused)", since(state.started)),
        Status::Stopped(code) => match state.finished {
            Some(_) => format!("Exited ({code}) {} ago", since(state.finished)),
            None => format!("Exited ({code})"),
        },
        Status::Dead => "Dead".into(),
    }
}

/// The COMMAND column: the command line, cut to 20 characters with "…", in double quotes.
pub fn command(argv: &[String]) -> String {
    format!("{:?}", ellipsis(&argv.join(" "), 20))
}

/// `text` if it fits in `width` characters, else its first `width - 1` and "…" (Docker's
/// `Ellipsis`, counting characters, not bytes, so a cut never splits one).
fn ellipsis(text: &str, width: usize) -> String {
    if text.chars().count() <= width {
        return text.to_string();
    }
    let mut cut: String = text.chars().take(width.saturating_sub(1)).collect();
    cut.push('…');
    cut
}

/// One line of the table, a cell per column.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Row {
    pub id: String,
    pub image: String,
    pub command: String,
    pub created: String,
    pub status: String,
    pub ports: String,
    pub names: String,
}

pub const HEADER: [&str; 7] =
    ["CONTAINER ID", "IMAGE", "COMMAND", "CREATED", "STATUS", "PORTS", "NAMES"];

/// The row of one container, given the status to believe.
pub fn row(state: &ContainerState, seen: &Observed, now: Timestamp) -> Row {
    Row {
        id: state.id.short().to_string(),
        image: state.image.clone(),
        command: command(&state.command),
        created: created(state, now),
        status: status(state, seen.status, now),
        ports: state.ports.iter().map(ToString::to_string).collect::<Vec<_>>().join(", "),
        names: state.name.clone(),
    }
}

/// Whether `docker ps` shows it: without `-a`, only containers whose process runs (a paused one
/// too: it is frozen, not gone).
pub fn shown(status: Status, all: bool) -> bool {
    all || matches!(status, Status::Running | Status::Paused)
}

/// The whole table: the header, then one row per container shown, in the order given (newest
/// first, as [`super::state::Store::list`] returns them).
pub fn table(containers: &[(ContainerState, Observed)], all: bool, now: Timestamp) -> String {
    let rows: Vec<Row> = containers
        .iter()
        .filter(|(_, seen)| shown(seen.status, all))
        .map(|(state, seen)| row(state, seen, now))
        .collect();
    let cells: Vec<[&str; 7]> = std::iter::once(HEADER)
        .chain(rows.iter().map(|r| {
            [&*r.id, &*r.image, &*r.command, &*r.created, &*r.status, &*r.ports, &*r.names]
        }))
        .collect();
    align(&cells)
}

/// Lays out columns as Docker's tabwriter does (minimum width 10, padding 3): each column as wide
/// as its widest cell plus 3, at least 10; the last one not padded.
fn align(lines: &[[&str; 7]]) -> String {
    let width = |col: usize| {
        let widest = lines.iter().map(|l| l[col].chars().count()).max().unwrap_or(0);
        (widest + 3).max(10)
    };
    let widths: Vec<usize> = (0..7).map(width).collect();
    let mut out = String::new();
    for line in lines {
        for (col, cell) in line.iter().enumerate() {
            out.push_str(cell);
            if col < 6 {
                let pad = widths[col] - cell.chars().count();
                out.extend(std::iter::repeat_n(' ', pad));
            }
        }
        out.push('\n');
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::lifecycle::state::tests::sample;
    use crate::lifecycle::state::Port;

    const NOW: u64 = 1_714_566_896;

    fn at(secs_before_now: u64) -> Timestamp {
        Timestamp::from_unix(NOW - secs_before_now, 0)
    }

    fn believed(status: Status) -> Observed {
        Observed { status, note: None }
    }

    #[test]
    fn durations_use_dockers_units() {
        let cases = [
            (0, "Less than a second"),
            (1, "1 second"),
            (5, "5 seconds"),
            (59, "59 seconds"),
            (60, "About a minute"),
            (119, "About a minute"),
            (120, "2 minutes"),
            (59 * 60, "59 minutes"),
            (60 * 60, "About an hour"),
            (89 * 60, "About an hour"),
            (90 * 60, "2 hours"),
            (47 * 3600, "47 hours"),
            (48 * 3600, "2 days"),
            (14 * 86_400, "2 weeks"),
            (60 * 86_400, "2 months"),
            (730 * 86_400, "2 years"),
        ];
        for (secs, words) in cases {
            assert_eq!(human_duration(Duration::from_secs(secs)), words, "{secs} s");
        }
        assert_eq!(human_duration(Duration::from_millis(999)), "Less than a second");
    }

    #[test]
    fn commands_are_quoted_and_cut_to_20_characters() {
        let argv = |s: &str| s.split(' ').map(String::from).collect::<Vec<_>>();
        assert_eq!(command(&argv("sleep 100")), r#""sleep 100""#);
        assert_eq!(command(&argv("/bin/sh -c echo hello world")), "\"/bin/sh -c echo hel…\"");
        assert_eq!(command(&argv("12345678901234567890")), "\"12345678901234567890\"");
        assert_eq!(command(&argv("echo \"hi\"")), r#""echo \"hi\"""#);
        assert_eq!(command(&argv("échoéchoéchoéchoéchoé")).chars().count(), 22);
    }

    #[test]
    fn each_status_reads_as_docker_writes_it() {
        let mut state = sample("web");
        state.created = at(300);
        assert_eq!(status(&state, Status::Created, at(0)), "Created");
        state.started = Some(at(3));
        assert_eq!(status(&state, Status::Running, at(0)), "Up 3 seconds");
        assert_eq!(status(&state, Status::Paused, at(0)), "Up 3 seconds (Paused)");
        state.finished = Some(at(120));
        assert_eq!(status(&state, Status::Stopped(0), at(0)), "Exited (0) 2 minutes ago");
        assert_eq!(status(&state, Status::Stopped(137), at(0)), "Exited (137) 2 minutes ago");
        assert_eq!(status(&state, Status::Dead, at(0)), "Dead");
        assert_eq!(created(&state, at(0)), "5 minutes ago");
    }

    #[test]
    fn a_row_has_every_column() {
        let mut state = sample("web");
        state.created = at(5);
        state.started = Some(at(3));
        state.ports.push(Port {
            host_ip: "127.0.0.1".into(),
            host_port: 8080,
            container_port: 80,
            protocol: "tcp".into(),
        });
        let r = row(&state, &believed(Status::Running), at(0));
        assert_eq!(r.id, state.id.short());
        assert_eq!(r.image, "busybox");
        assert_eq!(r.command, r#""sleep 100""#);
        assert_eq!(r.created, "5 seconds ago");
        assert_eq!(r.status, "Up 3 seconds");
        assert_eq!(r.ports, "127.0.0.1:8080->80/tcp");
        assert_eq!(r.names, "web");
    }

    #[test]
    fn ps_shows_running_and_paused_and_dash_a_shows_all() {
        let make = |name: &str, status: Status| {
            let mut s = sample(name);
            s.created = at(10);
            s.started = Some(at(5));
            s.finished = Some(at(1));
            (s, believed(status))
        };
        let containers = [
            make("up", Status::Running),
            make("frozen", Status::Paused),
            make("made", Status::Created),
            make("done", Status::Stopped(0)),
            make("gone", Status::Dead),
        ];
        let names = |all| {
            let text = table(&containers, all, at(0));
            text.lines()
                .skip(1)
                .map(|l| l.rsplit(' ').next().unwrap().to_string())
                .collect::<Vec<_>>()
        };
        assert_eq!(names(false), ["up", "frozen"]);
        assert_eq!(names(true), ["up", "frozen", "made", "done", "gone"]);
    }

    #[test]
    fn the_table_is_aligned_like_dockers() {
        let mut state = sample("web");
        state.created = at(5);
        state.started = Some(at(3));
        let text = table(&[(state.clone(), believed(Status::Running))], false, at(0));
        let expected = format!(
            "CONTAINER ID   IMAGE     COMMAND       CREATED         STATUS         PORTS     NAMES\n\
             {}   busybox   \"sleep 100\"   5 seconds ago   Up 3 seconds             web\n",
            state.id.short()
        );
        assert_eq!(text, expected);
        // With nothing to show, the header alone.
        assert_eq!(table(&[], true, at(0)).lines().count(), 1);
    }
}
