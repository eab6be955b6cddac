//! The public struct of a network and its API: each method a one-line
//! delegation to the method of the same name of the runtime's `network::Core`,
//! which holds the body and does the checks. The signatures follow from the
//! network's input kind (a batch, or one batch per time step), so vector,
//! image and `seq` networks get theirs from this one generator.
//!
//! A network with errors still gets its struct and API, with the declared
//! widths and an unbuildable body (`network::Unbuilt`), so that code using it
//! type-checks and the real error is not buried under follow-on ones.

use proc_macro2::{Ident, TokenStream};
use quote::{format_ident, quote};

use super::{lit, private};
use crate::parse::{self, Shape};

/// What the macro built for a network without errors.
pub struct Built {
    /// The hidden module with its body, core type and items.
    pub module: Ident,
    pub summary: String,
    pub input: usize,
    pub output: usize,
}

/// What a network takes, as its API spells it.
enum Input {
    Vector,
    Sequence,
    /// Token ids below the vocabulary size.
    Tokens(u64),
}

impl Input {
    fn of(shape: &Shape) -> Self {
        match shape {
            Shape::Seq { .. } => Input::Sequence,
            Shape::Tokens { vocab, .. } => Input::Tokens(vocab.value),
            Shape::Vector(_) | Shape::Image { .. } => Input::Vector,
        }
    }

    /// The runtime's kind.
    fn kind(&self, nn: &TokenStream) -> TokenStream {
        match self {
            Input::Vector => quote!(#nn::network::Vector),
            Input::Sequence => quote!(#nn::network::Sequence),
            Input::Tokens(vocab) => {
                let vocab = lit(*vocab as usize);
                quote!(#nn::network::Tokens<#vocab>)
            }
        }
    }

    /// The input argument's name and type (behind a reference), and what
    /// dL/dx is, lent and owned (for token ids, always empty: ids have no gradient).
    fn types(&self, i: &TokenStream) -> (Ident, TokenStream, TokenStream, TokenStream) {
        let batch = quote!(__nn::Batch<T, #i>);
        match self {
            Input::Vector => (format_ident!("x"), batch.clone(), batch.clone(), batch),
            Input::Sequence => (format_ident!("xs"), quote!([#batch]), quote!([#batch]), quote!(__nn::Vec<#batch>)),
            Input::Tokens(_) => {
                (format_ident!("xs"), quote!([__nn::Vec<usize>]), quote!([#batch]), quote!(__nn::Vec<#batch>))
            }
        }
    }

    /// Whether an evaluation input can be refused (an empty or ragged
    /// sequence, a token out of range), which adds `try_predict`. A training
    /// input can always be refused (a single sample through a `batch_norm`),
    /// so every network has `try_forward` and `try_forward_ref`.
    fn prediction_can_be_refused(&self) -> bool {
        matches!(self, Input::Sequence | Input::Tokens(_))
    }
}

/// The runtime's output kind, and what the API's output (and dL/dy) is, lent and owned.
fn output(per_step: bool, o: &TokenStream, nn: &TokenStream) -> (TokenStream, TokenStream, TokenStream) {
    let batch = quote!(__nn::Batch<T, #o>);
    if per_step {
        (quote!(#nn::network::PerStep), quote!([#batch]), quote!(__nn::Vec<#batch>))
    } else {
        (quote!(#nn::network::Vector), batch.clone(), batch)
    }
}

/// The struct, its inherent API and its `network::Network` impl (which gives it `Model`).
pub fn generate(src: &parse::Network, built: Option<&Built>) -> TokenStream {
    let parse::Network { attrs, vis, ident, .. } = src;
    let input = Input::of(&src.input);
    let (i, o) = match built {
        Some(b) => (lit(b.input), lit(b.output)),
        None => (lit(crate::check::declared_input(&src.input) as usize), lit(src.output.value as usize)),
    };
    let (i, o) = (quote!(#i), quote!(#o));
    let nn = private();
    let kind = input.kind(&nn);
    let (out_kind, y, y_owned) = output(src.per_step.is_some(), &o, &nn);
    let (core, new, summary) = match built {
        Some(Built { module, summary, .. }) => (
            quote!(#module::Core<T>),
            quote!(Self { core: __nn::network::Core::new(#module::body(rng), #module::ITEMS) }),
            quote!(__nn::String::from(#summary)),
        ),
        None => {
            let never = quote!(::core::unreachable!("`network!` reported errors for this network"));
            (
                quote!(#nn::network::Core<T, #nn::network::Unbuilt, #i, #o, #kind, #out_kind>),
                quote!({
                    let _ = rng;
                    #never
                }),
                never,
            )
        }
    };
    let name = ident.to_string();
    let (x, xt, dx, dx_owned) = input.types(&i);
    let r = quote!(__nn::Result);
    let shape = quote!(__nn::ShapeError);
    let per = if matches!(input, Input::Sequence) { "time step" } else { "sample" };

    let mut methods = vec![
        method(
            "Training-mode forward (batch statistics, dropout, auxiliary heads run): caches what `backward` needs. \
             Panics for an input it refuses, which `try_forward` returns as an error.",
            quote!(forward(&mut self, #x: &#xt) -> #y_owned),
            quote!(forward(#x)),
        ),
        method(
            "As `forward`, lending the output, which stays in the network (no allocation once the shape is fixed).",
            quote!(forward_ref(&mut self, #x: &#xt) -> &#y),
            quote!(forward_ref(#x)),
        ),
        method(
            "As `forward`, with an error for an input it refuses (such as one sample through a `batch_norm`).",
            quote!(try_forward(&mut self, #x: &#xt) -> #r<#y_owned, #shape>),
            quote!(try_forward(#x)),
        ),
        method(
            "As `forward_ref`, with an error for an input it refuses.",
            quote!(try_forward_ref(&mut self, #x: &#xt) -> #r<&#y, #shape>),
            quote!(try_forward_ref(#x)),
        ),
        method(
            "Adds dL/dparameters for dL/dy of the last `forward` and returns dL/dx. Panics, changing nothing, \
             for a `grad` of another batch size or before any `forward`; `try_backward` returns that as an error.",
            quote!(backward(&mut self, grad: &#y) -> #dx_owned),
            quote!(backward(grad)),
        ),
        method(
            "As `backward`, lending dL/dx.",
            quote!(backward_ref(&mut self, grad: &#y) -> &#dx),
            quote!(backward_ref(grad)),
        ),
        method(
            "As `backward`, with an error when `grad` does not fit the last `forward`.",
            quote!(try_backward(&mut self, grad: &#y) -> #r<#dx_owned, #shape>),
            quote!(try_backward(grad)),
        ),
        method(
            "As `backward` for a training step: the same parameter gradients without dL/dx (the input is data).",
            quote!(backward_params(&mut self, grad: &#y) -> #r<(), #shape>),
            quote!(backward_params(grad)),
        ),
        method(
            "Evaluation-mode forward: running statistics, no dropout, no auxiliary heads.",
            quote!(predict(&self, #x: &#xt) -> #y_owned),
            quote!(predict(#x)),
        ),
    ];
    if matches!(input, Input::Sequence) {
        let lengths = quote!(lengths: &[usize]);
        methods.extend([
            method(
                "As `forward` for sequences of different lengths: `xs` padded to the longest, `lengths[j]` the \
                 steps of sample `j`. Recurrent layers stop at each sequence's end (PyTorch's packed sequences).",
                quote!(forward_padded(&mut self, #x: &#xt, #lengths) -> #r<#y_owned, #shape>),
                quote!(forward_padded(#x, lengths)),
            ),
            method(
                "As `forward_padded`, lending the output.",
                quote!(forward_padded_ref(&mut self, #x: &#xt, #lengths) -> #r<&#y, #shape>),
                quote!(forward_padded_ref(#x, lengths)),
            ),
            method(
                "As `predict` for sequences of different lengths (see `forward_padded`).",
                quote!(predict_padded(&self, #x: &#xt, #lengths) -> #r<#y_owned, #shape>),
                quote!(predict_padded(#x, lengths)),
            ),
        ]);
    }
    if input.prediction_can_be_refused() {
        methods.push(method(
            "As `predict`, with an error for an input it refuses (where `predict` panics).",
            quote!(try_predict(&self, #x: &#xt) -> #r<#y_owned, #shape>),
            quote!(try_predict(#x)),
        ));
    }
    methods.push(method("Sets every parameter gradient to zero.", quote!(zero_grad(&mut self)), quote!(zero_grad())));
    let input_doc = format!("Features per {per}.");
    let vocab = match input {
        Input::Tokens(v) => {
            let v = lit(v as usize);
            Some(quote! {
                /// Token ids the network takes: `0..VOCAB`.
                pub const VOCAB: usize = #v;
            })
        }
        _ => None,
    };
    let path = quote!(path: impl __nn::AsRef<__nn::Path>);

    quote! {
        #(#attrs)*
        #vis struct #ident<T: #nn::Float = f32> {
            core: #core,
        }

        const _: () = {
            use #nn as __nn;

            // On the default scalar type only, so that `Name::INPUT` needs no type
            // annotation; `Model::INPUT` gives the same for every scalar type.
            impl #ident {
                #[doc = #input_doc]
                pub const INPUT: usize = #i;
                /// Outputs per sample (per time step with `-> seq M`).
                pub const OUTPUT: usize = #o;
                #vocab
            }

            impl<T: __nn::Float> #ident<T> {
                /// A network with weights drawn from a generator seeded with `seed`: the same seed gives the same weights, bit for bit.
                pub fn seeded(seed: u64) -> Self {
                    Self::new(&mut __nn::seeded_rng(seed))
                }

                /// A network with weights drawn from `rng`, item by item in network order.
                pub fn new<R: __nn::rand::Rng + ?__nn::Sized>(rng: &mut R) -> Self {
                    #new
                }

                #(#methods)*

                /// A table of the items: name (the prefix of its parameters), kind, shapes, parameter count, initializer.
                pub fn summary(&self) -> __nn::String {
                    #summary
                }

                /// Writes every parameter and buffer to `path` as safetensors under PyTorch's names, atomically.
                pub fn save_safetensors(&self, #path) -> #r<(), __nn::io::SaveError> {
                    __nn::io::save_safetensors(self, path)
                }

                /// A network with the weights and buffers of the safetensors file at `path`, checked strictly.
                pub fn load_safetensors(#path) -> #r<Self, __nn::io::LoadError> {
                    __nn::network::loaded(Self::seeded(0), path)
                }

                /// Loads the safetensors file at `path` into this network after checking every tensor; on error nothing changes.
                pub fn load_safetensors_into(&mut self, #path) -> #r<(), __nn::io::LoadError> {
                    __nn::io::load_safetensors_into(self, path)
                }
            }

            impl<T: __nn::Float> __nn::network::Network for #ident<T> {
                type Core = #core;
                const NAME: &'static str = #name;
                fn core(&self) -> &Self::Core {
                    &self.core
                }
                fn core_mut(&mut self) -> &mut Self::Core {
                    &mut self.core
                }
            }
        };
    }
}

/// `pub fn` `sig` `{ self.core.` `call` `}`, documented by `doc`.
fn method(doc: &str, sig: TokenStream, call: TokenStream) -> TokenStream {
    quote! {
        #[doc = #doc]
        pub fn #sig {
            self.core.#call
        }
    }
}
