//! What the tests that run the built `jipam` share.

use std::process::{Command, Stdio};

/// The built `jipam` as a runtime starts it for an ADD: only the CNI variables in its environment,
/// stdin and stdout piped.
pub fn cni_add() -> Command {
    let mut command = Command::new(env!("CARGO_BIN_EXE_jipam"));
    command
        .env_clear()
        .env("CNI_COMMAND", "ADD")
        .env("CNI_CONTAINERID", "abc")
        .env("CNI_NETNS", "/var/run/netns/x")
        .env("CNI_IFNAME", "eth0")
        .env("CNI_PATH", "/opt/cni/bin")
        .stdin(Stdio::piped())
        .stdout(Stdio::piped());
    command
}
