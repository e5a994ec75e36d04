//! A strict JSON reader that accepts a subset of what the plugin's `JsonReader` (ipam-core)
//! accepts, with the same meaning, and the writer of the CNI error object as `JsonWriter` writes
//! it.
//!
//! The reader's contract: when it returns a document, `JsonReader.parse` on the same bytes returns
//! the same document (objects keep the last of repeated keys, integers that fit 64 bits are
//! integers, nesting deeper than 64 is refused), less what the shim never reads: the members of
//! an object whose key is none of [`READ_KEYS`], and the items of arrays, are checked as every
//! value is and then left out (a 4 MiB config held whole took some 70 MB). It refuses more than
//! `JsonReader` does: bytes that are not UTF-8 (which `JsonReader` reads as U+FFFD). A refusal is
//! not an answer: the caller then runs the JVM plugin, which answers exactly as it always has.

/// A parsed JSON value. Strings holding an unpaired surrogate (`"\ud800"`) keep the text with
/// U+FFFD in its place and `exact = false`: such a string is never used as a value.
#[derive(Debug, PartialEq)]
pub enum Value {
    Null,
    Bool,
    /// `Some` for an integer token that fits 64 bits (`JsonReader` gives a `Long`), else `None`.
    Number(Option<i64>),
    Str { text: String, exact: bool },
    Array(Vec<Value>),
    /// Keys in document order; [`Value::get`] finds the last one, as `JsonReader` keeps it.
    Object(Vec<(String, Value)>),
}

impl Value {
    /// The value of the last `key` of an object; `None` when absent or not an object.
    pub fn get(&self, key: &str) -> Option<&Value> {
        match self {
            Value::Object(fields) => fields.iter().rev().find(|(k, _)| k == key).map(|(_, v)| v),
            _ => None,
        }
    }
}

const MAX_DEPTH: usize = 64;

/// The only keys [`Value::get`] is asked for (`cniVersion`, `ipam.daemon.{socket,timeoutSeconds}`,
/// `ipam.store.type`): an object keeps the members of these keys only.
pub const READ_KEYS: [&str; 7] = ["cniVersion", "ipam", "daemon", "socket", "timeoutSeconds", "store", "type"];

/// Parses one document; `None` when `JsonReader` would refuse it or might read it differently.
pub fn parse(bytes: &[u8]) -> Option<Value> {
    let text = std::str::from_utf8(bytes).ok()?;
    let mut p = Parser { s: text.as_bytes(), pos: 0 };
    p.skip_ws();
    let v = p.value(0, true)?;
    p.skip_ws();
    if p.pos != p.s.len() {
        return None;
    }
    Some(v)
}

struct Parser<'a> {
    s: &'a [u8],
    pos: usize,
}

impl<'a> Parser<'a> {
    fn peek(&self) -> u8 {
        if self.pos < self.s.len() {
            self.s[self.pos]
        } else {
            0
        }
    }

    fn skip_ws(&mut self) {
        while self.pos < self.s.len() && matches!(self.s[self.pos], b' ' | b'\t' | b'\n' | b'\r') {
            self.pos += 1;
        }
    }

    /// One value; `keep` false: checked as any, and given as `Null` (nothing of it is held).
    fn value(&mut self, depth: usize, keep: bool) -> Option<Value> {
        if depth > MAX_DEPTH || self.pos >= self.s.len() {
            return None;
        }
        let v = match self.s[self.pos] {
            b'{' => self.object(depth, keep),
            b'[' => self.array(depth),
            b'"' => self.string().map(|(text, exact)| Value::Str { text, exact }),
            b't' => self.literal(b"true", Value::Bool),
            b'f' => self.literal(b"false", Value::Bool),
            b'n' => self.literal(b"null", Value::Null),
            b'-' | b'0'..=b'9' => self.number(),
            _ => None,
        }?;
        Some(if keep { v } else { Value::Null })
    }

    fn literal(&mut self, word: &[u8], v: Value) -> Option<Value> {
        if self.s[self.pos..].starts_with(word) {
            self.pos += word.len();
            Some(v)
        } else {
            None
        }
    }

    fn object(&mut self, depth: usize, keep: bool) -> Option<Value> {
        self.pos += 1;
        let mut fields = Vec::new();
        self.skip_ws();
        if self.peek() == b'}' {
            self.pos += 1;
            return Some(Value::Object(fields));
        }
        loop {
            self.skip_ws();
            if self.peek() != b'"' {
                return None;
            }
            let (key, _) = self.string()?;
            self.skip_ws();
            if self.peek() != b':' {
                return None;
            }
            self.pos += 1;
            self.skip_ws();
            let read = keep && READ_KEYS.contains(&key.as_str());
            let v = self.value(depth + 1, read)?;
            if read {
                fields.push((key, v));
            }
            self.skip_ws();
            match self.peek() {
                b'}' => {
                    self.pos += 1;
                    return Some(Value::Object(fields));
                }
                b',' => self.pos += 1,
                _ => return None,
            }
        }
    }

    /// An array, its items checked and left out (the shim reads none): always `Array(vec![])`.
    fn array(&mut self, depth: usize) -> Option<Value> {
        self.pos += 1;
        self.skip_ws();
        if self.peek() == b']' {
            self.pos += 1;
            return Some(Value::Array(Vec::new()));
        }
        loop {
            self.skip_ws();
            self.value(depth + 1, false)?;
            self.skip_ws();
            match self.peek() {
                b']' => {
                    self.pos += 1;
                    return Some(Value::Array(Vec::new()));
                }
                b',' => self.pos += 1,
                _ => return None,
            }
        }
    }

    /// A string token: its text and whether every `\u` escape formed a whole character.
    fn string(&mut self) -> Option<(String, bool)> {
        self.pos += 1;
        let mut units: Vec<u16> = Vec::new();
        let mut run = self.pos;
        loop {
            if self.pos >= self.s.len() {
                return None;
            }
            let c = self.s[self.pos];
            if c == b'"' {
                if units.is_empty() {
                    let text = std::str::from_utf8(&self.s[run..self.pos]).ok()?.to_string();
                    self.pos += 1;
                    return Some((text, true));
                }
                units.extend(std::str::from_utf8(&self.s[run..self.pos]).ok()?.encode_utf16());
                self.pos += 1;
                let exact = String::from_utf16(&units).is_ok();
                return Some((String::from_utf16_lossy(&units), exact));
            }
            if c < 0x20 {
                return None;
            }
            if c != b'\\' {
                self.pos += 1;
                continue;
            }
            units.extend(std::str::from_utf8(&self.s[run..self.pos]).ok()?.encode_utf16());
            self.pos += 1;
            let e = *self.s.get(self.pos)?;
            self.pos += 1;
            let unit: u16 = match e {
                b'"' => 0x22,
                b'\\' => 0x5c,
                b'/' => 0x2f,
                b'b' => 0x08,
                b'f' => 0x0c,
                b'n' => 0x0a,
                b'r' => 0x0d,
                b't' => 0x09,
                b'u' => self.hex4()?,
                _ => return None,
            };
            units.push(unit);
            run = self.pos;
        }
    }

    fn hex4(&mut self) -> Option<u16> {
        let digits = self.s.get(self.pos..self.pos + 4)?;
        let mut v: u16 = 0;
        for &h in digits {
            let d = (h as char).to_digit(16)? as u16;
            v = v * 16 + d;
        }
        self.pos += 4;
        Some(v)
    }

    fn number(&mut self) -> Option<Value> {
        let start = self.pos;
        if self.peek() == b'-' {
            self.pos += 1;
        }
        if self.peek() == b'0' {
            self.pos += 1;
        } else if self.peek().is_ascii_digit() {
            while self.peek().is_ascii_digit() {
                self.pos += 1;
            }
        } else {
            return None;
        }
        let mut integral = true;
        if self.peek() == b'.' {
            integral = false;
            self.pos += 1;
            if !self.peek().is_ascii_digit() {
                return None;
            }
            while self.peek().is_ascii_digit() {
                self.pos += 1;
            }
        }
        if self.peek() == b'e' || self.peek() == b'E' {
            integral = false;
            self.pos += 1;
            if self.peek() == b'+' || self.peek() == b'-' {
                self.pos += 1;
            }
            if !self.peek().is_ascii_digit() {
                return None;
            }
            while self.peek().is_ascii_digit() {
                self.pos += 1;
            }
        }
        if !integral {
            return Some(Value::Number(None));
        }
        let digits = std::str::from_utf8(&self.s[start..self.pos]).ok()?;
        Some(Value::Number(digits.parse::<i64>().ok()))
    }
}

/// Appends `s` quoted as `JsonWriter.quote` quotes it.
pub fn quote(out: &mut String, s: &str) {
    out.push('"');
    for c in s.chars() {
        match c {
            '"' => out.push_str("\\\""),
            '\\' => out.push_str("\\\\"),
            '\n' => out.push_str("\\n"),
            '\r' => out.push_str("\\r"),
            '\t' => out.push_str("\\t"),
            c if (c as u32) < 0x20 => {
                out.push_str("\\u00");
                out.push(std::char::from_digit((c as u32) >> 4, 16).unwrap_or('0'));
                out.push(std::char::from_digit((c as u32) & 0xf, 16).unwrap_or('0'));
            }
            c => out.push(c),
        }
    }
    out.push('"');
}

/// The most UTF-16 units of a message or details `CniJson.error` prints (`CniJson.MAX_MESSAGE`).
const MAX_MESSAGE: usize = 16 * 1024;

/// `text` cut as `CniJson.bounded` cuts it: at most `MAX_MESSAGE` UTF-16 units, never half a
/// surrogate pair, then `... (N characters)` with N its length in UTF-16 units.
fn bounded(text: &str) -> std::borrow::Cow<'_, str> {
    let total = text.encode_utf16().count();
    if total <= MAX_MESSAGE {
        return std::borrow::Cow::Borrowed(text);
    }
    let mut units = 0;
    let mut end = 0;
    for (at, c) in text.char_indices() {
        if units + c.len_utf16() > MAX_MESSAGE {
            break;
        }
        units += c.len_utf16();
        end = at + c.len_utf8();
    }
    std::borrow::Cow::Owned(format!("{}... ({} characters)", &text[..end], total))
}

/// The CNI error object as `CniJson.error` prints it.
pub fn error_object(version: &str, code: u32, msg: &str, details: Option<&str>) -> Vec<u8> {
    let mut out = String::with_capacity(64 + msg.len().min(4 * MAX_MESSAGE));
    out.push_str("{\n  \"cniVersion\": ");
    quote(&mut out, version);
    out.push_str(",\n  \"code\": ");
    out.push_str(&code.to_string());
    out.push_str(",\n  \"msg\": ");
    quote(&mut out, &bounded(msg));
    if let Some(d) = details {
        out.push_str(",\n  \"details\": ");
        quote(&mut out, &bounded(d));
    }
    out.push_str("\n}\n");
    out.into_bytes()
}

#[cfg(test)]
#[allow(non_snake_case)]
mod tests {
    use super::*;

    fn s(text: &str) -> Value {
        Value::Str { text: text.to_string(), exact: true }
    }

    #[test]
    fn bounded_overTheLimit_cutAsCniJsonCutsIt() {
        let short = "x".repeat(MAX_MESSAGE);
        assert_eq!(bounded(&short), short.as_str());
        let long = "x".repeat(MAX_MESSAGE + 5);
        assert_eq!(bounded(&long), format!("{}... ({} characters)", "x".repeat(MAX_MESSAGE), MAX_MESSAGE + 5));
        // a pair of surrogates across the limit is left out whole, and counts two units
        let straddling = format!("{}\u{1F600}yy", "x".repeat(MAX_MESSAGE - 1));
        assert_eq!(bounded(&straddling), format!("{}... ({} characters)", "x".repeat(MAX_MESSAGE - 1), MAX_MESSAGE + 3));
        let inside = format!("{}\u{1F600}yy", "x".repeat(MAX_MESSAGE - 2));
        assert_eq!(bounded(&inside), format!("{}\u{1F600}... ({} characters)", "x".repeat(MAX_MESSAGE - 2), MAX_MESSAGE + 2));
    }

    #[test]
    fn parse_repeatedKey_lastWins() {
        let v = parse(br#"{"type":1,"type":"x"}"#).unwrap();
        assert_eq!(v.get("type"), Some(&s("x")));
    }

    #[test]
    fn parse_membersTheShimDoesNotRead_checkedAndLeftOut() {
        let v = parse(br#"{"name":"n","x":[1,{"ipam":2}],"ipam":{"daemon":{"socket":"/s","big":[[0,0]]},"ranges":[[{}]]}}"#)
            .unwrap();
        let daemon = Value::Object(vec![("socket".to_string(), s("/s"))]);
        assert_eq!(v, Value::Object(vec![("ipam".to_string(), Value::Object(vec![("daemon".to_string(), daemon)]))]));
        // checked all the same: a bad value anywhere refuses the document
        assert_eq!(parse(br#"{"x":[1,{"a":tru}],"ipam":{}}"#), None);
        assert_eq!(parse(br#"{"ipam":{"x":"\q"}}"#), None);
        let deep = format!("{{\"x\":{}{}}}", "[".repeat(65), "]".repeat(65));
        assert_eq!(parse(deep.as_bytes()), None);
    }

    #[test]
    fn parse_escapes_decoded() {
        let v = parse(br#"{"\u0069pam":"a\"b\\c\/\n\ud83d\ude00"}"#).unwrap();
        assert_eq!(v.get("ipam"), Some(&s("a\"b\\c/\n\u{1F600}")));
    }

    #[test]
    fn parse_loneSurrogate_notExact() {
        let v = parse(br#""\ud800x""#).unwrap();
        assert_eq!(v, Value::Str { text: "\u{FFFD}x".to_string(), exact: false });
    }

    #[test]
    fn parse_numbers_integersThatFit() {
        assert_eq!(parse(b"-0"), Some(Value::Number(Some(0))));
        assert_eq!(parse(b"9223372036854775808"), Some(Value::Number(None)));
        assert_eq!(parse(b"1.0"), Some(Value::Number(None)));
        assert_eq!(parse(b"1e2"), Some(Value::Number(None)));
    }

    #[test]
    fn parse_refused_whenJsonReaderRefusesOrMightDiffer() {
        let bad: &[&[u8]] = &[
            b"", b" ", b"{", b"[1,]", b"{\"a\":1,}", b"01", b"1.", b"-", b"+1", b"tru", b"nul",
            b"\"a", b"\"\\x\"", b"\"\\u12\"", b"\"\x01\"", b"{} x", b"\xef\xbb\xbf{}", b"\"\xff\"",
            b"{'a':1}", b"[1 2]", b"{\"a\" 1}", b"1e", b"1e+", b".5", b"\xc3",
        ];
        for b in bad {
            assert_eq!(parse(b), None, "{:?}", String::from_utf8_lossy(b));
        }
    }

    #[test]
    fn parse_depth_64Accepted65Refused() {
        let ok = format!("{}{}", "[".repeat(65), "]".repeat(65));
        assert!(parse(ok.as_bytes()).is_some());
        let deep = format!("{}{}", "[".repeat(66), "]".repeat(66));
        assert_eq!(parse(deep.as_bytes()), None);
    }

    #[test]
    fn errorObject_asCniJsonWritesIt() {
        let out = error_object("1.0.0", 11, "a\"b\u{1}\u{e9}", None);
        assert_eq!(
            String::from_utf8(out).unwrap(),
            "{\n  \"cniVersion\": \"1.0.0\",\n  \"code\": 11,\n  \"msg\": \"a\\\"b\\u0001\u{e9}\"\n}\n"
        );
    }
}
