//! Compile-time checks of `network!`: each file in `tests/ui/` holds one
//! mistake and its `.stderr` the message a user sees; `tests/ui/pass/` must build.
//!
//! Compiler output changes between Rust releases; the `.stderr` files were
//! written with the toolchain in README.md. Regenerate them with
//! `TRYBUILD=overwrite cargo test --test ui` and read the diff.

#[test]
fn ui() {
    let t = trybuild::TestCases::new();
    t.compile_fail("tests/ui/*.rs");
    t.pass("tests/ui/pass/*.rs");
}
