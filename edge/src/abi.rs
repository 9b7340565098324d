// Habanero extension ABI v1 as the edge host sees it: the result codes, the
// capability table and the WASI functions a module may import. It mirrors
// src/runtime/capabilities.cc and sdk/c/habanero.h (the native host's single
// sources of truth); build.rs includes this file too, so the load-time checks
// made when the package is built and the host calls linked at run time use
// one table.

/// The ABI version the edge speaks (export `habanero_abi_v1`, manifest `abi = 1`).
pub const ABI_VERSION: i64 = 1;

pub const HOST_MODULE: &str = "habanero";
pub const WASI_MODULE: &str = "wasi_snapshot_preview1";

pub const OK: i32 = 0;
pub const NOT_FOUND: i32 = 1;
pub const INVALID_MEMORY: i32 = 2;
pub const BUFFER_TOO_SMALL: i32 = 3;
pub const INVALID_ARGUMENT: i32 = 4;
pub const DUPLICATE: i32 = 5;
pub const CONFLICT: i32 = 6;
pub const MISMATCH: i32 = 7;
pub const LIMIT_EXCEEDED: i32 = 8;
pub const UNAVAILABLE: i32 = 9;
pub const DENIED: i32 = 11;

/// Capability name and the host functions it unlocks (capabilities.cc).
pub const CAPABILITIES: &[(&str, &[&str])] = &[
    ("http", &["request_get", "request_header", "request_param", "response_set_status",
               "response_add_header", "response_write", "response_redirect"]),
    ("kv", &["kv_get", "kv_put", "kv_delete", "kv_take", "kv_compare_and_set"]),
    ("crypto", &["crypto_random", "crypto_sha256", "crypto_hmac_sha256", "crypto_equal",
                 "crypto_jws_verify_jwk", "crypto_jwk_thumbprint"]),
    ("keys", &["jws_sign", "jws_verify", "jwks_get"]),
    ("clock", &["clock_now_ms"]),
    ("log", &["log"]),
    ("settings", &["setting_get"]),
    ("sessions", &["session_get", "session_require_login", "session_end"]),
    ("login", &["login_attempt_get", "login_complete"]),
    ("users", &["user_get", "user_verify_password", "user_find"]),
    ("clients", &["client_get", "client_authenticate"]),
    ("signup", &["user_create"]),
    ("events", &["event_publish", "event_get"]),
    ("mail", &["mail_send"]),
    ("sms", &["sms_send"]),
    ("fetch", &["http_fetch"]),
];

/// What wasi-libc's reactor start-up, printf and friends may import.
pub const WASI_FUNCTIONS: &[&str] = &[
    "fd_write", "fd_close", "fd_seek", "fd_fdstat_get", "fd_prestat_get", "fd_prestat_dir_name",
    "proc_exit", "clock_time_get", "clock_res_get", "random_get", "environ_get",
    "environ_sizes_get", "args_get", "args_sizes_get", "sched_yield", "fd_fdstat_set_flags",
];

/// The capability a host function belongs to, if any.
pub fn capability_of(function: &str) -> Option<&'static str> {
    CAPABILITIES
        .iter()
        .find(|(_, fns)| fns.contains(&function))
        .map(|(name, _)| *name)
}

pub fn is_known_capability(name: &str) -> bool {
    CAPABILITIES.iter().any(|(n, _)| *n == name)
}

/// One bit per capability, in table order (as capabilityBit() numbers them).
pub fn capability_bit(name: &str) -> u32 {
    CAPABILITIES
        .iter()
        .position(|(n, _)| *n == name)
        .map(|i| 1u32 << i)
        .unwrap_or(0)
}

pub fn is_valid_topic(topic: &str) -> bool {
    !topic.is_empty()
        && topic.len() <= 128
        && topic
            .bytes()
            .all(|c| c.is_ascii_lowercase() || c.is_ascii_digit() || matches!(c, b'_' | b'.' | b'-'))
}
