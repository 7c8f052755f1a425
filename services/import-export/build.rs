//! `embed_migrations!` reads `migrations/` when the crate compiles: a new migration file must
//! rebuild the crate.
fn main() {
    println!("cargo:rerun-if-changed=migrations");
}
