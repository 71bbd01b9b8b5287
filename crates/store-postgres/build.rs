//! Rebuilds the crate when a migration is added or changed: `sqlx::migrate!` embeds the
//! migrations at compile time and, on stable Rust, does not tell Cargo to watch them.

fn main() {
    println!("cargo:rerun-if-changed=migrations");
}
