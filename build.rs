//! The migrations are embedded with `sqlx::migrate!`; a new or edited migration file must
//! rebuild the crate (sqlx's documented build script).
fn main() {
    println!("cargo:rerun-if-changed=migrations");
}
