// The extensions embedded at build time (build.rs writes the list from the
// operator's extensions file after checking every module and manifest).

/// One extension as the operator configured it; immutable, compiled in.
pub struct ExtensionSpec {
    pub name: &'static str,
    pub mount: &'static str,
    /// The routes served here (the manifest's, or the operator's subset); a route may
    /// carry form conditions: "/token?grant_type=client_credentials".
    pub routes: &'static [&'static str],
    /// Routes the origin serves and the edge runs too, after the origin accepted the
    /// request, so the edge's KV learns of it (a revocation).
    pub mirror: &'static [&'static str],
    /// One bit per granted capability (abi::capability_bit).
    pub granted: u32,
    pub kind: &'static str,
    pub display_name: &'static str,
    pub memory_bytes: u64,
    pub table_elements: u64,
    /// Wasm instructions per request (wasmi fuel); past it: 503.
    pub fuel: u64,
    /// Why build.rs refused the module (the mount then answers 503), if it did.
    pub refusal: Option<&'static str>,
    pub wasm: &'static [u8],
}

include!(concat!(env!("OUT_DIR"), "/extensions.rs"));

use crate::routes::{path_matches, split_route};

/// How the operator's routes take a request's sub-path.
#[derive(Debug, PartialEq)]
pub enum Serve {
    /// A route without conditions matches: the edge serves it.
    Here,
    /// Only routes with form conditions match: the edge serves it if one holds.
    IfForm(Vec<&'static str>),
    /// No route matches.
    No,
}

/// Whether every "name=value" of `conditions` ('&'-separated) is in `params`, once.
pub fn conditions_hold(conditions: &str, params: &crate::form::Params) -> bool {
    conditions.split('&').all(|c| {
        let (name, value) = c.split_once('=').unwrap_or((c, ""));
        matches!(params.find(name.as_bytes()), crate::form::Lookup::Value(v) if v == value)
    })
}

impl ExtensionSpec {
    pub fn serves(&self, sub: &str) -> Serve {
        let mut conditional = vec![];
        for r in self.routes {
            match split_route(r) {
                (path, None) if path_matches(path, sub) => return Serve::Here,
                (path, Some(c)) if path_matches(path, sub) => conditional.push(c),
                _ => {}
            }
        }
        if conditional.is_empty() { Serve::No } else { Serve::IfForm(conditional) }
    }

    pub fn mirrors(&self, sub: &str) -> bool {
        self.mirror.iter().any(|r| path_matches(r, sub))
    }
}

/// The extension whose mount is the longest prefix of `path` (at a '/'
/// boundary), with the sub-path below it.
pub fn route(path: &str) -> Option<(&'static ExtensionSpec, String)> {
    let mut best: Option<(&'static ExtensionSpec, String)> = None;
    for e in EXTENSIONS {
        let sub = if e.mount == "/" {
            Some(path.to_string())
        } else if path == e.mount {
            Some("/".to_string())
        } else if path.starts_with(e.mount) && path.as_bytes().get(e.mount.len()) == Some(&b'/') {
            Some(path[e.mount.len()..].to_string())
        } else {
            None
        };
        if let Some(sub) = sub {
            if best.as_ref().is_none_or(|(b, _)| b.mount.len() < e.mount.len()) {
                best = Some((e, sub));
            }
        }
    }
    best
}
