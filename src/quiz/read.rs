//! Reading a question's fact from what a real run printed: pure functions, tested without root.

use super::Read;
use regex::Regex;

/// The fact `read` finds in `output` (standard output) of a run that ended with `status`. An error
/// when a `capture` finds nothing: the run did not print what the question expects to read.
pub fn fact(read: &Read, output: &str, status: i32) -> Result<String, String> {
    let lines = || output.lines().map(str::trim).filter(|l| !l.is_empty());
    let re = |pattern: &str| {
        Regex::new(&format!("(?m){pattern}")).map_err(|e| format!("the regex {pattern:?}: {e}"))
    };
    Ok(match read {
        Read::Status => status.to_string(),
        Read::Output => lines().collect::<Vec<_>>().join("; "),
        Read::Lines => lines().count().to_string(),
        Read::LinesMatching(pattern) => {
            let re = re(pattern)?;
            output.lines().filter(|l| re.is_match(l)).count().to_string()
        }
        Read::Capture(pattern) => {
            let caps = re(pattern)?.captures(output).ok_or_else(|| {
                format!(
                    "the output has nothing that matches {pattern:?}, so the fact cannot be read"
                )
            })?;
            let found = caps.get(1).or_else(|| caps.get(0)).map(|m| m.as_str()).unwrap_or("");
            found.trim().to_string()
        }
        Read::Count(pattern) => re(pattern)?.find_iter(output).count().to_string(),
        Read::Contains(pattern) => {
            if re(pattern)?.is_match(output) { "yes" } else { "no" }.to_string()
        }
    })
}

/// How the fact was read, in words, for the student: `1 line of output`, `exit status 137`,
/// `the output has "can't fork"`.
pub fn describe(read: &Read, output: &str, fact: &str) -> String {
    let plural = |n: &str, one: &str, many: &str| {
        if n == "1" {
            format!("1 {one}")
        } else {
            format!("{n} {many}")
        }
    };
    match read {
        Read::Status => format!("exit status {fact}"),
        Read::Output if fact.is_empty() => "it printed nothing".into(),
        Read::Output => format!("it printed {fact:?}"),
        Read::Lines => plural(fact, "line of output", "lines of output"),
        Read::LinesMatching(_) => plural(fact, "matching line", "matching lines"),
        Read::Capture(_) => format!("read from the output: {fact}"),
        Read::Count(_) => plural(fact, "match in the output", "matches in the output"),
        Read::Contains(pattern) => {
            let found = Regex::new(&format!("(?m){pattern}"))
                .ok()
                .and_then(|re| re.find(output).map(|m| m.as_str().to_string()));
            match found {
                Some(text) => format!("the output has {text:?}"),
                None => format!("nothing in the output matches {pattern:?}"),
            }
        }
    }
}

/// Whether the whole of `fact` matches the regex `pattern` (an option's `when`).
pub fn matches_whole(pattern: &str, fact: &str) -> bool {
    Regex::new(&format!("^(?:{pattern})$")).is_ok_and(|re| re.is_match(fact))
}

/// A student's short answer, made comparable: trimmed, lower case, one space between words,
/// without quotes or backticks around it.
pub fn normalize(answer: &str) -> String {
    let a = answer.trim().trim_matches(|c| c == '`' || c == '"' || c == '\'');
    a.split_whitespace().collect::<Vec<_>>().join(" ").to_lowercase()
}

/// Whether a student's short answer says the same as the kernel's fact: equal once normalized,
/// or, for a number, the same number first in the answer ("3 processes" for 3).
pub fn same_answer(student: &str, fact: &str) -> bool {
    let (s, f) = (normalize(student), normalize(fact));
    if s == f {
        return true;
    }
    match f.parse::<i64>() {
        Ok(n) => {
            s.split(|c: char| !c.is_ascii_digit() && c != '-')
                .find(|w| !w.is_empty())
                .and_then(|w| w.parse::<i64>().ok())
                == Some(n)
        }
        Err(_) => false,
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn status_output_and_lines() {
        assert_eq!(fact(&Read::Status, "", 137).unwrap(), "137");
        assert_eq!(
            fact(&Read::Output, "  dd: 137\n\nsh: still here\n", 0).unwrap(),
            "dd: 137; sh: still here"
        );
        assert_eq!(fact(&Read::Output, "", 1).unwrap(), "");
        assert_eq!(fact(&Read::Lines, "      1 ps\n", 0).unwrap(), "1");
        assert_eq!(fact(&Read::Lines, "1\n\n2\n3\n", 0).unwrap(), "3");
    }

    #[test]
    fn regex_reads() {
        let shm = "       key      shmid perms size\n         0      32768   600 4096\n";
        let matching = Read::LinesMatching(r"^\s*-?\d+\s".into());
        assert_eq!(fact(&matching, shm, 0).unwrap(), "1");
        assert_eq!(fact(&matching, "       key      shmid perms\n", 0).unwrap(), "0");
        let ip = "2: eth0    inet 10.200.0.6/30 brd 10.200.0.7 scope global eth0";
        let capture = Read::Capture(r"inet [0-9.]+/(\d+)".into());
        assert_eq!(fact(&capture, ip, 0).unwrap(), "30");
        assert!(fact(&capture, "no address", 1).unwrap_err().contains("nothing that matches"));
        // Multi-line: ^ and $ are each line's.
        assert_eq!(fact(&Read::Capture(r"^(\d+)$".into()), "x\n42\n", 0).unwrap(), "42");
        let count = Read::Count("/layers/[0-9a-f]+".into());
        assert_eq!(
            fact(&count, "lowerdir=/s/layers/ab:/s/layers/cd,upperdir=/s/c/u", 0).unwrap(),
            "2"
        );
        let contains = Read::Contains("can't fork|Cannot fork".into());
        assert_eq!(fact(&contains, "sh: can't fork: Resource", 2).unwrap(), "yes");
        assert_eq!(fact(&contains, "all 30 started", 0).unwrap(), "no");
    }

    #[test]
    fn each_reading_is_described_in_words() {
        assert_eq!(describe(&Read::Status, "", "137"), "exit status 137");
        assert_eq!(describe(&Read::Lines, "", "1"), "1 line of output");
        assert_eq!(describe(&Read::Lines, "", "3"), "3 lines of output");
        assert_eq!(describe(&Read::Output, "", ""), "it printed nothing");
        let contains = Read::Contains("Resource temporarily unavailable|can't fork".into());
        assert_eq!(describe(&contains, "sh: can't fork", "yes"), "the output has \"can't fork\"");
    }

    #[test]
    fn when_matches_the_whole_fact() {
        assert!(matches_whole("[23]", "3"));
        assert!(!matches_whole("[23]", "23"));
        assert!(matches_whole(r"\d+", "91"));
        assert!(matches_whole("", ""));
        assert!(!matches_whole("", "x"));
        assert!(matches_whole("0*[137]?f+", "000001ffffffffff"));
        assert!(!matches_whole("0*[137]?f+", "00000000a80425fb"));
    }

    #[test]
    fn short_answers_compare_as_a_person_means_them() {
        assert!(same_answer(" Overlay ", "overlay"));
        assert!(same_answer("`cat`", "cat"));
        assert!(same_answer("3 processes", "3"));
        assert!(same_answer("137", "137"));
        assert!(!same_answer("", "0"));
        assert!(!same_answer("13", "137"));
        assert!(!same_answer("ext4", "overlay"));
    }
}
