// ABI v1 host calls on Fastly's facilities, and the per-request run of an
// extension in wasmi: a fresh Store and instance for every request, a memory
// limit, a fuel budget instead of the server's wall-clock deadline, and only
// the WASI functions the native host allows. The rules of every call are the
// native host's (src/runtime/host_calls.cc, docs/abi.md §6); where the edge
// differs it says so here and in docs/edge.md.
use crate::abi::*;
use crate::form::{self, Lookup, Params};
use crate::keys::{KeySet, SignError};
use crate::kv::{Kv, now_ms};
use crate::records;
use crate::registry::ExtensionSpec;
use std::collections::HashMap;
use wasmi::{Caller, Engine, Extern, Linker, Module, Store, StoreLimits, StoreLimitsBuilder};

const MAX_RESPONSE_BYTES: usize = 4 * 1024 * 1024;
const MAX_RESPONSE_HEADERS: usize = 64;
const MAX_LOG_LINE_BYTES: usize = 4096;
const MAX_KEY_BYTES: usize = 512;
const MAX_VALUE_BYTES: usize = 256 * 1024;
const MAX_RANDOM_BYTES: usize = 64 * 1024;
const MAX_WASM_STACK: usize = 512 * 1024;

/// The request as extensions see it.
pub struct RequestData {
    pub method: String,
    pub path: String,
    pub query: String,
    pub body: Vec<u8>,
    pub headers: Vec<(String, Vec<u8>)>,
    pub remote_addr: String,
    pub secure: bool,
}

#[derive(Default)]
pub struct ResponseData {
    pub status: u16,
    pub headers: Vec<(String, Vec<u8>)>,
    pub body: Vec<u8>,
}

/// What the facilities of one request are; each opened on first use.
#[derive(Default)]
pub struct Services {
    kv: Option<Kv>,
    records: Option<Kv>,
    sessions: Option<Kv>,
    keys: Option<Result<KeySet, String>>,
    settings: Option<Option<fastly::ConfigStore>>,
}

impl Services {
    fn kv(&mut self) -> &Kv {
        self.kv.get_or_insert_with(|| Kv::open("habanero_kv"))
    }
    pub fn records(&mut self) -> &Kv {
        self.records.get_or_insert_with(|| Kv::open("habanero_records"))
    }
    pub fn sessions(&mut self) -> &Kv {
        self.sessions.get_or_insert_with(|| Kv::open("habanero_sessions"))
    }
    fn keys(&mut self) -> Result<&KeySet, &str> {
        self.keys.get_or_insert_with(KeySet::load).as_ref().map_err(|e| e.as_str())
    }
    fn setting(&mut self, ext: &str, name: &[u8]) -> Option<String> {
        let store = self.settings.get_or_insert_with(|| match fastly::ConfigStore::try_open("habanero_settings") {
            Ok(s) => Some(s),
            Err(e) => {
                eprintln!("config store habanero_settings: {e}");
                None
            }
        });
        let name = std::str::from_utf8(name).ok()?;
        // Config store keys allow letters, digits, '-', '_' and '.'; settings are
        // stored as "<extension>.<name>" (habanero edge export writes them).
        if name.is_empty() || name.len() > 200 || !name.bytes().all(|c| c.is_ascii_alphanumeric() || c == b'_' || c == b'-' || c == b'.') {
            return None;
        }
        let store = store.as_ref()?;
        let value = store.try_get(&format!("{ext}.{name}")).ok().flatten();
        // As the server fills in "issuer" for every extension that does not set it, the
        // export's global "issuer" answers for an extension it did not know of.
        if value.is_none() && name == "issuer" {
            return store.try_get("issuer").ok().flatten();
        }
        value
    }
}

pub struct HostState {
    pub ext: &'static ExtensionSpec,
    pub req: RequestData,
    pub resp: ResponseData,
    pub services: Services,
    response_bytes: usize,
    query: Option<Option<Params>>,
    form: Option<Option<Params>>,
    held_takes: HashMap<Vec<u8>, Vec<u8>>,
    limits: StoreLimits,
    out: [Vec<u8>; 2],
}

fn log_safe(s: &[u8]) -> String {
    let mut out = String::with_capacity(s.len());
    for ch in String::from_utf8_lossy(s).chars() {
        if (ch as u32) < 0x20 || ch as u32 == 0x7f {
            out.push_str(&format!("\\x{:02x}", ch as u32));
        } else {
            out.push(ch);
        }
    }
    out
}

impl HostState {
    fn log_unavailable(&self, call: &str, why: &str) {
        eprintln!("[{}] error: {call}: {why}", self.ext.name);
    }
    fn flush_output(&mut self) {
        for stream in 0..2 {
            if !self.out[stream].is_empty() {
                let line = std::mem::take(&mut self.out[stream]);
                self.log_line(stream, &line);
            }
        }
    }
    fn log_line(&self, stream: usize, line: &[u8]) {
        let tag = if stream == 0 { "stdout" } else { "stderr" };
        eprintln!("[{}] {tag}: {}", self.ext.name, log_safe(line));
    }
    fn write_output(&mut self, stream: usize, bytes: &[u8]) {
        self.out[stream].extend_from_slice(bytes);
        while let Some(nl) = self.out[stream].iter().position(|&c| c == b'\n') {
            let line: Vec<u8> = self.out[stream].drain(..=nl).collect();
            self.log_line(stream, &line[..line.len() - 1]);
        }
        while self.out[stream].len() > MAX_LOG_LINE_BYTES {
            let piece: Vec<u8> = self.out[stream].drain(..MAX_LOG_LINE_BYTES).collect();
            self.log_line(stream, &piece);
        }
    }
    fn params(&mut self, source: i32) -> Option<&Params> {
        if source == 0 {
            if self.query.is_none() {
                self.query = Some(form::parse(self.req.query.as_bytes()));
            }
            self.query.as_ref().unwrap().as_ref()
        } else {
            if self.form.is_none() {
                let ct = self.req.headers.iter().find(|(k, _)| k.eq_ignore_ascii_case("content-type"));
                let is_form = ct.is_some_and(|(_, v)| {
                    let v: Vec<u8> = v.iter().copied().skip_while(|c| *c == b' ' || *c == b'\t').collect();
                    v.len() >= 33 && v[..33].eq_ignore_ascii_case(b"application/x-www-form-urlencoded")
                });
                self.form = Some(form::parse(if is_form { &self.req.body } else { b"" }));
            }
            self.form.as_ref().unwrap().as_ref()
        }
    }
    fn host_header(&mut self, name: &str, value: String) {
        self.response_bytes += name.len() + value.len();
        self.resp.headers.push((name.to_string(), value.into_bytes()));
    }
    fn host_redirect(&mut self, url: String) {
        self.resp.headers.retain(|(k, _)| !k.eq_ignore_ascii_case("location"));
        self.resp.status = if self.req.method == "POST" { 303 } else { 302 };
        self.host_header("Location", url);
    }
}

// ---- guest memory ----------------------------------------------------------

/// A (ptr, len) pair inside guest memory, computed in 64 bits.
fn range(mem: &[u8], ptr: i32, len: i32) -> Option<std::ops::Range<usize>> {
    let (p, l) = (ptr as u32 as u64, len as u32 as u64);
    (p + l <= mem.len() as u64).then(|| p as usize..(p + l) as usize)
}

fn view(mem: &[u8], ptr: i32, len: i32) -> Option<Vec<u8>> {
    range(mem, ptr, len).map(|r| mem[r].to_vec())
}

fn out_valid(mem: &[u8], out: i32, cap: i32, out_len: i32) -> bool {
    range(mem, out_len, 4).is_some() && range(mem, out, cap).is_some()
}

fn write_u32(mem: &mut [u8], at: i32, v: u32) {
    let at = at as u32 as usize;
    mem[at..at + 4].copy_from_slice(&v.to_le_bytes());
}

fn write_out(mem: &mut [u8], out: i32, cap: i32, out_len: i32, data: &[u8]) -> i32 {
    if !out_valid(mem, out, cap, out_len) {
        return INVALID_MEMORY;
    }
    if data.len() > cap as u32 as usize {
        write_u32(mem, out_len, data.len().min(u32::MAX as usize) as u32);
        return BUFFER_TOO_SMALL;
    }
    let at = out as u32 as usize;
    mem[at..at + data.len()].copy_from_slice(data);
    write_u32(mem, out_len, data.len() as u32);
    OK
}

fn valid_header_text(s: &[u8]) -> bool {
    !s.iter().any(|&c| (c < 0x20 && c != b'\t') || c == 0x7f)
}

fn valid_header_name(s: &[u8]) -> bool {
    !s.is_empty() && s.iter().all(|&c| c.is_ascii_alphanumeric() || b"!#$%&'*+-.^_`|~".contains(&c))
}

// ---- linking -----------------------------------------------------------------

type Mem<'a> = &'a mut [u8];

// Defines host function `$name` of capability `$cap`: the grant is checked
// first (DENIED otherwise), then the body runs with the guest's memory and the
// request's state.
macro_rules! host {
    ($linker:ident, $name:literal, |$mem:ident, $st:ident $(, $arg:ident : $ty:ty)*| $body:block) => {{
        let bit = capability_bit(capability_of($name).expect("host call in the capability table"));
        $linker
            .func_wrap(HOST_MODULE, $name, move |mut caller: Caller<'_, HostState>, $($arg: $ty),*| -> i32 {
                if caller.data().ext.granted & bit == 0 {
                    return DENIED;
                }
                let memory = match caller.get_export("memory").and_then(Extern::into_memory) {
                    Some(m) => m,
                    None => return INVALID_MEMORY,
                };
                let ($mem, $st): (Mem, &mut HostState) = memory.data_and_store_mut(&mut caller);
                #[allow(unused_variables)]
                let _ = (&$mem, &$st);
                $body
            })
            .expect("host call defined once");
    }};
}

macro_rules! wasi {
    ($linker:ident, $name:literal, |$mem:ident, $st:ident $(, $arg:ident : $ty:ty)*| $body:block) => {{
        $linker
            .func_wrap(WASI_MODULE, $name, move |mut caller: Caller<'_, HostState>, $($arg: $ty),*| -> Result<i32, wasmi::Error> {
                let memory = match caller.get_export("memory").and_then(Extern::into_memory) {
                    Some(m) => m,
                    None => return Ok(ERRNO_FAULT),
                };
                let ($mem, $st): (Mem, &mut HostState) = memory.data_and_store_mut(&mut caller);
                #[allow(unused_variables)]
                let _ = (&$mem, &$st);
                $body
            })
            .expect("WASI function defined once");
    }};
}

const ERRNO_SUCCESS: i32 = 0;
const ERRNO_BADF: i32 = 8;
const ERRNO_FAULT: i32 = 21;
const ERRNO_INVAL: i32 = 28;
const ERRNO_IO: i32 = 29;
const ERRNO_SPIPE: i32 = 70;

fn define_wasi(linker: &mut Linker<HostState>) {
    wasi!(linker, "fd_write", |mem, st, fd: i32, iovs: i32, iovs_len: i32, nwritten: i32| {
        if fd != 1 && fd != 2 {
            return Ok(ERRNO_BADF);
        }
        let Some(list) = range(mem, iovs, (iovs_len as u32).saturating_mul(8) as i32) else { return Ok(ERRNO_FAULT) };
        let list = mem[list].to_vec();
        let mut total = 0u32;
        let mut bytes = Vec::new();
        for iov in list.chunks(8) {
            let ptr = i32::from_le_bytes(iov[..4].try_into().unwrap());
            let len = i32::from_le_bytes(iov[4..].try_into().unwrap());
            let Some(r) = range(mem, ptr, len) else { return Ok(ERRNO_FAULT) };
            bytes.extend_from_slice(&mem[r]);
            total = total.wrapping_add(len as u32);
        }
        if range(mem, nwritten, 4).is_none() {
            return Ok(ERRNO_FAULT);
        }
        st.write_output((fd - 1) as usize, &bytes);
        write_u32(mem, nwritten, total);
        Ok(ERRNO_SUCCESS)
    });
    wasi!(linker, "fd_close", |mem, st, fd: i32| { Ok(if (0..=2).contains(&fd) { ERRNO_SUCCESS } else { ERRNO_BADF }) });
    wasi!(linker, "fd_seek", |mem, st, fd: i32, _offset: i64, _whence: i32, _newoffset: i32| {
        Ok(if (0..=2).contains(&fd) { ERRNO_SPIPE } else { ERRNO_BADF })
    });
    wasi!(linker, "fd_fdstat_get", |mem, st, fd: i32, buf: i32| {
        if !(0..=2).contains(&fd) {
            return Ok(ERRNO_BADF);
        }
        let Some(r) = range(mem, buf, 24) else { return Ok(ERRNO_FAULT) };
        let b = &mut mem[r];
        b.fill(0);
        b[0] = 2; // character device
        b[8..16].copy_from_slice(&(if fd == 0 { 0x2u64 } else { 0x40u64 }).to_le_bytes()); // read / write
        Ok(ERRNO_SUCCESS)
    });
    wasi!(linker, "fd_fdstat_set_flags", |mem, st, fd: i32, _flags: i32| {
        Ok(if (0..=2).contains(&fd) { ERRNO_SUCCESS } else { ERRNO_BADF })
    });
    wasi!(linker, "fd_prestat_get", |mem, st, _fd: i32, _buf: i32| { Ok(ERRNO_BADF) });
    wasi!(linker, "fd_prestat_dir_name", |mem, st, _fd: i32, _path: i32, _len: i32| { Ok(ERRNO_BADF) });
    linker
        .func_wrap(WASI_MODULE, "proc_exit", |_: Caller<'_, HostState>, code: i32| -> Result<(), wasmi::Error> {
            Err(wasmi::Error::i32_exit(code))
        })
        .expect("WASI function defined once");
    wasi!(linker, "clock_time_get", |mem, st, id: i32, _precision: i64, out: i32| {
        if !(0..=3).contains(&id) {
            return Ok(ERRNO_INVAL);
        }
        let Some(r) = range(mem, out, 8) else { return Ok(ERRNO_FAULT) };
        let ns = std::time::SystemTime::now()
            .duration_since(std::time::UNIX_EPOCH)
            .map(|d| d.as_nanos() as u64)
            .unwrap_or(0);
        mem[r].copy_from_slice(&ns.to_le_bytes());
        Ok(ERRNO_SUCCESS)
    });
    wasi!(linker, "clock_res_get", |mem, st, id: i32, out: i32| {
        if !(0..=3).contains(&id) {
            return Ok(ERRNO_INVAL);
        }
        let Some(r) = range(mem, out, 8) else { return Ok(ERRNO_FAULT) };
        mem[r].copy_from_slice(&1000u64.to_le_bytes());
        Ok(ERRNO_SUCCESS)
    });
    wasi!(linker, "random_get", |mem, st, buf: i32, len: i32| {
        let Some(r) = range(mem, buf, len) else { return Ok(ERRNO_FAULT) };
        Ok(if getrandom::getrandom(&mut mem[r]).is_ok() { ERRNO_SUCCESS } else { ERRNO_IO })
    });
    for name in ["environ_sizes_get", "args_sizes_get"] {
        linker
            .func_wrap(WASI_MODULE, name, |mut caller: Caller<'_, HostState>, count: i32, size: i32| -> i32 {
                let Some(memory) = caller.get_export("memory").and_then(Extern::into_memory) else { return ERRNO_FAULT };
                let mem = memory.data_mut(&mut caller);
                if range(mem, count, 4).is_none() || range(mem, size, 4).is_none() {
                    return ERRNO_FAULT;
                }
                write_u32(mem, count, 0);
                write_u32(mem, size, 0);
                ERRNO_SUCCESS
            })
            .expect("WASI function defined once");
    }
    for name in ["environ_get", "args_get"] {
        linker
            .func_wrap(WASI_MODULE, name, |_: Caller<'_, HostState>, _a: i32, _b: i32| -> i32 { ERRNO_SUCCESS })
            .expect("WASI function defined once");
    }
    linker
        .func_wrap(WASI_MODULE, "sched_yield", |_: Caller<'_, HostState>| -> i32 { ERRNO_SUCCESS })
        .expect("WASI function defined once");
}

fn define_host_calls(linker: &mut Linker<HostState>) {
    // ---- http
    host!(linker, "request_get", |mem, st, field: i32, out: i32, cap: i32, out_len: i32| {
        let value: Vec<u8> = match field {
            0 => st.req.method.as_bytes().to_vec(),
            1 => st.req.path.as_bytes().to_vec(),
            2 => st.req.query.as_bytes().to_vec(),
            3 => st.req.body.clone(),
            4 => st.req.remote_addr.as_bytes().to_vec(),
            5 => st.ext.mount.as_bytes().to_vec(),
            6 => (if st.req.secure { "https" } else { "http" }).as_bytes().to_vec(),
            _ => {
                return if out_valid(mem, out, cap, out_len) { INVALID_ARGUMENT } else { INVALID_MEMORY };
            }
        };
        write_out(mem, out, cap, out_len, &value)
    });
    host!(linker, "request_header", |mem, st, name: i32, name_len: i32, out: i32, cap: i32, out_len: i32| {
        let Some(name) = view(mem, name, name_len) else { return INVALID_MEMORY };
        if !out_valid(mem, out, cap, out_len) {
            return INVALID_MEMORY;
        }
        let mut joined: Option<Vec<u8>> = None;
        for (k, v) in &st.req.headers {
            if k.as_bytes().eq_ignore_ascii_case(&name) {
                match &mut joined {
                    Some(j) => {
                        j.extend_from_slice(b", ");
                        j.extend_from_slice(v);
                    }
                    None => joined = Some(v.clone()),
                }
            }
        }
        match joined {
            None => NOT_FOUND,
            Some(j) => write_out(mem, out, cap, out_len, &j),
        }
    });
    host!(linker, "request_param", |mem, st, source: i32, name: i32, name_len: i32, out: i32, cap: i32, out_len: i32| {
        let Some(name) = view(mem, name, name_len) else { return INVALID_MEMORY };
        if !out_valid(mem, out, cap, out_len) {
            return INVALID_MEMORY;
        }
        if source != 0 && source != 1 {
            return INVALID_ARGUMENT;
        }
        let Some(params) = st.params(source) else { return INVALID_ARGUMENT };
        match params.find(&name) {
            Lookup::NotFound => NOT_FOUND,
            Lookup::Duplicate => DUPLICATE,
            Lookup::Value(v) => {
                let v = v.as_bytes().to_vec();
                write_out(mem, out, cap, out_len, &v)
            }
        }
    });
    host!(linker, "response_set_status", |mem, st, status: i32| {
        if !(200..=599).contains(&status) {
            return INVALID_ARGUMENT;
        }
        st.resp.status = status as u16;
        OK
    });
    host!(linker, "response_add_header", |mem, st, name: i32, name_len: i32, value: i32, value_len: i32| {
        let (Some(name), Some(value)) = (view(mem, name, name_len), view(mem, value, value_len)) else {
            return INVALID_MEMORY;
        };
        if !valid_header_name(&name) || !valid_header_text(&value) {
            return INVALID_ARGUMENT;
        }
        if st.resp.headers.len() >= MAX_RESPONSE_HEADERS || st.response_bytes + name.len() + value.len() > MAX_RESPONSE_BYTES {
            return LIMIT_EXCEEDED;
        }
        st.response_bytes += name.len() + value.len();
        st.resp.headers.push((String::from_utf8(name).unwrap(), value));
        OK
    });
    host!(linker, "response_write", |mem, st, data: i32, len: i32| {
        let Some(r) = range(mem, data, len) else { return INVALID_MEMORY };
        if st.response_bytes + r.len() > MAX_RESPONSE_BYTES {
            return LIMIT_EXCEEDED;
        }
        st.response_bytes += r.len();
        st.resp.body.extend_from_slice(&mem[r]);
        OK
    });
    host!(linker, "response_redirect", |mem, st, status: i32, url: i32, url_len: i32| {
        let Some(url) = view(mem, url, url_len) else { return INVALID_MEMORY };
        if ![301, 302, 303, 307, 308].contains(&status) || url.is_empty() || !valid_header_text(&url) {
            return INVALID_ARGUMENT;
        }
        if st.response_bytes + url.len() > MAX_RESPONSE_BYTES {
            return LIMIT_EXCEEDED;
        }
        st.response_bytes += url.len();
        st.resp.status = status as u16;
        st.resp.headers.retain(|(k, _)| !k.eq_ignore_ascii_case("location"));
        st.resp.headers.push(("Location".into(), url));
        OK
    });

    // ---- kv (namespace: the extension's name)
    host!(linker, "kv_get", |mem, st, key: i32, key_len: i32, out: i32, cap: i32, out_len: i32| {
        let Some(key) = view(mem, key, key_len) else { return INVALID_MEMORY };
        if !out_valid(mem, out, cap, out_len) {
            return INVALID_MEMORY;
        }
        if key.len() > MAX_KEY_BYTES {
            return LIMIT_EXCEEDED;
        }
        let ns = st.ext.name;
        match st.services.kv().get(ns, &key) {
            Ok(Some(v)) => write_out(mem, out, cap, out_len, &v),
            Ok(None) => NOT_FOUND,
            Err(e) => {
                st.log_unavailable("kv_get", &e);
                UNAVAILABLE
            }
        }
    });
    host!(linker, "kv_put", |mem, st, key: i32, key_len: i32, value: i32, value_len: i32, ttl_ms: i64| {
        let (Some(key), Some(value)) = (view(mem, key, key_len), view(mem, value, value_len)) else {
            return INVALID_MEMORY;
        };
        if key.len() > MAX_KEY_BYTES || value.len() > MAX_VALUE_BYTES {
            return LIMIT_EXCEEDED;
        }
        let ns = st.ext.name;
        match st.services.kv().put(ns, &key, &value, ttl_ms) {
            Ok(()) => OK,
            Err(e) => {
                st.log_unavailable("kv_put", &e);
                UNAVAILABLE
            }
        }
    });
    host!(linker, "kv_delete", |mem, st, key: i32, key_len: i32| {
        let Some(key) = view(mem, key, key_len) else { return INVALID_MEMORY };
        if key.len() > MAX_KEY_BYTES {
            return OK;
        }
        let ns = st.ext.name;
        match st.services.kv().remove(ns, &key) {
            Ok(()) => OK,
            Err(e) => {
                st.log_unavailable("kv_delete", &e);
                UNAVAILABLE
            }
        }
    });
    host!(linker, "kv_take", |mem, st, key: i32, key_len: i32, out: i32, cap: i32, out_len: i32| {
        let Some(key) = view(mem, key, key_len) else { return INVALID_MEMORY };
        if !out_valid(mem, out, cap, out_len) {
            return INVALID_MEMORY;
        }
        if key.len() > MAX_KEY_BYTES {
            return NOT_FOUND;
        }
        if let Some(held) = st.held_takes.get(&key) {
            let r = write_out(mem, out, cap, out_len, held);
            if r == OK {
                st.held_takes.remove(&key);
            }
            return r;
        }
        let ns = st.ext.name;
        match st.services.kv().take(ns, &key) {
            Ok(Some(v)) => {
                let r = write_out(mem, out, cap, out_len, &v);
                if r == BUFFER_TOO_SMALL {
                    st.held_takes.insert(key, v);
                }
                r
            }
            Ok(None) => NOT_FOUND,
            Err(e) => {
                st.log_unavailable("kv_take", &e);
                UNAVAILABLE
            }
        }
    });
    host!(linker, "kv_compare_and_set", |mem, st, key: i32, key_len: i32, has_expected: i32, expected: i32, expected_len: i32, value: i32, value_len: i32, ttl_ms: i64| {
        let key = view(mem, key, key_len);
        let expected = if has_expected != 0 { view(mem, expected, expected_len).map(Some) } else { Some(None) };
        let value = view(mem, value, value_len);
        let (Some(key), Some(expected), Some(value)) = (key, expected, value) else { return INVALID_MEMORY };
        if key.len() > MAX_KEY_BYTES || value.len() > MAX_VALUE_BYTES {
            return LIMIT_EXCEEDED;
        }
        let ns = st.ext.name;
        match st.services.kv().compare_and_set(ns, &key, expected.as_deref(), &value, ttl_ms) {
            Ok(true) => OK,
            Ok(false) => CONFLICT,
            Err(e) => {
                st.log_unavailable("kv_compare_and_set", &e);
                UNAVAILABLE
            }
        }
    });

    // ---- crypto
    host!(linker, "crypto_random", |mem, st, out: i32, len: i32| {
        let Some(r) = range(mem, out, len) else { return INVALID_MEMORY };
        if r.len() > MAX_RANDOM_BYTES {
            return LIMIT_EXCEEDED;
        }
        if getrandom::getrandom(&mut mem[r]).is_err() { UNAVAILABLE } else { OK }
    });
    host!(linker, "crypto_sha256", |mem, st, data: i32, len: i32, out: i32| {
        let Some(data) = range(mem, data, len) else { return INVALID_MEMORY };
        let Some(o) = range(mem, out, 32) else { return INVALID_MEMORY };
        let digest = records::sha256(&mem[data]);
        mem[o].copy_from_slice(&digest);
        OK
    });
    host!(linker, "crypto_hmac_sha256", |mem, st, key: i32, key_len: i32, data: i32, data_len: i32, out: i32| {
        use hmac::Mac;
        let (Some(k), Some(d), Some(o)) = (range(mem, key, key_len), range(mem, data, data_len), range(mem, out, 32)) else {
            return INVALID_MEMORY;
        };
        let mut mac = hmac::Hmac::<sha2::Sha256>::new_from_slice(&mem[k]).expect("HMAC takes any key");
        mac.update(&mem[d]);
        let tag = mac.finalize().into_bytes();
        mem[o].copy_from_slice(&tag);
        OK
    });
    host!(linker, "crypto_equal", |mem, st, a: i32, a_len: i32, b: i32, b_len: i32| {
        use subtle::ConstantTimeEq;
        let (Some(a), Some(b)) = (range(mem, a, a_len), range(mem, b, b_len)) else { return INVALID_MEMORY };
        if bool::from(mem[a].ct_eq(&mem[b])) { OK } else { MISMATCH }
    });
    host!(linker, "crypto_jws_verify_jwk", |mem, st, jws: i32, jws_len: i32, jwk: i32, jwk_len: i32, out: i32, cap: i32, out_len: i32| {
        let (Some(jws), Some(jwk)) = (view(mem, jws, jws_len), view(mem, jwk, jwk_len)) else { return INVALID_MEMORY };
        if !out_valid(mem, out, cap, out_len) {
            return INVALID_MEMORY;
        }
        match crate::jwk::verify_jws_with_jwk(&jws, &jwk) {
            Ok(payload) => write_out(mem, out, cap, out_len, &payload),
            Err(crate::jwk::JwkError::Invalid) => INVALID_ARGUMENT,
            Err(crate::jwk::JwkError::Denied) => MISMATCH,
        }
    });
    host!(linker, "crypto_jwk_thumbprint", |mem, st, jwk: i32, jwk_len: i32, out: i32, cap: i32, out_len: i32| {
        let Some(jwk) = view(mem, jwk, jwk_len) else { return INVALID_MEMORY };
        if !out_valid(mem, out, cap, out_len) {
            return INVALID_MEMORY;
        }
        match crate::jwk::thumbprint(&jwk) {
            Ok(t) => write_out(mem, out, cap, out_len, t.as_bytes()),
            Err(_) => INVALID_ARGUMENT,
        }
    });

    // ---- keys
    host!(linker, "jws_sign", |mem, st, header: i32, header_len: i32, payload: i32, payload_len: i32, out: i32, cap: i32, out_len: i32| {
        let (Some(header), Some(payload)) = (view(mem, header, header_len), view(mem, payload, payload_len)) else {
            return INVALID_MEMORY;
        };
        if !out_valid(mem, out, cap, out_len) {
            return INVALID_MEMORY;
        }
        let signed = match st.services.keys() {
            Ok(keys) => keys.sign(&header, &payload),
            Err(e) => Err(SignError::Unavailable(e.to_string())),
        };
        match signed {
            Ok(jws) => write_out(mem, out, cap, out_len, jws.as_bytes()),
            Err(SignError::InvalidArgument) => INVALID_ARGUMENT,
            Err(SignError::Unavailable(e)) => {
                st.log_unavailable("jws_sign", &e);
                UNAVAILABLE
            }
        }
    });
    host!(linker, "jws_verify", |mem, st, jws: i32, jws_len: i32, out: i32, cap: i32, out_len: i32| {
        let Some(jws) = view(mem, jws, jws_len) else { return INVALID_MEMORY };
        if !out_valid(mem, out, cap, out_len) {
            return INVALID_MEMORY;
        }
        let verified = match st.services.keys() {
            Ok(keys) => Ok(keys.verify(&jws, now_ms())),
            Err(e) => Err(e.to_string()),
        };
        match verified {
            Ok(Some(payload)) => write_out(mem, out, cap, out_len, &payload),
            Ok(None) => MISMATCH,
            Err(e) => {
                st.log_unavailable("jws_verify", &e);
                UNAVAILABLE
            }
        }
    });
    host!(linker, "jwks_get", |mem, st, out: i32, cap: i32, out_len: i32| {
        if !out_valid(mem, out, cap, out_len) {
            return INVALID_MEMORY;
        }
        let jwks = match st.services.keys() {
            Ok(keys) => Ok(keys.jwks().to_string()),
            Err(e) => Err(e.to_string()),
        };
        match jwks {
            Ok(j) => write_out(mem, out, cap, out_len, j.as_bytes()),
            Err(e) => {
                st.log_unavailable("jwks_get", &e);
                UNAVAILABLE
            }
        }
    });

    // ---- clock, log, settings
    host!(linker, "clock_now_ms", |mem, st, out: i32| {
        let Some(r) = range(mem, out, 8) else { return INVALID_MEMORY };
        mem[r].copy_from_slice(&now_ms().to_le_bytes());
        OK
    });
    host!(linker, "log", |mem, st, level: i32, msg: i32, len: i32| {
        let Some(msg) = range(mem, msg, len) else { return INVALID_MEMORY };
        let level = match level {
            0 => "debug",
            1 => "info",
            2 => "warn",
            3 => "error",
            _ => return INVALID_ARGUMENT,
        };
        let text = &mem[msg.start..msg.start + msg.len().min(MAX_LOG_LINE_BYTES)];
        eprintln!("[{}] {level}: {}", st.ext.name, log_safe(text));
        OK
    });
    host!(linker, "setting_get", |mem, st, name: i32, name_len: i32, out: i32, cap: i32, out_len: i32| {
        let Some(name) = view(mem, name, name_len) else { return INVALID_MEMORY };
        if !out_valid(mem, out, cap, out_len) {
            return INVALID_MEMORY;
        }
        let ext = st.ext.name;
        match st.services.setting(ext, &name) {
            Some(v) => write_out(mem, out, cap, out_len, v.as_bytes()),
            None => NOT_FOUND,
        }
    });

    // ---- sessions, login (design 0001)
    host!(linker, "session_get", |mem, st, out: i32, cap: i32, out_len: i32| {
        if !out_valid(mem, out, cap, out_len) {
            return INVALID_MEMORY;
        }
        let headers = std::mem::take(&mut st.req.headers);
        let found = records::session_get(st.services.sessions(), &headers);
        st.req.headers = headers;
        let session = match found {
            Ok(Some(s)) => s,
            Ok(None) => return NOT_FOUND,
            Err(e) => {
                st.log_unavailable("session_get", &e);
                return UNAVAILABLE;
            }
        };
        let sub = session["sub"].as_str().unwrap_or_default().to_string();
        match records::user_exists(st.services.records(), sub.as_bytes()) {
            Ok(true) => {}
            Ok(false) => return NOT_FOUND,
            Err(e) => {
                st.log_unavailable("session_get", &e);
                return UNAVAILABLE;
            }
        }
        let json = serde_json::Value::Object(session).to_string();
        write_out(mem, out, cap, out_len, json.as_bytes())
    });
    host!(linker, "session_require_login", |mem, st, return_to: i32, return_to_len: i32, hint: i32, hint_len: i32| {
        let (Some(return_to), Some(hint)) = (view(mem, return_to, return_to_len), view(mem, hint, hint_len)) else {
            return INVALID_MEMORY;
        };
        let headers = std::mem::take(&mut st.req.headers);
        let secure = st.req.secure;
        let begun = records::begin_login(st.services.sessions(), &return_to, &hint, &headers, secure);
        st.req.headers = headers;
        match begun {
            Ok((rt, cookie)) => {
                st.host_redirect(format!("/login?rt={rt}"));
                st.host_header("Set-Cookie", cookie);
                OK
            }
            Err(records::BeginError::Invalid) => INVALID_ARGUMENT,
            Err(records::BeginError::Store(e)) => {
                st.log_unavailable("session_require_login", &e);
                UNAVAILABLE
            }
        }
    });
    host!(linker, "session_end", |mem, st| {
        let headers = std::mem::take(&mut st.req.headers);
        let ended = records::session_end(st.services.sessions(), &headers);
        st.req.headers = headers;
        match ended {
            Ok(()) => {
                let cookie = records::clear_session_cookie(st.req.secure);
                st.host_header("Set-Cookie", cookie);
                OK
            }
            Err(e) => {
                st.log_unavailable("session_end", &e);
                UNAVAILABLE
            }
        }
    });
    host!(linker, "login_attempt_get", |mem, st, rt: i32, rt_len: i32, out: i32, cap: i32, out_len: i32| {
        let Some(rt) = view(mem, rt, rt_len) else { return INVALID_MEMORY };
        if !out_valid(mem, out, cap, out_len) {
            return INVALID_MEMORY;
        }
        let headers = std::mem::take(&mut st.req.headers);
        let found = records::find_attempt(st.services.sessions(), &rt, &headers);
        st.req.headers = headers;
        match found {
            Ok(Some((_, hint))) => {
                let json = serde_json::json!({ "login_hint": hint }).to_string();
                write_out(mem, out, cap, out_len, json.as_bytes())
            }
            Ok(None) => NOT_FOUND,
            Err(e) => {
                st.log_unavailable("login_attempt_get", &e);
                UNAVAILABLE
            }
        }
    });
    host!(linker, "login_complete", |mem, st, rt: i32, rt_len: i32, subject: i32, subject_len: i32, amr: i32, amr_len: i32| {
        let (Some(rt), Some(subject), Some(amr)) = (view(mem, rt, rt_len), view(mem, subject, subject_len), view(mem, amr, amr_len)) else {
            return INVALID_MEMORY;
        };
        let Some(amr) = records::parse_amr(&amr) else { return INVALID_ARGUMENT };
        let headers = std::mem::take(&mut st.req.headers);
        let result = login_complete(st, &rt, &subject, amr, &headers);
        st.req.headers = headers;
        match result {
            Ok(code) => code,
            Err(e) => {
                st.log_unavailable("login_complete", &e);
                UNAVAILABLE
            }
        }
    });

    // ---- users, clients
    host!(linker, "user_get", |mem, st, subject: i32, subject_len: i32, out: i32, cap: i32, out_len: i32| {
        let Some(subject) = view(mem, subject, subject_len) else { return INVALID_MEMORY };
        if !out_valid(mem, out, cap, out_len) {
            return INVALID_MEMORY;
        }
        match records::user_claims(st.services.records(), &subject) {
            Ok(Some(claims)) => write_out(mem, out, cap, out_len, claims.as_bytes()),
            Ok(None) => NOT_FOUND,
            Err(e) => {
                st.log_unavailable("user_get", &e);
                UNAVAILABLE
            }
        }
    });
    host!(linker, "user_verify_password", |mem, st, email: i32, email_len: i32, password: i32, password_len: i32, out: i32, cap: i32, out_len: i32| {
        let (Some(email), Some(password)) = (view(mem, email, email_len), view(mem, password, password_len)) else {
            return INVALID_MEMORY;
        };
        if !out_valid(mem, out, cap, out_len) {
            return INVALID_MEMORY;
        }
        match records::verify_password(st.services.records(), &email, &password) {
            Ok(Some(sub)) => write_out(mem, out, cap, out_len, sub.as_bytes()),
            Ok(None) => MISMATCH,
            Err(e) => {
                st.log_unavailable("user_verify_password", &e);
                UNAVAILABLE
            }
        }
    });
    host!(linker, "user_find", |mem, st, kind: i32, value: i32, value_len: i32, out: i32, cap: i32, out_len: i32| {
        let Some(value) = view(mem, value, value_len) else { return INVALID_MEMORY };
        if !out_valid(mem, out, cap, out_len) {
            return INVALID_MEMORY;
        }
        let by_phone = match kind {
            0 if records::normalize_email(&value).is_some() => false,
            1 if records::is_e164(&value) => true,
            _ => return INVALID_ARGUMENT,
        };
        match records::find_user(st.services.records(), by_phone, &value) {
            Ok(Some(sub)) => write_out(mem, out, cap, out_len, sub.as_bytes()),
            Ok(None) => NOT_FOUND,
            Err(e) => {
                st.log_unavailable("user_find", &e);
                UNAVAILABLE
            }
        }
    });
    host!(linker, "client_get", |mem, st, id: i32, id_len: i32, out: i32, cap: i32, out_len: i32| {
        let Some(id) = view(mem, id, id_len) else { return INVALID_MEMORY };
        if !out_valid(mem, out, cap, out_len) {
            return INVALID_MEMORY;
        }
        match records::client_json(st.services.records(), &id) {
            Ok(Some(json)) => write_out(mem, out, cap, out_len, json.as_bytes()),
            Ok(None) => NOT_FOUND,
            Err(e) => {
                // The server reads a snapshot (never unavailable); here a store
                // failure reads as an unknown client, logged.
                st.log_unavailable("client_get", &e);
                NOT_FOUND
            }
        }
    });
    host!(linker, "client_authenticate", |mem, st, id: i32, id_len: i32, secret: i32, secret_len: i32| {
        let (Some(id), Some(secret)) = (view(mem, id, id_len), view(mem, secret, secret_len)) else {
            return INVALID_MEMORY;
        };
        match records::client_authenticate(st.services.records(), &id, &secret) {
            Ok(true) => OK,
            Ok(false) => MISMATCH,
            Err(e) => {
                st.log_unavailable("client_authenticate", &e);
                MISMATCH
            }
        }
    });

    // ---- design 0002 facilities the edge has no backing for: UNAVAILABLE
    // (after the same memory checks as the server's).
    host!(linker, "user_create", |mem, st, json: i32, json_len: i32, out: i32, cap: i32, out_len: i32| {
        if range(mem, json, json_len).is_none() || !out_valid(mem, out, cap, out_len) {
            return INVALID_MEMORY;
        }
        UNAVAILABLE
    });
    host!(linker, "event_publish", |mem, st, topic: i32, topic_len: i32, payload: i32, payload_len: i32| {
        if range(mem, topic, topic_len).is_none() || range(mem, payload, payload_len).is_none() {
            return INVALID_MEMORY;
        }
        UNAVAILABLE
    });
    host!(linker, "event_get", |mem, st, _field: i32, out: i32, cap: i32, out_len: i32| {
        if !out_valid(mem, out, cap, out_len) {
            return INVALID_MEMORY;
        }
        NOT_FOUND // never inside habanero_on_event at the edge
    });
    host!(linker, "mail_send", |mem, st, json: i32, json_len: i32| {
        if range(mem, json, json_len).is_none() {
            return INVALID_MEMORY;
        }
        UNAVAILABLE
    });
    host!(linker, "sms_send", |mem, st, json: i32, json_len: i32| {
        if range(mem, json, json_len).is_none() {
            return INVALID_MEMORY;
        }
        UNAVAILABLE
    });
    host!(linker, "http_fetch", |mem, st, request: i32, request_len: i32, out: i32, cap: i32, out_len: i32| {
        if range(mem, request, request_len).is_none() || !out_valid(mem, out, cap, out_len) {
            return INVALID_MEMORY;
        }
        UNAVAILABLE
    });
}

// login_complete's checks, in the server's order (host_calls.cc).
fn login_complete(
    st: &mut HostState,
    rt: &[u8],
    subject: &[u8],
    amr: Vec<String>,
    headers: &[(String, Vec<u8>)],
) -> Result<i32, String> {
    if records::find_attempt(st.services.sessions(), rt, headers)?.is_none() {
        return Ok(NOT_FOUND);
    }
    if !records::user_exists(st.services.records(), subject)? {
        return Ok(NOT_FOUND);
    }
    let Some((return_to, _)) = records::take_attempt(st.services.sessions(), rt, headers)? else {
        return Ok(NOT_FOUND);
    };
    if let Err(e) = records::session_end(st.services.sessions(), headers) {
        st.log_unavailable("login_complete: ending the previous session", &e);
    }
    let subject = String::from_utf8_lossy(subject).into_owned();
    let cookie = records::session_start(st.services.sessions(), &subject, amr)?;
    st.host_redirect(return_to);
    let set_cookie = records::session_cookie(&cookie, st.req.secure);
    st.host_header("Set-Cookie", set_cookie);
    Ok(OK)
}

// ---- running a request --------------------------------------------------------

pub enum Outcome {
    Returned(ResponseData),
    Failed(String),
    OutOfFuel,
}

fn new_engine() -> Engine {
    let mut config = wasmi::Config::default();
    config
        .consume_fuel(true)
        .compilation_mode(wasmi::CompilationMode::Lazy)
        .set_max_stack_height(MAX_WASM_STACK / 8);
    Engine::new(&config)
}

fn is_out_of_fuel(e: &wasmi::Error) -> bool {
    use wasmi::errors::ErrorKind;
    matches!(e.as_trap_code(), Some(wasmi::TrapCode::OutOfFuel))
        || matches!(e.kind(), ErrorKind::ResumableOutOfFuel(_) | ErrorKind::Fuel(_))
}

/// Runs `habanero_on_request` of `ext` in a fresh instance.
pub fn run(ext: &'static ExtensionSpec, req: RequestData) -> (Outcome, u64) {
    let mut fuel_used = 0;
    let outcome = run_inner(ext, req, &mut fuel_used);
    (outcome, fuel_used)
}

fn run_inner(ext: &'static ExtensionSpec, req: RequestData, fuel_used: &mut u64) -> Outcome {
    let engine = new_engine();
    // The module was checked when the package was built; here it is compiled
    // lazily, function by function, as the request reaches it.
    let module = match Module::new(&engine, ext.wasm) {
        Ok(m) => m,
        Err(e) => return Outcome::Failed(format!("compilation failed: {e}")),
    };
    let state = HostState {
        ext,
        req,
        resp: ResponseData { status: 200, ..Default::default() },
        services: Services::default(),
        response_bytes: 0,
        query: None,
        form: None,
        held_takes: HashMap::new(),
        limits: StoreLimitsBuilder::new()
            .memory_size(ext.memory_bytes as usize)
            .table_elements(ext.table_elements as usize)
            .instances(1)
            .tables(1)
            .memories(1)
            .build(),
        out: [Vec::new(), Vec::new()],
    };
    let mut store = Store::new(&engine, state);
    store.limiter(|st| &mut st.limits);
    if let Err(e) = store.set_fuel(ext.fuel) {
        return Outcome::Failed(format!("fuel: {e}"));
    }
    let mut linker = Linker::<HostState>::new(&engine);
    define_wasi(&mut linker);
    define_host_calls(&mut linker);

    let failure = |store: &mut Store<HostState>, e: wasmi::Error, stage: &str| {
        store.data_mut().flush_output();
        if is_out_of_fuel(&e) {
            return Outcome::OutOfFuel;
        }
        if let Some(code) = e.i32_exit_status() {
            return Outcome::Failed(format!("exited with status {code} in {stage}"));
        }
        Outcome::Failed(format!("trap in {stage}: {e}"))
    };
    let instance = match linker.instantiate_and_start(&mut store, &module) {
        Ok(i) => i,
        Err(e) => return failure(&mut store, e, "instantiation"),
    };
    if let Some(init) = instance.get_func(&store, "_initialize") {
        if let Ok(f) = init.typed::<(), ()>(&store) {
            if let Err(e) = f.call(&mut store, ()) {
                return failure(&mut store, e, "_initialize");
            }
        }
    }
    let entry = match instance.get_typed_func::<(), i32>(&store, "habanero_on_request") {
        Ok(f) => f,
        Err(_) => return Outcome::Failed("habanero_on_request vanished".into()),
    };
    let result = entry.call(&mut store, ());
    *fuel_used = ext.fuel - store.get_fuel().unwrap_or(0);
    match result {
        Ok(0) => {
            store.data_mut().flush_output();
            Outcome::Returned(std::mem::take(&mut store.data_mut().resp))
        }
        Ok(n) => {
            store.data_mut().flush_output();
            Outcome::Failed(format!("habanero_on_request returned {n}"))
        }
        Err(e) => failure(&mut store, e, "habanero_on_request"),
    }
}

