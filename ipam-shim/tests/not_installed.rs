//! The built `jipam` with no JVM plugin beside it and no `jipam.d/current` (a copy of the shim
//! alone, as `cargo test` runs it): a call it hands to the JVM plugin answers CNI error 999 in the
//! request's `cniVersion` when jipam supports it, else in the latest, as every other error.

#![allow(non_snake_case)]

mod common;

use std::io::Write;
use std::process::Stdio;

/// Runs a direct-mode ADD with `config` on stdin; its exit code and stdout.
fn add(config: &str) -> (i32, String) {
    let mut child = common::cni_add().stderr(Stdio::null()).spawn().expect("spawn jipam");
    child.stdin.take().expect("stdin").write_all(config.as_bytes()).expect("config");
    let out = child.wait_with_output().expect("wait");
    (out.status.code().unwrap_or(-1), String::from_utf8_lossy(&out.stdout).into_owned())
}

#[test]
fn noJvmPlugin_configVersions_error999InTheRequestsVersionOrTheLatest() {
    let table = [
        (r#"{"cniVersion":"0.4.0","name":"n","ipam":{"type":"jipam"}}"#, "0.4.0"),
        (r#"{"cniVersion":"1.0.0","name":"n","ipam":{"type":"jipam"}}"#, "1.0.0"),
        (r#"{"cniVersion":"1.1.0","name":"n","ipam":{"type":"jipam"}}"#, "1.1.0"),
        (r#"{"cniVersion":"9.9.9","name":"n","ipam":{"type":"jipam"}}"#, "1.1.0"),
        (r#"{"name":"n","ipam":{"type":"jipam"}}"#, "1.1.0"),
        ("not json", "1.1.0"),
    ];
    for (config, want) in table {
        let (exit, stdout) = add(config);
        assert_eq!(exit, 1, "{}: {}", config, stdout);
        assert!(stdout.contains("\"code\": 999"), "{}: {}", config, stdout);
        assert!(stdout.contains(&format!("\"cniVersion\": \"{}\"", want)), "{}: want {}: {}", config, want, stdout);
        assert!(stdout.contains("jipam.d/current does not name a jipam version folder"), "{}: {}", config, stdout);
    }
}
