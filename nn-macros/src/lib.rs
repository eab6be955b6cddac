//! The `network!` macro of `nn`: parse (syn, `parse.rs`) into a syntax tree,
//! check widths and arguments (`check.rs`, into the typed tree of `ast.rs`,
//! errors collected by `ctxt.rs`), generate code (`expand.rs`). What each item
//! is (its options, shape rule, parameters, family) is the table of `items.rs`,
//! which every stage reads.
//!
//! The entry point only converts token streams, so every stage is a plain
//! function on `proc_macro2` streams that unit tests can call.

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
/// ```text
/// nn::network! {
///     /// Doc comments and attributes carry over to the struct.
///     pub struct DigitNet(64 -> 10) {
///         dense(128), batch_norm, relu,
///         repeat(3) { residual { dense(128), batch_norm, relu }, relu },
///         aux_head(weight = 0.3) { dense(10) },
///         dropout(0.1),
///         dense(10),
///     }
/// }
/// ```
///
/// The language, the items and their arguments, the default initializers and
/// the parameter names are those of the `nn` crate's DESIGN.md. Widths are
/// checked here: every mistake is a compile error at the offending token,
/// reported together with the others of the same build.
///
/// Each network `Name` gets `Name::<T>::seeded(seed)`, `Name::new(&mut rng)`,
/// `forward`/`forward_ref` (training mode), `backward`/`backward_ref`/
/// `try_backward`, `predict` (evaluation mode, `&self`), `zero_grad`,
/// `Name::INPUT`/`Name::OUTPUT`, `summary()` and an `nn::Model<T>` impl.
#[proc_macro]
pub fn network(input: TokenStream) -> TokenStream {
    expand::networks(input.into()).into()
}
