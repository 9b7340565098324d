//! Exposes the C/C++ headers that `wasmtime-c-api-impl`'s own build script
//! generates (it prints them as `DEP_WASMTIME_C_API_INCLUDE`).
//!
//! When `HABANERO_WASMTIME_STAGE` is set (scripts/build-wasmtime.sh sets it to
//! the cache directory), the headers are copied to `$HABANERO_WASMTIME_STAGE/include`
//! so CMake finds them at a stable path. Either way the path is re-printed as
//! `cargo:include=` for crates that depend on this one.
use std::path::{Path, PathBuf};

fn copy_tree(from: &Path, to: &Path) -> std::io::Result<()> {
    std::fs::create_dir_all(to)?;
    for entry in std::fs::read_dir(from)? {
        let entry = entry?;
        let target = to.join(entry.file_name());
        if entry.file_type()?.is_dir() {
            copy_tree(&entry.path(), &target)?;
        } else {
            std::fs::copy(entry.path(), &target)?;
        }
    }
    Ok(())
}

fn main() {
    println!("cargo:rerun-if-env-changed=HABANERO_WASMTIME_STAGE");
    let include = std::env::var("DEP_WASMTIME_C_API_INCLUDE")
        .expect("wasmtime-c-api-impl did not report DEP_WASMTIME_C_API_INCLUDE");
    println!("cargo:include={include}");
    if let Ok(stage) = std::env::var("HABANERO_WASMTIME_STAGE") {
        let dest = PathBuf::from(stage).join("include");
        let _ = std::fs::remove_dir_all(&dest);
        copy_tree(Path::new(&include), &dest).expect("copying Wasmtime headers to the stage");
    }
}
