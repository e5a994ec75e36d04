//! The built `jipam` run as a runtime runs it, in daemon mode against fake daemons: what it prints
//! and how it exits when jipamd fails it and when stderr cannot be written.

#![allow(non_snake_case)]

mod common;

use std::fs::OpenOptions;
use std::io::{Read, Write};
use std::os::unix::net::{UnixListener, UnixStream};
use std::path::{Path, PathBuf};
use std::process::{Child, Command, Stdio};
use std::time::{Duration, Instant};

/// A socket path of this test process, not yet bound.
fn socket_path(name: &str) -> PathBuf {
    let path = std::env::temp_dir().join(format!("jipam-shim-test-{}-{}.sock", name, std::process::id()));
    let _ = std::fs::remove_file(&path);
    path
}

/// A daemon at `path` that runs `serve` on every connection.
fn fake_daemon(path: &Path, serve: fn(UnixStream)) {
    let listener = UnixListener::bind(path).expect("bind");
    std::thread::spawn(move || {
        for stream in listener.incoming().flatten() {
            std::thread::spawn(move || serve(stream));
        }
    });
}

/// Starts an ADD forwarded to `socket` within `timeout_seconds`, stderr to `stderr`.
fn start(socket: &Path, timeout_seconds: u32, stderr: Stdio) -> Child {
    let config = format!(
        r#"{{"cniVersion":"1.0.0","name":"n","ipam":{{"type":"jipam","daemon":{{"socket":"{}","timeoutSeconds":{}}}}}}}"#,
        socket.display(),
        timeout_seconds
    );
    let mut child = common::cni_add().stderr(stderr).spawn().expect("spawn jipam");
    child.stdin.take().expect("stdin").write_all(config.as_bytes()).expect("config");
    child
}

/// Waits for `child` at most `bound`; its exit code and stdout, or `None` (killed) past the bound.
fn finish(mut child: Child, bound: Duration) -> Option<(i32, String)> {
    let mut stdout = child.stdout.take().expect("stdout");
    let reader = std::thread::spawn(move || {
        let mut text = String::new();
        let _ = stdout.read_to_string(&mut text);
        text
    });
    let deadline = Instant::now() + bound;
    loop {
        if let Some(status) = child.try_wait().expect("wait") {
            return Some((status.code().unwrap_or(-1), reader.join().expect("stdout")));
        }
        if Instant::now() > deadline {
            let _ = child.kill();
            let _ = child.wait();
            return None;
        }
        std::thread::sleep(Duration::from_millis(20));
    }
}

fn dev_full() -> Stdio {
    Stdio::from(OpenOptions::new().write(true).open("/dev/full").expect("/dev/full"))
}

fn code11(msg: &str) -> String {
    format!("{{\n  \"cniVersion\": \"1.0.0\",\n  \"code\": 11,\n  \"msg\": \"{}\"\n}}\n", msg)
}

#[test]
fn stderrFull_noDaemon_answersCode11() {
    let socket = socket_path("none");
    let done = finish(start(&socket, 5, dev_full()), Duration::from_secs(10));
    let want = code11(&format!(
        "cannot reach jipamd at {}: No such file or directory; try again later",
        socket.display()
    ));
    assert_eq!(done, Some((1, want)));
}

/// The watchdog answers within the bound although its log line cannot be written: to a full
/// stderr, and to a pipe whose reader has closed (EPIPE, SIGPIPE ignored).
#[test]
fn stderrUnwritable_daemonPastTheBound_watchdogAnswersCode11() {
    let socket = socket_path("slow");
    fake_daemon(&socket, |stream| {
        std::thread::sleep(Duration::from_secs(3));
        drop(stream);
    });
    let want = code11(&format!("jipamd at {} did not answer within 1 s; try again later", socket.display()));
    let full = start(&socket, 1, dev_full());
    let mut piped = start(&socket, 1, Stdio::piped());
    drop(piped.stderr.take());
    let started = Instant::now();
    assert_eq!(finish(full, Duration::from_secs(10)), Some((1, want.clone())), "stderr /dev/full");
    assert_eq!(finish(piped, Duration::from_secs(10)), Some((1, want)), "stderr a pipe without a reader");
    assert!(started.elapsed() < Duration::from_secs(4), "answered after {:?} (the bound is 1 s)", started.elapsed());
    let _ = std::fs::remove_file(&socket);
}

/// A daemon that closes without reading the request: the client's read fails with ECONNRESET,
/// which `SocketChannel` words "Connection reset" (not the system's "... by peer").
#[test]
fn daemonClosesWithTheRequestUnread_connectionResetAsTheJvm() {
    let socket = socket_path("reset");
    fake_daemon(&socket, |stream| {
        std::thread::sleep(Duration::from_millis(200));
        drop(stream);
    });
    let done = finish(start(&socket, 5, Stdio::null()), Duration::from_secs(10));
    let want = code11(&format!("cannot reach jipamd at {}: Connection reset; try again later", socket.display()));
    assert_eq!(done, Some((1, want)));
    let _ = std::fs::remove_file(&socket);
}

/// VERSION with neither stdout nor stderr writable: exit 1, no panic (101).
#[test]
fn version_stdoutAndStderrFull_exit1() {
    let status = Command::new(env!("CARGO_BIN_EXE_jipam"))
        .env_clear()
        .env("CNI_COMMAND", "VERSION")
        .stdin(Stdio::null())
        .stdout(dev_full())
        .stderr(dev_full())
        .status()
        .expect("run jipam");
    assert_eq!(status.code(), Some(1));
}
