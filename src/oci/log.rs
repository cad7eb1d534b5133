//! `--log FILE --log-format text|json`: where the runtime writes its errors for the engine. podman
//! reads the last line of this file when a runtime call fails, to show the person why.

use std::io::Write;
use std::path::PathBuf;
use std::sync::Mutex;

#[derive(Clone, Copy, Debug, PartialEq, Eq, clap::ValueEnum)]
pub enum Format {
    Text,
    Json,
}

static LOG: Mutex<Option<(PathBuf, Format)>> = Mutex::new(None);

pub fn init(file: Option<PathBuf>, format: Format) {
    *LOG.lock().unwrap_or_else(|e| e.into_inner()) = file.map(|f| (f, format));
}

/// Writes one entry at `level` to the log file, if there is one.
pub fn write(level: &str, message: &str) {
    let guard = LOG.lock().unwrap_or_else(|e| e.into_inner());
    let Some((file, format)) = guard.as_ref() else { return };
    let time = crate::lifecycle::time::Timestamp::now().to_string();
    let line = match format {
        Format::Json => {
            serde_json::json!({ "level": level, "msg": message, "time": time }).to_string()
        }
        Format::Text => format!("time=\"{time}\" level={level} msg={message:?}"),
    };
    if let Ok(mut f) = std::fs::OpenOptions::new().create(true).append(true).open(file) {
        let _ = writeln!(f, "{line}");
    }
}
