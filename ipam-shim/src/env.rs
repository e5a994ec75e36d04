//! The CNI environment, checked as `CniEnvironment.from` (ipam-core) checks it, but only as far as
//! the shim can be certain: a value `CniEnvironment` would refuse, or one the shim cannot judge
//! (bytes that are not UTF-8, a repeated variable, `IP=` in `CNI_ARGS`), sends the call to the JVM
//! plugin, which answers it exactly as it always has.

use std::ffi::OsString;

/// What the environment asks for.
pub enum Check {
    /// `CNI_COMMAND=VERSION`: answered locally, as the JVM plugin answers it whatever else is set.
    Version,
    /// A command whose variables are all valid: forward it.
    Forward(Call),
    /// Anything else: the JVM plugin decides.
    Unsure,
}

/// A call the shim may forward.
pub struct Call {
    /// The value of `CNI_COMMAND`.
    pub command: String,
    /// Every `CNI_*` variable as a request line `NAME=value\n`, `\` and newline escaped.
    pub lines: Vec<u8>,
    /// `JIPAM_LOG_FILE`, when set and not empty.
    pub log_file: Option<String>,
}

const KNOWN_ARGS: [&str; 5] =
    ["IgnoreUnknown", "K8S_POD_NAMESPACE", "K8S_POD_NAME", "K8S_POD_INFRA_CONTAINER_ID", "K8S_POD_UID"];

/// Checks `vars` (the process environment, in order, repeats included).
pub fn check(vars: Vec<(OsString, OsString)>) -> Check {
    let mut cni: Vec<(String, String)> = Vec::new();
    let mut log_file = None;
    for (name, value) in vars {
        let is_cni = name.to_str().map_or_else(|| os_starts_with(&name, "CNI_"), |n| n.starts_with("CNI_"));
        let is_log = name.to_str() == Some("JIPAM_LOG_FILE");
        if !is_cni && !is_log {
            continue;
        }
        let (name, value) = match (name.into_string(), value.into_string()) {
            (Ok(n), Ok(v)) => (n, v),
            _ => return Check::Unsure,
        };
        if is_cni && !name.bytes().all(|b| b.is_ascii_alphanumeric() || b == b'_') {
            return Check::Unsure; // a name the request's lines cannot carry (a newline would start another)
        }
        if is_log {
            if log_file.is_some() {
                return Check::Unsure;
            }
            log_file = Some(value);
            continue;
        }
        if cni.iter().any(|(n, _)| *n == name) {
            return Check::Unsure;
        }
        cni.push((name, value));
    }
    let get = |name: &str| cni.iter().find(|(n, _)| n == name).map(|(_, v)| v.as_str());
    let command = match get("CNI_COMMAND") {
        Some("VERSION") => return Check::Version,
        Some(c @ ("ADD" | "DEL" | "CHECK" | "GC" | "STATUS")) => c.to_string(),
        _ => return Check::Unsure,
    };
    let set = |name: &str| get(name).map_or(false, |v| !v.is_empty());
    if matches!(command.as_str(), "ADD" | "DEL" | "CHECK") {
        let id_ok = get("CNI_CONTAINERID").map_or(false, container_id_ok);
        let ifname_ok = get("CNI_IFNAME").map_or(false, ifname_ok);
        let netns_ok = command == "DEL" || set("CNI_NETNS");
        if !id_ok || !ifname_ok || !netns_ok || !args_ok(get("CNI_ARGS").unwrap_or("")) {
            return Check::Unsure;
        }
    }
    if !set("CNI_PATH") {
        return Check::Unsure;
    }
    let mut lines = Vec::with_capacity(256);
    for (name, value) in &cni {
        lines.extend_from_slice(name.as_bytes());
        lines.push(b'=');
        for b in value.bytes() {
            match b {
                b'\\' => lines.extend_from_slice(b"\\\\"),
                b'\n' => lines.extend_from_slice(b"\\n"),
                b => lines.push(b),
            }
        }
        lines.push(b'\n');
    }
    Check::Forward(Call { command, lines, log_file: log_file.filter(|f| !f.is_empty()) })
}

fn os_starts_with(name: &std::ffi::OsStr, prefix: &str) -> bool {
    use std::os::unix::ffi::OsStrExt;
    name.as_bytes().starts_with(prefix.as_bytes())
}

/// The spec's container ID (`Attachment.isSafeName`), at most 1024.
fn container_id_ok(id: &str) -> bool {
    let b = id.as_bytes();
    !b.is_empty()
        && b.len() <= 1024
        && b[0].is_ascii_alphanumeric()
        && b.iter().all(|&c| c.is_ascii_alphanumeric() || c == b'_' || c == b'.' || c == b'-')
}

/// An interface name the kernel and jipam accept, printable ASCII only (any other name: unsure).
fn ifname_ok(name: &str) -> bool {
    let b = name.as_bytes();
    !b.is_empty()
        && b.len() <= 15
        && name != "."
        && name != ".."
        && b.iter().all(|&c| (0x21..0x7f).contains(&c) && c != b'/' && c != b':')
}

/// `CNI_ARGS` that `CniArgs.parse` accepts and that requests no address. A pod namespace or name
/// that `PodRef.validated` would refuse makes it unsure: the JVM plugin refuses it before it sends
/// anything, so forwarding it would answer "jipamd unreachable" where the JVM plugin answers code 4.
fn args_ok(text: &str) -> bool {
    let mut unknown = false;
    let mut ignore_unknown = false;
    for pair in text.split(';').filter(|p| !p.is_empty()) {
        let eq = match pair.find('=') {
            Some(i) if i > 0 => i,
            _ => return false,
        };
        let (key, value) = (&pair[..eq], &pair[eq + 1..]);
        match key {
            "IgnoreUnknown" => ignore_unknown = value == "1" || value.eq_ignore_ascii_case("true"),
            "IP" => return false,
            "K8S_POD_NAMESPACE" if !dns_name_ok(value, 63, false) => return false,
            "K8S_POD_NAME" if !dns_name_ok(value, 253, true) => return false,
            _ if !KNOWN_ARGS.contains(&key) => unknown = true,
            _ => {}
        }
    }
    !unknown || ignore_unknown
}

/// `PodRef.dnsProblem` finds nothing: empty, or an RFC 1123 DNS label (`dots` false: a namespace)
/// or subdomain (`dots` true: a pod name) of at most `max` characters. A name with any other byte
/// is refused there too, so counting bytes instead of UTF-16 units changes no answer.
fn dns_name_ok(text: &str, max: usize, dots: bool) -> bool {
    let b = text.as_bytes();
    if b.is_empty() {
        return true;
    }
    if b.len() > max {
        return false;
    }
    let mut previous = b'.';
    for (i, &c) in b.iter().enumerate() {
        let alnum = c.is_ascii_lowercase() || c.is_ascii_digit();
        let edge = i == b.len() - 1 || dots && b[i + 1] == b'.';
        if c == b'.' && dots {
            if previous == b'.' || previous == b'-' {
                return false;
            }
        } else if c == b'-' && previous != b'.' && !edge {
            // inside a label
        } else if !alnum {
            return false;
        }
        previous = c;
    }
    previous != b'.'
}

#[cfg(test)]
#[allow(non_snake_case)]
mod tests {
    use super::*;

    fn vars(pairs: &[(&str, &str)]) -> Vec<(OsString, OsString)> {
        pairs.iter().map(|(n, v)| (OsString::from(n), OsString::from(v))).collect()
    }

    fn add(extra: &[(&str, &str)]) -> Vec<(OsString, OsString)> {
        let mut v = vars(&[
            ("CNI_COMMAND", "ADD"),
            ("CNI_CONTAINERID", "c1"),
            ("CNI_IFNAME", "eth0"),
            ("CNI_NETNS", "/run/netns/c1"),
            ("CNI_PATH", "/opt/cni/bin"),
            ("HOME", "/root"),
        ]);
        for (n, val) in extra {
            v.retain(|(k, _)| k != n);
            v.push((OsString::from(n), OsString::from(val)));
        }
        v
    }

    #[test]
    fn check_validAdd_forwardsOnlyCniLinesEscaped() {
        let args = "IgnoreUnknown=1;K8S_POD_NAMESPACE=kube-system;K8S_POD_NAME=coredns-5d78c-x7k2p.a;X=a\\b\nc";
        match check(add(&[("CNI_ARGS", args)])) {
            Check::Forward(call) => {
                assert_eq!(call.command, "ADD");
                let text = String::from_utf8(call.lines).unwrap();
                let line = "CNI_ARGS=IgnoreUnknown=1;K8S_POD_NAMESPACE=kube-system;K8S_POD_NAME=coredns-5d78c-x7k2p.a;X=a\\\\b\\nc\n";
                assert!(text.contains(line), "{}", text);
                assert!(!text.contains("HOME"));
            }
            _ => panic!("not forwarded"),
        }
    }

    #[test]
    fn check_doubtfulOrInvalid_unsure() {
        let cases: Vec<Vec<(OsString, OsString)>> = vec![
            add(&[("CNI_COMMAND", "EXPLODE")]),
            add(&[("CNI_COMMAND", "add")]),
            add(&[("CNI_CONTAINERID", "-a")]),
            add(&[("CNI_CONTAINERID", "")]),
            add(&[("CNI_CONTAINERID", &"a".repeat(1025))]),
            add(&[("CNI_IFNAME", "a/b")]),
            add(&[("CNI_IFNAME", "..")]),
            add(&[("CNI_IFNAME", "sixteen-bytes-xx")]),
            add(&[("CNI_IFNAME", "\u{e9}th0")]),
            add(&[("CNI_NETNS", "")]),
            add(&[("CNI_PATH", "")]),
            add(&[("CNI_ARGS", "IP=198.18.0.1")]),
            add(&[("CNI_ARGS", "FOO=1")]),
            add(&[("CNI_ARGS", "=1")]),
            add(&[("CNI_ARGS", "FOO")]),
            add(&[("CNI_ARGS", "IgnoreUnknown=1;K8S_POD_NAMESPACE=ns;K8S_POD_NAME=p\\q")]),
            add(&[("CNI_ARGS", "K8S_POD_NAME=Web-0")]),
            add(&[("CNI_ARGS", "K8S_POD_NAME=web-")]),
            add(&[("CNI_ARGS", "K8S_POD_NAME=a..b")]),
            add(&[("CNI_ARGS", "K8S_POD_NAME=a.-b")]),
            add(&[("CNI_ARGS", &format!("K8S_POD_NAME={}", "a".repeat(254)))]),
            add(&[("CNI_ARGS", "K8S_POD_NAMESPACE=a.b")]),
            add(&[("CNI_ARGS", &format!("K8S_POD_NAMESPACE={}", "a".repeat(64)))]),
            add(&[("CNI_ARGS", "K8S_POD_NAMESPACE=-ns")]),
            add(&[("CNI_ARGS", "K8S_POD_NAMESPACE=n\u{e9}")]),
            vars(&[("CNI_COMMAND", "GC")]),
        ];
        for (i, c) in cases.into_iter().enumerate() {
            assert!(matches!(check(c), Check::Unsure), "case {}", i);
        }
    }

    #[test]
    fn check_repeatedOrNotUtf8_unsure() {
        use std::os::unix::ffi::OsStringExt;
        let mut twice = add(&[]);
        twice.push((OsString::from("CNI_IFNAME"), OsString::from("eth1")));
        assert!(matches!(check(twice), Check::Unsure));
        let mut bytes = add(&[]);
        bytes.push((OsString::from("CNI_X"), OsString::from_vec(vec![b'a', 0xff])));
        assert!(matches!(check(bytes), Check::Unsure));
        for odd in ["CNI_Z\nCNI_COMMAND", "CNI_A B", "CNI_A-B"] {
            let mut named = add(&[]);
            named.push((OsString::from(odd), OsString::from("DEL")));
            assert!(matches!(check(named), Check::Unsure), "{}", odd);
        }
    }

    #[test]
    fn check_delWithoutNetnsAndGc_forwarded() {
        let mut del = add(&[("CNI_COMMAND", "DEL")]);
        del.retain(|(k, _)| k != "CNI_NETNS");
        assert!(matches!(check(del), Check::Forward(_)));
        assert!(matches!(check(vars(&[("CNI_COMMAND", "GC"), ("CNI_PATH", "/x")])), Check::Forward(_)));
        assert!(matches!(check(vars(&[("CNI_COMMAND", "VERSION"), ("CNI_IFNAME", "..")])), Check::Version));
    }
}
