//! The `network!` macro of `nn`: parse (syn, `parse.rs`) into a syntax tree,
//! check widths and arguments (`check.rs`, into the typed tree of `ast.rs`,
//! errors collected by `ctxt.rs`), generate code (`expand.rs`).
//!
//! The entry point only converts token streams, so every stage is a plain
//! function on `proc_macro2` streams that unit tests can call.

mod ast;
mod check;
mod ctxt;
mod expand;
mod names;
mod parse;
mod suggest;

use proc_macro::TokenStream;

/// Declares one or more networks; see the `nn` crate's documentation.
#[proc_macro]
pub fn network(input: TokenStream) -> TokenStream {
    expand::networks(input.into()).into()
}
