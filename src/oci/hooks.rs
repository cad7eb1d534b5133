//! `hooks` of config.json: programs the runtime runs at fixed moments of the container's life,
//! each given the container's state (the JSON `state` prints) on its stdin. Engines use them to
//! set up what the runtime does not (a network, a GPU, a log shipper).
//!
//! | hook              | when                                         | in which namespaces |
//! |-------------------|----------------------------------------------|---------------------|
//! | `prestart`        | after `create` made the namespaces (deprecated) | the runtime's    |
//! | `createRuntime`   | the same moment                              | the runtime's       |
//! | `createContainer` | before pivot_root                            | the container's     |
//! | `startContainer`  | at `start`, before the user's program        | the container's     |
//! | `poststart`       | after `start`                                | the runtime's       |
//! | `poststop`        | at `delete`                                  | the runtime's       |

use anyhow::{bail, Context};
use oci_spec::runtime::Hook;
use std::io::Write;
use std::process::{Command, Stdio};
use std::time::{Duration, Instant};

/// Runs each hook in turn with `state` on its stdin; the first one that fails or outlives its
/// `timeout` is the error.
pub fn run(kind: &str, hooks: &[Hook], state: &str) -> anyhow::Result<()> {
    for (i, hook) in hooks.iter().enumerate() {
        let path = hook.path();
        let args = hook.args().clone().unwrap_or_else(|| vec![path.display().to_string()]);
        let mut cmd = Command::new(path);
        if let Some(arg0) = args.first() {
            std::os::unix::process::CommandExt::arg0(&mut cmd, arg0);
        }
        cmd.args(args.iter().skip(1)).env_clear().stdin(Stdio::piped());
        for e in hook.env().iter().flatten() {
            if let Some((k, v)) = e.split_once('=') {
                cmd.env(k, v);
            }
        }
        let what = format!("the {kind} hook #{i} ({})", path.display());
        let mut child = cmd.spawn().with_context(|| format!("run {what}"))?;
        if let Some(mut stdin) = child.stdin.take() {
            let _ = stdin.write_all(state.as_bytes());
        }
        let deadline = hook
            .timeout()
            .filter(|t| *t > 0)
            .map(|t| Instant::now() + Duration::from_secs(t as u64));
        let status = loop {
            if let Some(status) = child.try_wait()? {
                break status;
            }
            if deadline.is_some_and(|d| Instant::now() >= d) {
                let _ = child.kill();
                let _ = child.wait();
                bail!("{what} did not finish within its timeout of {}s", hook.timeout().unwrap());
            }
            std::thread::sleep(Duration::from_millis(2));
        };
        if !status.success() {
            bail!("{what} failed: {status}");
        }
    }
    Ok(())
}
