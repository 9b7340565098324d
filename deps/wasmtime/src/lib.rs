//! Re-exports the Wasmtime C API so that its `#[no_mangle]` symbols end up in
//! `libhabanero_wasmtime.a`. Nothing else lives here.
pub use wasmtime_c_api::*;
