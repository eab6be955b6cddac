//! The `network!` macro of `nn`: parse (syn, `parse.rs`) into a syntax tree,
//! check widths and arguments (`check.rs`, into the typed tree of `ast.rs`,
//! errors collected by `ctxt.rs`), generate code (`expand.rs`). What each item
//! is (its options, shape rule, parameters, family) is the table of `items.rs`,
//! which every stage reads.
//!
//! The entry point only converts token streams, so every stage is a plain
//! function on `proc_macro2` streams that unit tests can call.
//!
//! Users depend on the facade crate `nn-static` (library `nn`), which
//! re-exports the macro as `nn::network!` and documents its language there,
//! with compiled examples of every item.

#![warn(missing_docs)]

mod ast;
mod check;
mod ctxt;
mod expand;
mod items;
mod parse;
mod suggest;

use proc_macro::TokenStream;

/// Declares one or more networks, each a struct with statically shaped layers.
///
/// Widths are checked here: every mistake is a compile error at the offending
/// token, reported together with the others of the same build.
///
/// Each network `Name` gets `Name::<T>::seeded(seed)`, `Name::new(&mut rng)`,
/// `forward`/`forward_ref` (training mode), `backward`/`backward_ref`/
/// `try_backward`, `predict` (evaluation mode, `&self`), `zero_grad`,
/// `Name::INPUT`/`Name::OUTPUT`, `summary()` and an `nn::Model<T>` impl.
///
/// The language (inputs, items, their arguments, default initializers and
/// parameter names) is documented with compiled examples where the facade
/// crate `nn-static` re-exports this macro as `nn::network!`: the generated
/// code needs a runtime to compile against.
#[proc_macro]
pub fn network(input: TokenStream) -> TokenStream {
    expand::networks(input.into()).into()
}
