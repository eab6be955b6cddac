//! A crate that depends on the facade plainly and one that renames it
//! (`tests/facade-users/`) both compile and run a network: `network!` finds
//! the runtime under the name the user's Cargo.toml gives the facade.

use std::path::Path;
use std::process::Command;

fn run(member: &str) -> String {
    let root = Path::new(env!("CARGO_MANIFEST_DIR"));
    let users = root.join("tests/facade-users");
    let out = Command::new(env!("CARGO"))
        .args(["run", "--quiet", "-p", member, "--manifest-path"])
        .arg(users.join("Cargo.toml"))
        // Its own target directory: the users' workspace resolves on its own,
        // and sharing the main one would make the two builds wait on each other's lock.
        .env("CARGO_TARGET_DIR", root.join("target/facade-users"))
        .env_remove("RUSTFLAGS")
        .output()
        .expect("cargo runs");
    let stderr = String::from_utf8_lossy(&out.stderr);
    assert!(out.status.success(), "{member} did not build or run:\n{stderr}");
    String::from_utf8(out.stdout).unwrap()
}

#[test]
fn a_plain_and_a_renamed_dependency_both_compile_a_network() {
    let plain = run("facade-user-plain");
    let renamed = run("facade-user-renamed");
    assert!(plain.starts_with("2 outputs: ["), "{plain}");
    // The same network, seed and input: the name of the dependency changes nothing.
    assert_eq!(plain, renamed);
}
