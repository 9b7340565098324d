// The extensions embedded at build time (build.rs writes the list from the
// operator's extensions file after checking every module and manifest).

/// One extension as the operator configured it; immutable, compiled in.
pub struct ExtensionSpec {
    pub name: &'static str,
    pub mount: &'static str,
    pub routes: &'static [&'static str],
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

impl ExtensionSpec {
    /// Manifest route matching (Manifest::matchesRoute).
    pub fn matches_route(&self, sub: &str) -> bool {
        self.routes.iter().any(|r| {
            if r.len() >= 2 && r.ends_with("/*") {
                let prefix = &r[..r.len() - 1];
                sub.starts_with(prefix) || sub == &prefix[..prefix.len() - 1]
            } else {
                sub == *r
            }
        })
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
