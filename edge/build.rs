// Embeds the operator's extensions into the edge program, after checking each
// with the native host's load rules (src/runtime/extension.cc, manifest.cc):
// the manifest (keys, name, abi, capabilities granted), then the module
// (valid Wasm, the ABI version marker, habanero_on_request: () -> i32, a
// memory, and only granted host calls and allowed WASI functions as imports).
// A module that fails is refused here, so a broken package is never built.
//
// Inputs (environment):
//   HABANERO_EDGE_CONFIG    the operator's file (default: extensions.toml here)
//   HABANERO_EDGE_WASM_DIR  where module paths resolve (the C++ build's wasm dir,
//                           e.g. build/wasm); required
//
// With `refused = "unavailable"` at the top of the file, a module that fails is
// left out and its mount answers 503 "extension unavailable", as on the server
// (the conformance suite deploys modules that must be refused).
//
// With `origin = "<backend>"`, every request the edge does not serve (no mount, or
// a route the operator left out with an extension's `routes = [...]`, a subset of
// its manifest's) is forwarded to that Fastly backend: an origin Habanero. A route
// may carry form conditions ("/token?grant_type=client_credentials": served here
// only for that grant), and `mirror = [...]` names routes the origin answers and
// the edge runs too, once the origin accepted (so a revocation reaches the POP's KV).
use std::collections::BTreeSet;
use std::fmt::Write as _;
use std::path::{Path, PathBuf};

#[allow(dead_code)]
mod abi {
    include!("src/abi.rs");
}
mod routes {
    include!("src/routes.rs");
}
use routes::{path_matches, split_route};

const DEFAULT_MEMORY_MB: u64 = 64;
const DEFAULT_TABLE_ELEMENTS: u64 = 10_000;
// Instructions (wasmi fuel) per request: far below Fastly's 50 ms of CPU.
const DEFAULT_FUEL: u64 = 100_000_000;

struct Ext {
    name: String,
    mount: String,
    module_path: PathBuf,
    grants: Vec<String>,
    memory_mb: u64,
    table_elements: u64,
    fuel: u64,
    routes: Vec<String>,
    kind: String,
    display_name: String,
    refusal: Option<String>,
    only_routes: Option<Vec<String>>,
    mirror: Vec<String>,
}

fn fail(msg: String) -> ! {
    eprintln!("error: {msg}");
    println!("cargo::error={msg}");
    std::process::exit(1);
}

fn strings(v: &toml::Value, origin: &str, key: &str) -> Result<Vec<String>, String> {
    let bad = || format!("{origin}: {key}: expected an array of strings");
    let arr = v.as_array().ok_or_else(bad)?;
    arr.iter().map(|s| s.as_str().map(str::to_string).ok_or_else(bad)).collect()
}

fn string(v: &toml::Value, origin: &str, key: &str) -> Result<String, String> {
    v.as_str().map(str::to_string).ok_or_else(|| format!("{origin}: {key}: expected a string"))
}

struct Manifest {
    name: String,
    abi: i64,
    routes: Vec<String>,
    capabilities: Vec<String>,
    optional: Vec<String>,
    subscribes: Vec<String>,
    kind: String,
    display_name: String,
}

// The manifest rules of src/runtime/manifest.cc.
fn parse_manifest(path: &Path) -> Result<Manifest, String> {
    let origin = path.display().to_string();
    let text = std::fs::read_to_string(path).map_err(|e| format!("{origin}: cannot read manifest: {e}"))?;
    let table: toml::Table = text.parse().map_err(|e| format!("{origin}: {e}"))?;
    let mut m = Manifest {
        name: String::new(),
        abi: 0,
        routes: vec![],
        capabilities: vec![],
        optional: vec![],
        subscribes: vec![],
        kind: String::new(),
        display_name: String::new(),
    };
    let (mut have_name, mut have_abi, mut have_caps) = (false, false, false);
    for (key, v) in &table {
        match key.as_str() {
            "name" => {
                m.name = string(v, &origin, key)?;
                have_name = true;
            }
            "abi" => {
                m.abi = v.as_integer().ok_or_else(|| format!("{origin}: abi: expected an integer"))?;
                have_abi = true;
            }
            "description" | "robust_to" => {}
            "status" => {
                let s = string(v, &origin, key)?;
                if s != "stable" && s != "alpha" {
                    return Err(format!("{origin}: status: expected \"stable\" or \"alpha\""));
                }
            }
            "routes" => {
                m.routes = strings(v, &origin, key)?;
                if m.routes.iter().any(|r| !r.starts_with('/')) {
                    return Err(format!("{origin}: routes: routes must start with '/'"));
                }
            }
            "capabilities" | "optional_capabilities" => {
                let caps = strings(v, &origin, key)?;
                for c in &caps {
                    if !abi::is_known_capability(c) {
                        return Err(format!("{origin}: {key}: unknown capability '{c}'"));
                    }
                }
                if key == "capabilities" {
                    m.capabilities = caps;
                    have_caps = true;
                } else {
                    m.optional = caps;
                }
            }
            "kind" => {
                m.kind = string(v, &origin, key)?;
                if !["authenticator", "protocol", ""].contains(&m.kind.as_str()) {
                    return Err(format!("{origin}: kind: expected \"authenticator\", \"protocol\" or \"\""));
                }
            }
            "subscribes" => {
                m.subscribes = strings(v, &origin, key)?;
                for t in &m.subscribes {
                    if !abi::is_valid_topic(t) {
                        return Err(format!("{origin}: subscribes: '{t}' is not a topic name"));
                    }
                }
            }
            "display_name" => {
                m.display_name = string(v, &origin, key)?;
                if m.display_name.len() > 100 || m.display_name.bytes().any(|c| c < 0x20 || c == 0x7f) {
                    return Err(format!("{origin}: display_name: expected printable text of at most 100 bytes"));
                }
            }
            _ => return Err(format!("{origin}: {key}: unknown key")),
        }
    }
    if !have_name {
        return Err(format!("{origin}: name: missing"));
    }
    if !have_abi {
        return Err(format!("{origin}: abi: missing"));
    }
    if !have_caps {
        return Err(format!("{origin}: capabilities: missing"));
    }
    if !m.subscribes.is_empty() && !m.capabilities.iter().any(|c| c == "events") {
        return Err(format!("{origin}: subscribes: needs the \"events\" capability in capabilities"));
    }
    if m.routes.is_empty() {
        m.routes.push("/*".into());
    }
    Ok(m)
}

// The module rules of extension.cc: checkExports and checkImports.
fn check_module(path: &Path, bytes: &[u8], m: &Manifest, grants: &[String]) -> Result<(), String> {
    let p = path.display();
    if bytes.len() < 8 || &bytes[..4] != b"\0asm" {
        let why = if bytes.len() < 8 { "truncated" } else { "bad magic" };
        return Err(format!("{p}: not a WebAssembly module ({why})"));
    }
    let mut validator = wasmparser::Validator::new();
    if let Err(e) = validator.validate_all(bytes) {
        return Err(format!("{p}: not a valid WebAssembly module: {e}"));
    }
    use wasmparser::{Payload, TypeRef, ExternalKind};
    let mut func_types: Vec<(usize, usize, bool)> = vec![]; // params, results, result is i32
    let mut func_type_of: Vec<u32> = vec![]; // type index of every function (imports first)
    let mut imports: Vec<(String, String)> = vec![];
    let mut exports: Vec<(String, ExternalKind, u32)> = vec![];
    for payload in wasmparser::Parser::new(0).parse_all(bytes) {
        match payload.map_err(|e| format!("{p}: {e}"))? {
            Payload::TypeSection(r) => {
                for rec in r {
                    let rec = rec.map_err(|e| format!("{p}: {e}"))?;
                    for sub in rec.types() {
                        match &sub.composite_type.inner {
                            wasmparser::CompositeInnerType::Func(f) => func_types.push((
                                f.params().len(),
                                f.results().len(),
                                f.results().first() == Some(&wasmparser::ValType::I32),
                            )),
                            _ => func_types.push((usize::MAX, 0, false)),
                        }
                    }
                }
            }
            Payload::ImportSection(r) => {
                for imp in r {
                    let imp = imp.map_err(|e| format!("{p}: {e}"))?;
                    if let TypeRef::Func(t) = imp.ty {
                        func_type_of.push(t);
                    }
                    imports.push((imp.module.to_string(), imp.name.to_string()));
                }
            }
            Payload::FunctionSection(r) => {
                for t in r {
                    func_type_of.push(t.map_err(|e| format!("{p}: {e}"))?);
                }
            }
            Payload::ExportSection(r) => {
                for e in r {
                    let e = e.map_err(|e| format!("{p}: {e}"))?;
                    exports.push((e.name.to_string(), e.kind, e.index));
                }
            }
            _ => {}
        }
    }
    let entry_point = |index: u32| {
        func_type_of
            .get(index as usize)
            .and_then(|t| func_types.get(*t as usize))
            .is_some_and(|&(params, results, i32)| params == 0 && results == 1 && i32)
    };
    let (mut abi_v1, mut entry, mut memory, mut on_event) = (false, false, false, false);
    let mut other_abi = String::new();
    for (name, kind, index) in &exports {
        if name == "habanero_abi_v1" && *kind == ExternalKind::Func {
            abi_v1 = true;
        } else if let Some(v) = name.strip_prefix("habanero_abi_v") {
            other_abi = v.to_string();
        } else if name == "habanero_on_request" && *kind == ExternalKind::Func {
            entry = entry_point(*index);
        } else if name == "habanero_on_event" && *kind == ExternalKind::Func {
            on_event = entry_point(*index);
        } else if name == "memory" && *kind == ExternalKind::Memory {
            memory = true;
        }
    }
    if !abi_v1 {
        if !other_abi.is_empty() {
            return Err(format!("{p}: speaks Habanero ABI v{other_abi}; this host speaks v1"));
        }
        return Err(format!("{p}: declares no Habanero ABI version (export habanero_abi_v1)"));
    }
    if !entry {
        return Err(format!("{p}: does not export habanero_on_request: () -> i32"));
    }
    if !memory {
        return Err(format!("{p}: exports no memory"));
    }
    if !m.subscribes.is_empty() && !on_event {
        return Err(format!("{p}: its manifest subscribes to topics but it does not export habanero_on_event: () -> i32"));
    }
    for (module, name) in &imports {
        if module == abi::HOST_MODULE {
            let Some(cap) = abi::capability_of(name) else {
                return Err(format!("{p}: imports unknown host function habanero.{name}"));
            };
            if m.optional.iter().any(|c| c == cap) {
                continue;
            }
            if !grants.iter().any(|g| g == cap) {
                return Err(format!("{p}: imports habanero.{name} of capability '{cap}', which the operator has not granted"));
            }
            if !m.capabilities.iter().any(|c| c == cap) {
                return Err(format!("{p}: imports habanero.{name} of capability '{cap}', which its manifest does not declare"));
            }
        } else if module == abi::WASI_MODULE {
            if !abi::WASI_FUNCTIONS.contains(&name.as_str()) {
                return Err(format!("{p}: imports {module}.{name}, which Habanero does not provide"));
            }
        } else {
            return Err(format!("{p}: imports {module}.{name} from an unknown module"));
        }
    }
    Ok(())
}

// A route's form conditions: "name=value" pairs joined by '&', unreserved characters only
// (they are compared with the decoded parameters).
fn check_conditions(conditions: &str) -> Result<(), String> {
    let plain = |s: &str| !s.is_empty() && s.bytes().all(|c| c.is_ascii_alphanumeric() || b"-._~".contains(&c));
    for c in conditions.split('&') {
        match c.split_once('=') {
            Some((name, value)) if plain(name) && plain(value) => {}
            _ => return Err(format!("condition '{c}': expected name=value (letters, digits, '-', '.', '_', '~')")),
        }
    }
    Ok(())
}


// The load checks of Extension::load for one configured extension.
fn load(e: &Ext) -> Result<Manifest, String> {
    let manifest_path = e.module_path.with_extension("manifest.toml");
    println!("cargo::rerun-if-changed={}", e.module_path.display());
    println!("cargo::rerun-if-changed={}", manifest_path.display());
    let bytes = std::fs::read(&e.module_path)
        .map_err(|err| format!("{}: cannot read module: {err}", e.module_path.display()))?;
    if bytes.len() < 8 || &bytes[..4] != b"\0asm" {
        let why = if bytes.len() < 8 { "truncated" } else { "bad magic" };
        return Err(format!("{}: not a WebAssembly module ({why})", e.module_path.display()));
    }
    let m = parse_manifest(&manifest_path)?;
    let mp = manifest_path.display();
    if m.name != e.name {
        return Err(format!("{mp}: name '{}' differs from the configured name '{}'", m.name, e.name));
    }
    if m.abi != abi::ABI_VERSION {
        return Err(format!("{mp}: declares ABI v{}; this host speaks v1", m.abi));
    }
    for cap in &m.capabilities {
        if !e.grants.contains(cap) {
            return Err(format!(
                "{mp}: wants capability '{cap}', which the operator has not granted to '{}' (grants: [{}])",
                e.name,
                e.grants.join(", ")
            ));
        }
    }
    check_module(&e.module_path, &bytes, &m, &e.grants)?;
    Ok(m)
}

fn main() {
    println!("cargo::rerun-if-env-changed=HABANERO_EDGE_CONFIG");
    println!("cargo::rerun-if-env-changed=HABANERO_EDGE_WASM_DIR");
    let here = PathBuf::from(std::env::var("CARGO_MANIFEST_DIR").unwrap());
    let config_path = std::env::var("HABANERO_EDGE_CONFIG")
        .map(PathBuf::from)
        .unwrap_or_else(|_| here.join("extensions.toml"));
    println!("cargo::rerun-if-changed={}", config_path.display());
    let Ok(wasm_dir) = std::env::var("HABANERO_EDGE_WASM_DIR") else {
        fail("HABANERO_EDGE_WASM_DIR is not set: point it at the C++ build's wasm directory (e.g. build/wasm); `make edge` does".into());
    };
    let wasm_dir = PathBuf::from(wasm_dir);
    let origin = config_path.display().to_string();
    let text = std::fs::read_to_string(&config_path)
        .unwrap_or_else(|e| fail(format!("{origin}: cannot read: {e}")));
    let table: toml::Table = text.parse().unwrap_or_else(|e| fail(format!("{origin}: {e}")));
    let mut exts: Vec<Ext> = vec![];
    let mut seen = BTreeSet::new();
    let origin_backend = match table.get("origin") {
        None => None,
        Some(toml::Value::String(b)) if !b.is_empty() => Some(b.clone()),
        Some(_) => fail(format!("{origin}: origin: expected the name of a Fastly backend")),
    };
    let refused_unavailable = match table.get("refused").map(|v| v.as_str()) {
        None | Some(Some("fail")) => false,
        Some(Some("unavailable")) => true,
        _ => fail(format!("{origin}: refused: expected \"fail\" or \"unavailable\"")),
    };
    for (key, v) in &table {
        if key == "refused" || key == "origin" {
            continue;
        }
        if key != "extensions" {
            fail(format!("{origin}: {key}: unknown key"));
        }
        let Some(list) = v.as_array() else { fail(format!("{origin}: extensions: expected [[extensions]] tables")) };
        for item in list {
            let Some(t) = item.as_table() else { fail(format!("{origin}: extensions: expected tables")) };
            let mut e = Ext {
                name: String::new(),
                mount: String::new(),
                module_path: PathBuf::new(),
                grants: vec![],
                memory_mb: DEFAULT_MEMORY_MB,
                table_elements: DEFAULT_TABLE_ELEMENTS,
                fuel: DEFAULT_FUEL,
                routes: vec![],
                kind: String::new(),
                display_name: String::new(),
                refusal: None,
                only_routes: None,
                mirror: vec![],
            };
            let mut module = String::new();
            for (k, v) in t {
                let int = |v: &toml::Value| -> u64 {
                    match v.as_integer() {
                        Some(i) if i > 0 => i as u64,
                        _ => fail(format!("{origin}: extensions.{k}: expected a positive integer")),
                    }
                };
                match k.as_str() {
                    "name" => e.name = string(v, &origin, k).unwrap_or_else(|e| fail(e)),
                    "module" => module = string(v, &origin, k).unwrap_or_else(|e| fail(e)),
                    "mount" => e.mount = string(v, &origin, k).unwrap_or_else(|e| fail(e)),
                    "grants" => e.grants = strings(v, &origin, k).unwrap_or_else(|e| fail(e)),
                    "memory_mb" => e.memory_mb = int(v),
                    "table_elements" => e.table_elements = int(v),
                    "fuel" => e.fuel = int(v),
                    "routes" => e.only_routes = Some(strings(v, &origin, k).unwrap_or_else(|e| fail(e))),
                    "mirror" => e.mirror = strings(v, &origin, k).unwrap_or_else(|e| fail(e)),
                    _ => fail(format!("{origin}: extensions.{k}: unknown key")),
                }
            }
            if e.name.is_empty()
                || !e.name.bytes().all(|c| c.is_ascii_lowercase() || c.is_ascii_digit() || c == b'_' || c == b'-')
            {
                fail(format!("{origin}: extensions.name: expected [a-z0-9_-]+, got '{}'", e.name));
            }
            if !seen.insert(e.name.clone()) {
                fail(format!("{origin}: extension '{}' is listed twice", e.name));
            }
            if !e.mount.starts_with('/') || (e.mount.len() > 1 && e.mount.ends_with('/')) || e.mount == "/healthz" {
                fail(format!("{origin}: {}: mount must start with '/', not end with '/', and not be /healthz", e.name));
            }
            if exts.iter().any(|x| x.mount == e.mount) {
                fail(format!("{origin}: {}: mount {} is taken", e.name, e.mount));
            }
            let mut grant_set = BTreeSet::new();
            for g in &e.grants {
                if !abi::is_known_capability(g) {
                    fail(format!("{origin}: {}: unknown grant \"{g}\"", e.name));
                }
                if !grant_set.insert(g.clone()) {
                    fail(format!("{origin}: {}: grant \"{g}\" listed twice", e.name));
                }
            }
            if e.memory_mb > 4096 {
                fail(format!("{origin}: {}: memory_mb must be 1..4096", e.name));
            }
            if module.is_empty() {
                module = format!("{}.wasm", e.name);
            }
            e.module_path = wasm_dir.join(&module);
            let manifest_path = e.module_path.with_extension("manifest.toml");
            println!("cargo::rerun-if-changed={}", e.module_path.display());
            println!("cargo::rerun-if-changed={}", manifest_path.display());
            match load(&e) {
                Ok(m) => {
                    // The operator may serve fewer routes at the edge than the manifest
                    // declares (the rest goes to the origin); never more.
                    let of_manifest = |r: &str| m.routes.iter().any(|mr| mr == r || path_matches(mr, r));
                    if let Some(only) = e.only_routes.take() {
                        for r in &only {
                            let (path, conditions) = split_route(r);
                            if !of_manifest(path) {
                                fail(format!("{origin}: {}: route {path} is not a route of its manifest", e.name));
                            }
                            if let Some(c) = conditions {
                                check_conditions(c).unwrap_or_else(|why| fail(format!("{origin}: {}: route {r}: {why}", e.name)));
                            }
                        }
                        e.routes = only;
                    } else {
                        e.routes = m.routes.clone();
                    }
                    for r in &e.mirror {
                        if origin_backend.is_none() {
                            fail(format!("{origin}: {}: mirror needs an origin (origin = \"<backend>\")", e.name));
                        }
                        if r.contains('?') || !of_manifest(r) {
                            fail(format!("{origin}: {}: mirror {r} is not a route of its manifest", e.name));
                        }
                        if e.routes.iter().any(|x| split_route(x).0 == r) {
                            fail(format!("{origin}: {}: {r} is both served at the edge (routes) and mirrored", e.name));
                        }
                    }
                    e.kind = m.kind;
                    e.display_name = if m.display_name.is_empty() { e.name.clone() } else { m.display_name };
                }
                // The server logs a refused extension and answers 503 at its mount; a
                // package is refused instead, unless the operator asked for the server's
                // behaviour (refused = "unavailable", used by the conformance suite).
                Err(why) if refused_unavailable => {
                    println!("cargo::warning={why}");
                    e.refusal = Some(why);
                }
                Err(why) => fail(why),
            }
            exts.push(e);
        }
    }

    let mut out = String::from("// Generated by build.rs from the operator's extensions file.\n");
    out += "pub static EXTENSIONS: &[ExtensionSpec] = &[\n";
    for e in &exts {
        let granted = e.grants.iter().fold(0u32, |acc, g| acc | abi::capability_bit(g));
        let wasm = match &e.refusal {
            Some(_) => "&[]".to_string(),
            None => format!("include_bytes!({:?})", std::fs::canonicalize(&e.module_path).unwrap().display().to_string()),
        };
        writeln!(
            out,
            "    ExtensionSpec {{ name: {:?}, mount: {:?}, routes: &{:?}, granted: {granted:#x}, \
             mirror: &{:?}, kind: {:?}, display_name: {:?}, memory_bytes: {}, table_elements: {}, \
             fuel: {}, refusal: {:?}, wasm: {wasm} }},",
            e.name,
            e.mount,
            e.routes,
            e.mirror,
            e.kind,
            e.display_name,
            e.memory_mb * 1024 * 1024,
            e.table_elements,
            e.fuel,
            e.refusal,
        )
        .unwrap();
    }
    out += "];\n";
    writeln!(out, "pub static ORIGIN: Option<&str> = {origin_backend:?};").unwrap();
    let dest = PathBuf::from(std::env::var("OUT_DIR").unwrap()).join("extensions.rs");
    std::fs::write(dest, out).unwrap();
}
