//! `jipam`, the CNI exec path. A call whose config names `ipam.daemon` is forwarded to jipamd
//! over its unix socket exactly as the JVM plugin's `DaemonClient` forwards it, and answered with
//! exactly what the JVM plugin would print; `VERSION` is answered here; every other call, and
//! every call the shim cannot judge with certainty, is handed to the JVM plugin (`jipam-jvm`) by
//! `exec`, with the bytes already read from stdin.
//!
//! Standard library only, no `unsafe`: it runs as root on input that partly comes from pod specs.

#![forbid(unsafe_code)]

mod env;
mod json;
mod jvm;
mod log;
mod wire;

use std::ffi::OsString;
use std::io::{Read, Write};
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::Arc;
use std::time::Duration;

/// What `CniJson.versionInfo` prints (VERSION and `--version`).
const VERSION_INFO: &[u8] = b"{\n  \"cniVersion\": \"1.1.0\",\n  \"supportedVersions\": [\n    \"0.3.0\",\n    \
\"0.3.1\",\n    \"0.4.0\",\n    \"1.0.0\",\n    \"1.1.0\"\n  ]\n}\n";
/// `CniVersion.latest()`, the error object's version when the config names none.
const LATEST: &str = "1.1.0";
/// The versions jipam supports (`CniVersion.SUPPORTED`).
const SUPPORTED: [&str; 5] = ["0.3.0", "0.3.1", "0.4.0", "1.0.0", "1.1.0"];
/// The most stdin may hold (`JipamPlugin.MAX_CONFIG_BYTES`).
const MAX_CONFIG_BYTES: usize = 4 << 20;
const DEFAULT_SOCKET: &str = "/run/jipam/jipam.sock";
const DEFAULT_TIMEOUT_SECONDS: u64 = 10;

fn main() {
    let args: Vec<OsString> = std::env::args_os().skip(1).collect();
    if args.first().map_or(false, |a| a == "--version") {
        std::process::exit(deliver_quietly(VERSION_INFO, "--version"));
    }
    match env::check(std::env::vars_os().collect()) {
        env::Check::Version => std::process::exit(deliver_quietly(VERSION_INFO, "VERSION")),
        env::Check::Unsure => jvm::exec(&args, None, LATEST),
        env::Check::Forward(call) => forward(call, &args),
    }
}

/// Where daemon mode sends a call.
struct Target {
    socket: String,
    timeout_seconds: u64,
}

/// Runs a call whose environment is valid: daemon mode when the config certainly asks for it.
fn forward(call: env::Call, args: &[OsString]) {
    let log = log::Log::new(call.log_file.clone());
    let mut input = Vec::with_capacity(4096);
    if let Err(e) = std::io::stdin().lock().take(MAX_CONFIG_BYTES as u64 + 1).read_to_end(&mut input) {
        let msg = format!("cannot read stdin: {}", wire::reason(&e));
        fail(&call, &log, None, 6, &msg);
    }
    if input.len() > MAX_CONFIG_BYTES {
        let msg = format!("the network config on stdin is larger than {} bytes, jipam's limit", MAX_CONFIG_BYTES);
        fail(&call, &log, None, 7, &msg);
    }
    let doc = match json::parse(&input) {
        Some(d) => d,
        None => jvm::exec(args, Some(&input), LATEST),
    };
    let version = match doc.get("cniVersion") {
        // as `CniJson.error`: a version jipam does not support is not echoed (the error is the latest's)
        Some(json::Value::Str { text, exact: true }) if SUPPORTED.contains(&text.as_str()) => Some(text.as_str()),
        Some(json::Value::Str { exact: true, .. }) => None,
        Some(json::Value::Str { exact: false, .. }) => jvm::exec(args, Some(&input), LATEST),
        _ => None,
    };
    let target = match target(&doc) {
        Some(t) => t,
        None => jvm::exec_with_hint(args, Some(&input), store_hint(&doc), version.unwrap_or(LATEST)),
    };
    // the time the watchdog below gives up, which jipamd is told: it applies nothing after it
    let deadline = std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .map(|now| now.as_millis() + u128::from(target.timeout_seconds) * 1000)
        .unwrap_or(0);
    let request = wire::request(&call.lines, &input, deadline);
    let claimed = Arc::new(AtomicBool::new(false));
    watchdog(&call, &log, version, &target, claimed.clone());
    let outcome = wire::exchange(&target.socket, &request).and_then(|answer| wire::parse(&answer));
    if claimed.swap(true, Ordering::SeqCst) {
        // the bound passed: the watchdog answers and ends the process
        loop {
            std::thread::park();
        }
    }
    match outcome {
        Ok((body, exit)) => {
            log.info(&format!("{} via jipamd {} exit {}", call.command, target.socket, exit));
            std::process::exit(deliver(&call, &log, &body, exit));
        }
        Err(why) => {
            let msg = format!("cannot reach jipamd at {}: {}; try again later", target.socket, why);
            fail(&call, &log, version, 11, &msg);
        }
    }
}

/// The store a direct-mode config names, as a hint for the JVM's launcher (`etcd`: the class path
/// and start-up cache that hold the etcd client). Only a hint: the JVM plugin reads the config
/// itself, and a wrong hint costs start-up time, never a different outcome.
fn store_hint(doc: &json::Value) -> Option<&'static str> {
    match doc.get("ipam").and_then(|ipam| ipam.get("store")).and_then(|store| store.get("type")) {
        Some(json::Value::Str { text, exact: true }) if text == "etcd" => Some("etcd"),
        _ => None,
    }
}

/// `DaemonClient.target`, where certain: `None` means direct mode, an invalid `ipam.daemon`, or
/// a value the shim leaves to the JVM plugin.
fn target(doc: &json::Value) -> Option<Target> {
    let ipam = match doc.get("ipam") {
        Some(v @ json::Value::Object(_)) => v,
        _ => return None,
    };
    let daemon = match ipam.get("daemon") {
        None | Some(json::Value::Null) => return None,
        Some(json::Value::Str { text, .. }) if text == "auto" => {
            return if std::path::Path::new(DEFAULT_SOCKET).exists() {
                Some(Target { socket: DEFAULT_SOCKET.to_string(), timeout_seconds: DEFAULT_TIMEOUT_SECONDS })
            } else {
                None
            };
        }
        Some(v @ json::Value::Object(_)) => v,
        Some(_) => return None,
    };
    let socket = match daemon.get("socket") {
        None | Some(json::Value::Null) => DEFAULT_SOCKET.to_string(),
        Some(json::Value::Str { text, exact: true }) if text.is_empty() => DEFAULT_SOCKET.to_string(),
        Some(json::Value::Str { text, exact: true }) if socket_path_ok(text) => text.clone(),
        Some(_) => return None,
    };
    let timeout_seconds = match daemon.get("timeoutSeconds") {
        None | Some(json::Value::Null) => DEFAULT_TIMEOUT_SECONDS,
        Some(json::Value::Number(Some(n))) if (1..=300).contains(n) => *n as u64,
        Some(_) => return None,
    };
    Some(Target { socket, timeout_seconds })
}

/// A socket path the JDK connects to as written: no NUL, at most 106 bytes (the JDK's bound:
/// `sun_path`'s 108 less two, where the kernel takes 107), and in the form `Path.of` keeps (no
/// repeated or trailing `/`), absolute. Anything else goes to the JVM plugin, which refuses a
/// relative, over-long or NUL-holding path as a config error and connects to the rest.
fn socket_path_ok(path: &str) -> bool {
    path.starts_with('/') && path.len() <= 106 && !path.contains('\0') && !path.contains("//") && !path.ends_with('/')
}

/// Starts the thread that answers CNI error 11 when the exchange outlasts the bound.
fn watchdog(call: &env::Call, log: &log::Log, version: Option<&str>, target: &Target, claimed: Arc<AtomicBool>) {
    let msg = format!(
        "jipamd at {} did not answer within {} s; try again later",
        target.socket, target.timeout_seconds
    );
    let bound = Duration::from_secs(target.timeout_seconds);
    let command = call.command.clone();
    let thread_log = log.clone();
    let thread_version = version.unwrap_or(LATEST).to_string();
    let started = std::thread::Builder::new().spawn(move || {
        std::thread::sleep(bound);
        if !claimed.swap(true, Ordering::SeqCst) {
            // the answer first: the main thread is parked for good once this thread has claimed
            // the call, so nothing after the claim may keep the answer back (a stderr pipe that
            // nobody drains blocks the log line)
            let out = json::error_object(&thread_version, 11, &msg, None);
            let _ = write_out(&out);
            thread_log.error(&format!("{} failed: code 11: {}", command, msg));
            std::process::exit(1);
        }
    });
    if let Err(e) = started {
        // no thread to bound the exchange (a limit on processes): nothing was sent, so the call
        // can be tried again
        let msg = format!("cannot bound the call to jipamd at {}: {}; try again later", target.socket, wire::reason(&e));
        fail(call, log, version, 11, &msg);
    }
}

/// Answers the CNI error object, as the JVM plugin does for an `IpamException`, and exits.
fn fail(call: &env::Call, log: &log::Log, version: Option<&str>, code: u32, msg: &str) -> ! {
    log.error(&format!("{} failed: code {}: {}", call.command, code, msg));
    let out = json::error_object(version.unwrap_or(LATEST), code, msg, None);
    std::process::exit(deliver(call, log, &out, 1))
}

/// Writes the answer; `exit`, or 1 when stdout did not take all of it (logged).
fn deliver(call: &env::Call, log: &log::Log, answer: &[u8], exit: i32) -> i32 {
    if write_out(answer).is_err() {
        log.error(&format!(
            "{}: the answer could not be written to stdout (closed or full): exit 1",
            call.command
        ));
        return 1;
    }
    exit
}

/// Writes VERSION's answer: 0, or 1 when stdout did not take it (said on stderr, naming `what`).
fn deliver_quietly(answer: &[u8], what: &str) -> i32 {
    if write_out(answer).is_err() {
        log::to_stderr(&format!("{}: the answer could not be written to stdout (closed or full): exit 1", what));
        return 1;
    }
    0
}

fn write_out(bytes: &[u8]) -> std::io::Result<()> {
    if jvm::stdout_was_closed() {
        return Err(std::io::Error::new(std::io::ErrorKind::BrokenPipe, "stdout was closed"));
    }
    let mut out = std::io::stdout().lock();
    out.write_all(bytes)?;
    out.flush()
}

#[cfg(test)]
#[allow(non_snake_case)]
mod tests {
    use super::*;

    #[test]
    fn storeHint_etcdOnlyWhenTheConfigCertainlyNamesIt() {
        let cases: &[(&str, Option<&str>)] = &[
            (r#"{"ipam":{"type":"jipam","store":{"type":"etcd","endpoints":["http://e:2379"]}}}"#, Some("etcd")),
            (r#"{"ipam":{"store":{"type":"file"},"store":{"type":"etcd"}}}"#, Some("etcd")), // the last key, as JsonReader
            (r#"{"ipam":{"store":{"type":"etcd"},"store":{"type":"file"}}}"#, None),
            (r#"{"ipam":{"type":"jipam","dataDir":"/x"}}"#, None),
            (r#"{"ipam":{"store":{"type":"ETCD"}}}"#, None),
            (r#"{"ipam":{"store":{"type":"etc\u0064"}}}"#, Some("etcd")), // an escape decoded exactly
            (r#"{"ipam":{"store":"etcd"}}"#, None),
            (r#"{"ipam":{"store":{"type":1}}}"#, None),
            (r#"{"store":{"type":"etcd"}}"#, None),
            (r#"{"ipam":[]}"#, None),
        ];
        for (config, hint) in cases {
            let doc = json::parse(config.as_bytes()).expect(config);
            assert_eq!(store_hint(&doc), *hint, "{}", config);
        }
    }
}
