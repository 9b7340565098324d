// Query and form parsing with the native host's rules (src/http/form.cc, as
// docs/abi.md §6 states them): pairs split on '&' (empty pairs skipped), '+'
// is a space, '%' must be followed by two hex digits, decoded names and values
// must be UTF-8, at most 1000 pairs; a pair without '=' has an empty value.

pub const MAX_PAIRS: usize = 1000;

pub struct Params {
    pairs: Vec<(String, String)>,
}

pub enum Lookup<'a> {
    NotFound,
    Duplicate,
    Value(&'a str),
}

fn hex(c: u8) -> Option<u8> {
    match c {
        b'0'..=b'9' => Some(c - b'0'),
        b'a'..=b'f' => Some(c - b'a' + 10),
        b'A'..=b'F' => Some(c - b'A' + 10),
        _ => None,
    }
}

fn decode(s: &[u8]) -> Option<String> {
    let mut out = Vec::with_capacity(s.len());
    let mut i = 0;
    while i < s.len() {
        match s[i] {
            b'+' => out.push(b' '),
            b'%' => {
                let hi = hex(*s.get(i + 1)?)?;
                let lo = hex(*s.get(i + 2)?)?;
                out.push(hi << 4 | lo);
                i += 2;
            }
            c => out.push(c),
        }
        i += 1;
    }
    String::from_utf8(out).ok()
}

/// Parses a whole source; None if any pair is malformed (then every lookup in
/// it is INVALID_ARGUMENT).
pub fn parse(text: &[u8]) -> Option<Params> {
    let mut pairs = Vec::new();
    for pair in text.split(|&c| c == b'&') {
        if pair.is_empty() {
            continue;
        }
        if pairs.len() == MAX_PAIRS {
            return None;
        }
        let (name, value) = match pair.iter().position(|&c| c == b'=') {
            Some(eq) => (&pair[..eq], &pair[eq + 1..]),
            None => (pair, &pair[pair.len()..]),
        };
        pairs.push((decode(name)?, decode(value)?));
    }
    Some(Params { pairs })
}

impl Params {
    pub fn find(&self, name: &[u8]) -> Lookup<'_> {
        let mut found: Option<&str> = None;
        for (k, v) in &self.pairs {
            if k.as_bytes() == name {
                if found.is_some() {
                    return Lookup::Duplicate;
                }
                found = Some(v);
            }
        }
        match found {
            Some(v) => Lookup::Value(v),
            None => Lookup::NotFound,
        }
    }
}

/// Percent-encodes everything but unreserved characters (RFC 3986).
pub fn percent_encode(s: &str) -> String {
    let mut out = String::with_capacity(s.len());
    for &c in s.as_bytes() {
        if c.is_ascii_alphanumeric() || matches!(c, b'-' | b'.' | b'_' | b'~') {
            out.push(c as char);
        } else {
            out.push_str(&format!("%{c:02X}"));
        }
    }
    out
}
