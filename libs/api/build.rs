//! Compiles every `.proto` under `proto/` into one crate. Services never run protoc themselves.
use std::path::{Path, PathBuf};

fn main() -> Result<(), Box<dyn std::error::Error>> {
    let root = Path::new(env!("CARGO_MANIFEST_DIR")).join("../../proto");
    let mut protos = Vec::new();
    collect_protos(&root, &mut protos)?;
    protos.sort();
    for p in &protos {
        println!("cargo:rerun-if-changed={}", p.display());
    }
    println!("cargo:rerun-if-changed={}", root.display());

    // A PROTOC set in the environment (e.g. Debian's /usr/bin/protoc) wins over the vendored one.
    if std::env::var_os("PROTOC").is_none() {
        let protoc = protoc_bin_vendored::protoc_bin_path()?;
        // SAFETY: build scripts are single-threaded; nothing else reads the environment concurrently.
        #[allow(unsafe_code)]
        unsafe {
            std::env::set_var("PROTOC", protoc)
        };
    }
    let out_dir = PathBuf::from(std::env::var("OUT_DIR")?);
    // Every message knows its full name (`prost::Name`), so tools can print it as canonical JSON.
    let mut config = tonic_prost_build::Config::new();
    config.enable_type_names();
    tonic_prost_build::configure()
        // Maps decode into BTreeMaps, so a message encodes to the same bytes in every process: the
        // idempotency hash of a retry matches its first call's.
        .btree_map(".")
        .file_descriptor_set_path(out_dir.join("loyalty_descriptor.bin"))
        .compile_with_config(config, &protos, &[root])?;
    Ok(())
}

fn collect_protos(dir: &Path, out: &mut Vec<PathBuf>) -> std::io::Result<()> {
    for entry in std::fs::read_dir(dir)? {
        let path = entry?.path();
        if path.is_dir() {
            collect_protos(&path, out)?;
        } else if path.extension().is_some_and(|e| e == "proto") {
            out.push(path);
        }
    }
    Ok(())
}
