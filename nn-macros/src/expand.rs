//! Code generation: for each network, a hidden module with the types and
//! constructors of its item lists (`body.rs`), the public struct with its
//! one-line API (`api.rs`), and its summary table (`summary.rs`). Vector,
//! image and `seq` networks go through the same steps; only the input kind
//! and the top-level list (`last` in a `seq` network) differ.
//!
//! A network with errors still gets its struct and API, with the declared
//! widths and a body that can never be built, so code using it does not add
//! a page of follow-on errors to the real one.

mod api;
mod body;
mod summary;

use proc_macro2::{Literal, TokenStream};
use proc_macro_crate::FoundCrate;
use quote::{format_ident, quote};

use crate::ctxt::Ctxt;
use crate::{check, parse};

/// The whole expansion of one `network!` invocation.
pub fn networks(input: TokenStream) -> TokenStream {
    match syn::parse2::<parse::Input>(input) {
        Ok(parsed) => {
            let all = &parsed.networks;
            (0..all.len())
                .map(|i| {
                    let cx = Ctxt::new();
                    // A second network of one name gets its error only: its struct would clash with the first's.
                    match (check::unique_name(&cx, &all[..i], &all[i]), cx.check()) {
                        (true, Ok(())) => network(&all[i]),
                        (_, Err(e)) => e.to_compile_error(),
                        (false, Ok(())) => unreachable!("a refused name is reported"),
                    }
                })
                .collect()
        }
        Err(e) => e.to_compile_error(),
    }
}

fn network(src: &parse::Network) -> TokenStream {
    let cx = Ctxt::new();
    let net = check::network(&cx, src);
    match (cx.check(), net) {
        (Ok(()), Some(net)) => {
            let module = format_ident!("__nn_network_{}", src.ident);
            let hidden = body::module(&net, &module);
            let built =
                api::Built { module, summary: summary::table(&net), input: net.input.len(), output: net.output };
            let api = api::generate(src, Some(&built));
            quote! {
                #hidden
                #api
            }
        }
        (Err(e), _) => {
            let errors = e.to_compile_error();
            let stub = api::generate(src, None);
            quote! { #errors #stub }
        }
        (Ok(()), None) => unreachable!("check returns no network only after reporting an error"),
    }
}

/// The runtime's items as the user's crate reaches them: `::nn::__private`,
/// or `::key::__private` when the user's Cargo.toml renames the facade
/// (`key = { package = "nn-static", .. }`). proc-macro-crate reports the
/// dependency's key, which for a plain dependency is the package name, not the
/// library name `nn` the crate is imported by; so only a key other than the
/// package's own is a rename. Anything else (the facade's own tests, examples
/// and doc tests, or no manifest to read) imports the library as `nn`.
fn private() -> TokenStream {
    match proc_macro_crate::crate_name(FACADE) {
        Ok(FoundCrate::Name(key)) if key != FACADE.replace('-', "_") => {
            let key = format_ident!("{key}");
            quote!(::#key::__private)
        }
        _ => quote!(::nn::__private),
    }
}

/// The facade's package name on crates.io (its library is `nn`).
const FACADE: &str = "nn-static";

/// A width as an unsuffixed literal, for const generic arguments.
fn lit(n: usize) -> Literal {
    Literal::usize_unsuffixed(n)
}

/// An `f64` literal. Values come from the user's literals, which are finite.
fn real(v: f64) -> Literal {
    Literal::f64_suffixed(v)
}

#[cfg(test)]
mod tests {
    use quote::quote;

    use super::networks;

    #[test]
    fn a_network_with_errors_still_gets_its_struct_and_api() {
        let out = networks(quote! { pub struct Broken(4 -> 2) { desne(2) } }).to_string();
        assert!(out.contains("compile_error"), "{out}");
        assert!(out.contains("pub struct Broken"), "{out}");
        assert!(out.contains("pub const INPUT : usize = 4"), "{out}");
        assert!(!out.contains("__nn_network_Broken"), "no layers are generated: {out}");
    }

    #[test]
    fn only_the_network_with_errors_falls_back() {
        let out = networks(quote! {
            struct Good(4 -> 2) { dense(2) }
            struct Bad(4 -> 2) { dense(0) }
        })
        .to_string();
        assert!(out.contains("__nn_network_Good"), "{out}");
        assert!(!out.contains("__nn_network_Bad"), "{out}");
        assert_eq!(out.matches("compile_error").count(), 1, "{out}");
    }

    #[test]
    fn a_second_network_of_one_name_gets_one_error_and_no_code() {
        let out = networks(quote! {
            struct Twice(4 -> 2) { dense(2) }
            struct Other(4 -> 2) { dense(2) }
            struct Twice(3 -> 1) { dense(1) }
        })
        .to_string();
        assert_eq!(out.matches("compile_error").count(), 1, "{out}");
        assert!(out.contains("a network named `Twice` is already declared"), "{out}");
        assert_eq!(out.matches("struct Twice").count(), 1, "{out}");
        assert!(out.contains("__nn_network_Other"), "{out}");
    }

    #[test]
    fn a_syntax_error_is_reported_alone() {
        let out = networks(quote! { struct N(4 => 2) { dense(2) } }).to_string();
        assert!(out.starts_with(":: core :: compile_error !"), "{out}");
        assert!(!out.contains("struct N"), "{out}");
    }
}
