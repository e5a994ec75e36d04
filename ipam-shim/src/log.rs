//! The plugin's call log, as `PluginLog` (ipam-plugin-bin) writes it: a line per call appended to
//! `JIPAM_LOG_FILE` (`<instant> pid=<pid> INFO|ERROR <message>`), errors also to stderr, never to
//! a file that is stdout. A log that cannot be written is ignored.

use std::io::Write;
use std::os::unix::fs::MetadataExt;
use std::time::{SystemTime, UNIX_EPOCH};

/// The log of one call; cheap to clone.
#[derive(Clone)]
pub struct Log {
    file: Option<String>,
}

impl Log {
    /// The log to `file` (`JIPAM_LOG_FILE`), unless that is stdout (said on stderr).
    pub fn new(file: Option<String>) -> Log {
        let file = file.filter(|f| {
            let same = match (std::fs::metadata(f), std::fs::metadata("/proc/self/fd/1")) {
                (Ok(a), Ok(b)) => a.dev() == b.dev() && a.ino() == b.ino(),
                _ => false,
            };
            if same {
                to_stderr(&format!("log file {} is stdout, which carries the result only: not logging to it", f));
            }
            !same
        });
        Log { file }
    }

    pub fn info(&self, message: &str) {
        self.append(&format!("INFO {}", one_line(message)));
    }

    pub fn error(&self, message: &str) {
        to_stderr(message);
        self.append(&format!("ERROR {}", one_line(message)));
    }

    fn append(&self, line: &str) {
        let file = match &self.file {
            Some(f) => f,
            None => return,
        };
        let stamped = format!("{} pid={} {}\n", instant(SystemTime::now()), std::process::id(), line);
        if let Ok(mut out) = std::fs::OpenOptions::new().append(true).create(true).open(file) {
            let _ = out.write_all(stamped.as_bytes());
        }
    }
}

/// `PluginLog.oneLine`: a line break in a value the message quotes (a socket path) written as
/// `\n` or `\r`, so it cannot start a line of its own in the log.
fn one_line(message: &str) -> String {
    message.replace('\n', "\\n").replace('\r', "\\r")
}

/// Says `message` on stderr as `jipam: <message>`, in one write. Never fails: a stderr that is
/// closed, full or a pipe without a reader must not cost the answer on stdout or the exit (as
/// `eprintln!` would, by panicking; in the watchdog's thread that left the process running).
pub fn to_stderr(message: &str) {
    let _ = std::io::stderr().write_all(format!("jipam: {}\n", message).as_bytes());
}

/// `Instant.toString`: ISO-8601 in UTC, the fraction in groups of three digits, none when zero.
fn instant(t: SystemTime) -> String {
    let d = t.duration_since(UNIX_EPOCH).unwrap_or_default();
    let secs = d.as_secs() as i64;
    let (days, rem) = (secs.div_euclid(86_400), secs.rem_euclid(86_400));
    let (y, m, day) = civil(days);
    let nanos = d.subsec_nanos();
    let fraction = if nanos == 0 {
        String::new()
    } else if nanos % 1_000_000 == 0 {
        format!(".{:03}", nanos / 1_000_000)
    } else if nanos % 1_000 == 0 {
        format!(".{:06}", nanos / 1_000)
    } else {
        format!(".{:09}", nanos)
    };
    format!(
        "{:04}-{:02}-{:02}T{:02}:{:02}:{:02}{}Z",
        y,
        m,
        day,
        rem / 3600,
        rem % 3600 / 60,
        rem % 60,
        fraction
    )
}

/// Year, month, day of a day count since 1970-01-01 (proleptic Gregorian).
fn civil(days: i64) -> (i64, i64, i64) {
    let z = days + 719_468;
    let era = z.div_euclid(146_097);
    let doe = z.rem_euclid(146_097);
    let yoe = (doe - doe / 1460 + doe / 36_524 - doe / 146_096) / 365;
    let doy = doe - (365 * yoe + yoe / 4 - yoe / 100);
    let mp = (5 * doy + 2) / 153;
    let d = doy - (153 * mp + 2) / 5 + 1;
    let m = if mp < 10 { mp + 3 } else { mp - 9 };
    (yoe + era * 400 + if m <= 2 { 1 } else { 0 }, m, d)
}

#[cfg(test)]
#[allow(non_snake_case)]
mod tests {
    use super::*;
    use std::time::Duration;

    #[test]
    fn one_line_lineBreaksEscaped() {
        assert_eq!(one_line("at /tmp/a\nforged\r line"), "at /tmp/a\\nforged\\r line");
    }

    #[test]
    #[allow(non_snake_case)]
    fn instant_asJavaPrintsIt() {
        let at = |s: u64, n: u32| instant(UNIX_EPOCH + Duration::new(s, n));
        assert_eq!(at(0, 0), "1970-01-01T00:00:00Z");
        assert_eq!(at(1_796_408_736, 120_000_000), "2026-12-04T18:25:36.120Z");
        assert_eq!(at(951_782_400, 1_000), "2000-02-29T00:00:00.000001Z");
        assert_eq!(at(4_107_542_399, 1), "2100-02-28T23:59:59.000000001Z");
    }
}
