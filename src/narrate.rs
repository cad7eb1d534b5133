//! Narration: every stage tells the class what it does, one numbered step at a time.
//!
//! Each step names the syscall, the shell command a person would type for the same thing, and the
//! result, with the host's view and the container's view side by side. Values that change from run to
//! run (PIDs, inode numbers, durations, container ids) are always printed as `‹value›`, so that
//! [`redact`] can replace them in snapshot tests and everything else stays deterministic.

use colored::Colorize;
use std::fmt::Display;
use std::io::{IsTerminal, Write};

/// Width of the label column in side-by-side views.
const LABEL_WIDTH: usize = 24;
/// Width of the host column. Fixed, never computed from the values, so that a redacted snapshot has
/// the same layout whatever width the real values had.
const HOST_WIDTH: usize = 28;

/// How a command a person would type on the host starts in the (plain) output.
pub const SHELL_LABEL: &str = "    shell    $ ";
/// How a command typed inside the container starts in the (plain) output.
pub const INSIDE_LABEL: &str = "    inside   $ ";

/// Marks a value that changes from run to run: `‹48213›`.
pub fn var(value: impl Display) -> String {
    format!("‹{value}›")
}

/// Marks a duration, in milliseconds with one decimal: `‹0.8 ms›`.
pub fn ms(d: std::time::Duration) -> String {
    var(format!("{:.1} ms", d.as_secs_f64() * 1000.0))
}

/// Replaces every `‹value›` with `‹…›`, keeping column padding so layouts stay identical.
///
/// A marked value followed by two or more spaces sits in a fixed-width column: the value and its
/// padding together are replaced by a placeholder padded to the same width. A value followed by one
/// space or by text is simply replaced.
pub fn redact(text: &str) -> String {
    const PLACEHOLDER: &str = "‹…›";
    let mut out = String::with_capacity(text.len());
    let mut rest = text;
    while let Some(start) = rest.find('‹') {
        out.push_str(&rest[..start]);
        let after = &rest[start..];
        let Some(end) = after.find('›') else {
            out.push_str(after);
            return out;
        };
        let marked = &after[..end + '›'.len_utf8()];
        let tail = &after[marked.len()..];
        let spaces = tail.len() - tail.trim_start_matches(' ').len();
        out.push_str(PLACEHOLDER);
        if spaces >= 2 {
            let width = marked.chars().count() + spaces;
            let pad = width.saturating_sub(PLACEHOLDER.chars().count()).max(2);
            out.extend(std::iter::repeat_n(' ', pad));
            rest = &tail[spaces..];
        } else {
            rest = tail;
        }
    }
    out.push_str(rest);
    out
}

/// How the narration is shown.
#[derive(Clone, Copy, Debug, Default)]
pub struct Style {
    /// Print nothing but errors and the final verdict.
    pub quiet: bool,
    /// Wait for Enter before each step (live teaching).
    pub step_by_step: bool,
}

/// The narrator of one stage run.
pub struct Narrator {
    style: Style,
    step: usize,
    failed_claims: Vec<String>,
}

/// Decides once whether stdout gets color: only on a terminal, and never with NO_COLOR set.
pub fn init_color() {
    let tty = std::io::stdout().is_terminal();
    let no_color = std::env::var_os("NO_COLOR").is_some_and(|v| !v.is_empty());
    colored::control::set_override(tty && !no_color);
}

impl Narrator {
    pub fn new(style: Style) -> Self {
        Narrator { style, step: 0, failed_claims: Vec::new() }
    }

    pub fn quiet(&self) -> bool {
        self.style.quiet
    }

    fn say(&self, line: impl Display) {
        if !self.style.quiet {
            let mut out = std::io::stdout().lock();
            let _ = writeln!(out, "{line}");
        }
    }

    /// The stage's title banner.
    pub fn banner(&self, title: &str, subtitle: &str) {
        self.say(format!("{}", title.bold()));
        self.say(format!("{}", subtitle.dimmed()));
    }

    /// Starts a numbered step; with `--step`, first waits for Enter.
    pub fn step(&mut self, title: &str) {
        if self.style.step_by_step && self.step > 0 {
            crate::signals::wait_for_enter("  press Enter for the next step ");
        }
        self.step += 1;
        self.say("");
        self.say(format!("{} {}", format!("{:>2}.", self.step).cyan().bold(), title.bold()));
    }

    /// The syscall this step makes.
    pub fn syscall(&self, call: &str) {
        self.say(format!("    {}  {}", "syscall".dimmed(), call.yellow()));
    }

    /// The command a person would type for the same thing.
    pub fn shell(&self, cmd: &str) {
        self.say(format!("    {}  {}", "shell  ".dimmed(), format!("$ {cmd}").green()));
    }

    /// A command typed inside the container (in its shell: `cargo run --bin NN -- sh`), never on
    /// the host. Its label is `inside `, where a host command's is `shell  `, so that a reader, and
    /// `tests/narration.rs`, can tell which lines change only the container.
    pub fn shell_inside(&self, cmd: &str) {
        self.say(format!("    {}  {}", "inside ".dimmed(), format!("$ {cmd}").green()));
    }

    /// What happened.
    pub fn result(&self, text: &str) {
        self.say(format!("    {}  {text}", "result ".dimmed()));
    }

    /// A line of explanation.
    pub fn note(&self, text: &str) {
        self.say(format!("    {}", text.italic()));
    }

    /// The heading of a side-by-side view.
    pub fn views_header(&self) {
        let head = format!(
            "    {:LABEL_WIDTH$}{:HOST_WIDTH$}{}",
            "",
            "host sees".blue().bold(),
            "container sees".magenta().bold()
        );
        // Padding of colored strings counts escape codes on some terminals; pad the plain text.
        let plain =
            format!("    {:LABEL_WIDTH$}{:HOST_WIDTH$}{}", "", "host sees", "container sees");
        self.say(if colored::control::SHOULD_COLORIZE.should_colorize() { head } else { plain });
    }

    /// One row of a side-by-side view: the same question answered by the host and the container.
    pub fn views(&self, label: &str, host: impl Display, container: impl Display) {
        let host = host.to_string();
        let width = HOST_WIDTH.max(host.chars().count() + 2);
        let pad = width - host.chars().count();
        self.say(format!(
            "    {}{}{}{}",
            format!("{label:LABEL_WIDTH$}").dimmed(),
            host.blue(),
            " ".repeat(pad),
            container.to_string().magenta()
        ));
    }

    /// Output of a command, indented in a box, with who ran it.
    pub fn output(&self, who: &str, text: &str) {
        self.say(format!("    {}", format!("┌ {who}").dimmed()));
        for line in text.lines() {
            self.say(format!("    {} {line}", "│".dimmed()));
        }
        self.say(format!("    {}", "└".dimmed()));
    }

    /// A claim the stage makes about the kernel's behaviour, checked for real.
    pub fn claim(&mut self, held: bool, text: &str) {
        if held {
            self.say(format!("    {} {text}", "✓".green().bold()));
        } else {
            always(format!("    {} {text}", "✗".red().bold()));
            self.failed_claims.push(text.to_string());
        }
    }

    /// A failure shown on purpose: the classic mistake, before its fix.
    pub fn expected_failure(&self, text: &str) {
        self.say(format!("    {} {text}", "✗ (on purpose)".yellow().bold()));
    }

    pub fn failed_claims(&self) -> &[String] {
        &self.failed_claims
    }

    /// The closing line: every claim held, or which did not.
    pub fn finish(&self, stage_bin: &str) {
        if self.failed_claims.is_empty() {
            self.say("");
            // The verdict is printed with --quiet too: it is all that --quiet prints.
            always(format!(
                "{} {}",
                "✓".green().bold(),
                format!("{stage_bin}: every claim held.").bold()
            ));
        } else {
            always(String::new());
            always(format!(
                "{} {stage_bin}: {} claim(s) did not hold: {}",
                "✗".red().bold(),
                self.failed_claims.len(),
                self.failed_claims.join("; ")
            ));
        }
    }
}

/// Splits a long sentence into lines of about 88 columns for a narrator's notes.
pub fn wrap(text: &str) -> Vec<String> {
    let mut lines = vec![String::new()];
    for word in text.split_whitespace() {
        let last = lines.last_mut().expect("one line at least");
        if !last.is_empty() && last.len() + word.len() > 88 {
            lines.push(word.to_string());
        } else {
            if !last.is_empty() {
                last.push(' ');
            }
            last.push_str(word);
        }
    }
    lines
}

/// A line printed even with --quiet. A closed stdout (`| head`) is not an error of the stage.
fn always(line: String) {
    use std::io::Write;
    let _ = writeln!(std::io::stdout().lock(), "{line}");
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn redact_replaces_values_in_prose() {
        assert_eq!(redact("PID ‹48213› outside"), "PID ‹…› outside");
        assert_eq!(redact("took ‹0.8 ms›"), "took ‹…›");
    }

    #[test]
    fn redact_keeps_fixed_columns_whatever_the_value_width() {
        let short = format!("{:<10}  next", var(7));
        let long = format!("{:<10}  next", var(1234567));
        assert_eq!(redact(&short), redact(&long));
        assert!(redact(&short).ends_with("  next"));
    }

    #[test]
    fn shell_labels_line_up() {
        assert_eq!(SHELL_LABEL.len(), INSIDE_LABEL.len());
        assert!(SHELL_LABEL.ends_with("$ ") && INSIDE_LABEL.ends_with("$ "));
    }

    #[test]
    fn redact_leaves_unmarked_text_alone() {
        assert_eq!(redact("no values here"), "no values here");
        assert_eq!(redact("dangling ‹ marker"), "dangling ‹ marker");
    }
}
