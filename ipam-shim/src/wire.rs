//! The daemon wire, as `DaemonClient` (ipam-plugin-bin) speaks it: `POST /cni/v1` on jipamd's unix
//! socket, the answer read to its end (at most 1 MiB) and parsed with `DaemonClient.parse`'s rules,
//! each failure worded as `DaemonClient` words it.

use std::io::{Read, Write};
use std::os::unix::net::UnixStream;

/// The most an answer may hold (`DaemonClient.MAX_ANSWER`).
pub const MAX_ANSWER: usize = 1 << 20;

/// The HTTP request carrying `lines` (the CNI_* lines), an empty line and `stdin`, and the time
/// the caller gives up on it (`Jipam-Deadline`, milliseconds since the epoch: jipamd applies
/// nothing of a call after it), as `DaemonClient.request` builds it.
pub fn request(lines: &[u8], stdin: &[u8], deadline_millis: u128) -> Vec<u8> {
    let length = lines.len() + 1 + stdin.len();
    let head = format!(
        "POST /cni/v1 HTTP/1.1\r\nHost: jipamd\r\nContent-Type: application/octet-stream\r\n\
         Jipam-Deadline: {}\r\nConnection: close\r\nContent-Length: {}\r\n\r\n",
        deadline_millis, length
    );
    let mut all = Vec::with_capacity(head.len() + length);
    all.extend_from_slice(head.as_bytes());
    all.extend_from_slice(lines);
    all.push(b'\n');
    all.extend_from_slice(stdin);
    all
}

/// Sends `request` to `socket` and reads the whole answer. `Err` is the reason, worded as the
/// text after "cannot reach jipamd at SOCKET: ".
pub fn exchange(socket: &str, request: &[u8]) -> Result<Vec<u8>, String> {
    let mut stream = UnixStream::connect(socket).map_err(|e| reason(&e))?;
    stream.write_all(request).map_err(|e| reason(&e))?;
    let mut answer = Vec::with_capacity(1024);
    let mut buf = [0u8; 8192];
    loop {
        let n = match stream.read(&mut buf) {
            Ok(0) => {
                // jipamd's close woke us, often on its core and ahead of it (a unix socket's
                // wake-up): give the core back before printing and exiting, so jipamd ends its call
                // (its log line, its next call) now rather than after our exit
                std::thread::yield_now();
                return Ok(answer);
            }
            Ok(n) => n,
            Err(e) if e.kind() == std::io::ErrorKind::Interrupted => continue,
            Err(e) => return Err(read_reason(&e)),
        };
        answer.extend_from_slice(&buf[..n]);
        if answer.len() > MAX_ANSWER {
            return Err(format!("answer over {} bytes", MAX_ANSWER));
        }
    }
}

/// The system's text for an error (strerror), as the JDK's exception message has it.
pub fn reason(e: &std::io::Error) -> String {
    match e.raw_os_error() {
        Some(code) => {
            let text = std::io::Error::from_raw_os_error(code).to_string();
            let suffix = format!(" (os error {})", code);
            text.strip_suffix(suffix.as_str()).unwrap_or(&text).to_string()
        }
        None => e.to_string(),
    }
}

/// The reason for a failed read of the answer. `SocketChannel.read` words ECONNRESET and EPIPE as
/// "Connection reset" (the JDK's `ConnectionResetException`), not with the system's text; its
/// connect and write keep the system's text ([`reason`]).
fn read_reason(e: &std::io::Error) -> String {
    match e.kind() {
        std::io::ErrorKind::ConnectionReset | std::io::ErrorKind::BrokenPipe => "Connection reset".to_string(),
        _ => reason(e),
    }
}

/// Reads an answer: status 200, a `Jipam-Exit` of 0 or 1, a Content-Length or chunked body.
/// Returns the body and the exit code.
pub fn parse(answer: &[u8]) -> Result<(Vec<u8>, i32), String> {
    let head_end = match find_crlfcrlf(answer) {
        Some(i) => i,
        None => return Err(format!("incomplete answer ({} bytes)", answer.len())),
    };
    let head = latin1(&answer[..head_end]);
    if !head.starts_with("HTTP/1.1 200") && !head.starts_with("HTTP/1.0 200") {
        let status = match head.find('\r') {
            Some(eol) => &head[..eol],
            None => head.as_str(),
        };
        return Err(format!("answered \"{}\"", status));
    }
    let exit = match header(&head, "jipam-exit").as_deref() {
        Some("0") => 0,
        Some("1") => 1,
        _ => return Err("answer without a valid Jipam-Exit header".to_string()),
    };
    let body_start = head_end + 4;
    let chunked = header(&head, "transfer-encoding").map_or(false, |v| v.eq_ignore_ascii_case("chunked"));
    if chunked {
        return dechunk(answer, body_start).map(|b| (b, exit));
    }
    let length = header(&head, "content-length");
    let n: i64 = match &length {
        None => (answer.len() - body_start) as i64,
        Some(text) => java_parse_int(text, 10).map_or(-1, i64::from),
    };
    if n < 0 || body_start as i64 + n > answer.len() as i64 {
        return Err(format!(
            "answer body shorter than its Content-Length {}",
            length.as_deref().unwrap_or("null")
        ));
    }
    Ok((answer[body_start..body_start + n as usize].to_vec(), exit))
}

fn dechunk(answer: &[u8], at: usize) -> Result<Vec<u8>, String> {
    let mut out = Vec::new();
    let mut i = at;
    loop {
        let mut eol = None;
        let mut j = i;
        while j + 1 < answer.len() {
            if answer[j] == b'\r' && answer[j + 1] == b'\n' {
                eol = Some(j);
                break;
            }
            j += 1;
        }
        let eol = match eol {
            Some(e) => e,
            None => return Err("truncated chunked answer".to_string()),
        };
        let size_text = latin1(&answer[i..eol]);
        let digits = match size_text.find(';') {
            Some(semi) => &size_text[..semi],
            None => size_text.as_str(),
        };
        let size = match java_parse_int(java_trim(digits), 16) {
            Some(s) if s >= 0 => s as usize,
            _ => return Err(format!("bad chunk size \"{}\"", size_text)),
        };
        if size == 0 {
            return Ok(out);
        }
        if eol + 2 + size > answer.len() {
            return Err("truncated chunk".to_string());
        }
        out.extend_from_slice(&answer[eol + 2..eol + 2 + size]);
        i = eol + 2 + size + 2;
    }
}

fn find_crlfcrlf(a: &[u8]) -> Option<usize> {
    (0..a.len().saturating_sub(3)).find(|&i| &a[i..i + 4] == b"\r\n\r\n")
}

/// Bytes as ISO-8859-1 characters.
fn latin1(bytes: &[u8]) -> String {
    bytes.iter().map(|&b| b as char).collect()
}

/// `String.trim`: strips characters up to U+0020 from both ends.
fn java_trim(s: &str) -> &str {
    s.trim_matches(|c: char| c <= ' ')
}

/// `Integer.parseInt(s, radix)`: an optional sign, then ASCII digits, within 32 bits.
fn java_parse_int(s: &str, radix: u32) -> Option<i32> {
    let (negative, digits) = match s.as_bytes().first() {
        Some(b'-') => (true, &s[1..]),
        Some(b'+') => (false, &s[1..]),
        _ => (false, s),
    };
    if digits.is_empty() {
        return None;
    }
    let mut v: i64 = 0;
    for c in digits.chars() {
        v = v * radix as i64 + c.to_digit(radix)? as i64;
        if v > 1 << 31 {
            return None;
        }
    }
    let v = if negative { -v } else { v };
    i32::try_from(v).ok()
}

/// The value of the first header named `lower` (compared without case), trimmed; the status line
/// is not a header.
fn header(head: &str, lower: &str) -> Option<String> {
    let mut lines = head.split("\r\n");
    lines.next();
    for line in lines {
        if let Some(colon) = line.find(':') {
            if colon > 0 && java_trim(&line[..colon]).eq_ignore_ascii_case(lower) {
                return Some(java_trim(&line[colon + 1..]).to_string());
            }
        }
    }
    None
}

#[cfg(test)]
#[allow(non_snake_case)]
mod tests {
    use super::*;

    #[test]
    fn request_deadline_inTheHeadBeforeTheBody() {
        let r = request(b"CNI_COMMAND=ADD\n", b"{}", 1_800_000_012_345);
        let text = String::from_utf8(r).unwrap();
        assert!(text.starts_with("POST /cni/v1 HTTP/1.1\r\n"), "{}", text);
        let head_end = text.find("\r\n\r\n").unwrap();
        assert!(text[..head_end].contains("\r\nJipam-Deadline: 1800000012345\r\n"), "{}", text);
        assert_eq!(&text[head_end + 4..], "CNI_COMMAND=ADD\n\n{}");
    }

    #[test]
    fn parse_contentLength_bodyAndExit() {
        let a = b"HTTP/1.1 200 OK\r\njipam-exit: 1\r\ncontent-length: 3\r\n\r\nabcdef";
        assert_eq!(parse(a), Ok((b"abc".to_vec(), 1)));
    }

    #[test]
    fn parse_chunked_joined() {
        let a = b"HTTP/1.1 200 OK\r\nJipam-Exit: 0\r\nTransfer-Encoding: Chunked\r\n\r\n3;x\r\nabc\r\n2\r\nde\r\n0\r\n\r\n";
        assert_eq!(parse(a), Ok((b"abcde".to_vec(), 0)));
    }

    #[test]
    fn parse_garbage_wordedAsDaemonClient() {
        let cases: &[(&[u8], &str)] = &[
            (b"HTTP/1.1 200 OK\r\n", "incomplete answer (17 bytes)"),
            (b"HTTP/1.1 500 No\r\nX: y\r\n\r\n", "answered \"HTTP/1.1 500 No\""),
            (b"\xe9\r\n\r\n", "answered \"\u{e9}\""),
            (b"HTTP/1.1 200 OK\r\nJipam-Exit: 2\r\n\r\n", "answer without a valid Jipam-Exit header"),
            (b"HTTP/1.1 200 OK\r\nJipam-Exit: 0\r\nContent-Length: 9\r\n\r\nab", "answer body shorter than its Content-Length 9"),
            (b"HTTP/1.1 200 OK\r\nJipam-Exit: 0\r\nContent-Length: x\r\n\r\nab", "answer body shorter than its Content-Length x"),
            (b"HTTP/1.1 200 OK\r\nJipam-Exit: 0\r\nContent-Length: 2147483647\r\n\r\n", "answer body shorter than its Content-Length 2147483647"),
            (b"HTTP/1.1 200 OK\r\nJipam-Exit: 0\r\nTransfer-Encoding: chunked\r\n\r\n-1\r\nab", "bad chunk size \"-1\""),
            (b"HTTP/1.1 200 OK\r\nJipam-Exit: 0\r\nTransfer-Encoding: chunked\r\n\r\n9\r\nab\r\n", "truncated chunk"),
            (b"HTTP/1.1 200 OK\r\nJipam-Exit: 0\r\nTransfer-Encoding: chunked\r\n\r\n2\r\nab\r\n", "truncated chunked answer"),
        ];
        for (answer, why) in cases {
            assert_eq!(parse(answer), Err(why.to_string()), "{:?}", String::from_utf8_lossy(answer));
        }
    }

    /// A daemon at a fresh socket path that runs `serve` on its first connection.
    fn fake_daemon(name: &str, serve: fn(UnixStream)) -> String {
        let path = std::env::temp_dir().join(format!("jipam-shim-wire-{}-{}.sock", name, std::process::id()));
        let _ = std::fs::remove_file(&path);
        let listener = std::os::unix::net::UnixListener::bind(&path).expect("bind");
        std::thread::spawn(move || {
            if let Ok((stream, _)) = listener.accept() {
                serve(stream);
            }
        });
        path.to_str().expect("path").to_string()
    }

    #[test]
    fn exchange_closedWithTheRequestUnread_wordedAsSocketChannel() {
        let socket = fake_daemon("unread", |stream| {
            std::thread::sleep(std::time::Duration::from_millis(200));
            drop(stream);
        });
        assert_eq!(exchange(&socket, &request(b"CNI_COMMAND=ADD\n", b"{}", 0)), Err("Connection reset".to_string()));
        let _ = std::fs::remove_file(&socket);
    }

    #[test]
    fn exchange_answeredWithTheRequestUnread_wordedAsSocketChannel() {
        let socket = fake_daemon("answered", |mut stream| {
            std::thread::sleep(std::time::Duration::from_millis(200));
            let _ = stream.write_all(b"HTTP/1.1 200 OK\r\nJipam-Exit: 0\r\nContent-Length: 3\r\n\r\n{}\n");
        });
        assert_eq!(exchange(&socket, &request(b"CNI_COMMAND=ADD\n", b"{}", 0)), Err("Connection reset".to_string()));
        let _ = std::fs::remove_file(&socket);
    }

    #[test]
    fn reason_systemTextButResetAsTheJdk() {
        let refused = std::io::Error::from_raw_os_error(111); // ECONNREFUSED
        assert_eq!(reason(&refused), "Connection refused");
        assert_eq!(read_reason(&refused), "Connection refused");
        let reset = std::io::Error::from_raw_os_error(104); // ECONNRESET
        assert_eq!(reason(&reset), "Connection reset by peer"); // a write's, as the JDK's write
        assert_eq!(read_reason(&reset), "Connection reset");
        assert_eq!(read_reason(&std::io::Error::from_raw_os_error(32)), "Connection reset"); // EPIPE
    }

    #[test]
    fn javaParseInt_asIntegerParseInt() {
        assert_eq!(java_parse_int("+12", 10), Some(12));
        assert_eq!(java_parse_int("-0", 10), Some(0));
        assert_eq!(java_parse_int("2147483648", 10), None);
        assert_eq!(java_parse_int("-2147483648", 10), Some(i32::MIN));
        assert_eq!(java_parse_int("ff", 16), Some(255));
        assert_eq!(java_parse_int("", 10), None);
        assert_eq!(java_parse_int("1 ", 10), None);
    }
}
