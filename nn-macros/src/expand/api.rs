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
}

impl Input {
    fn of(shape: &Shape) -> Self {
        match shape {
            Shape::Seq { .. } => Input::Sequence,
            Shape::Vector(_) | Shape::Image { .. } => Input::Vector,
        }
    }

    /// The runtime's kind.
    fn kind(&self, nn: &TokenStream) -> TokenStream {
        match self {
            Input::Vector => quote!(#nn::network::Vector),
            Input::Sequence => quote!(#nn::network::Sequence),
        }
    }

    /// The input argument's name and type (behind a reference), and what
    /// dL/dx is, lent and owned.
    fn types(&self, i: &TokenStream) -> (Ident, TokenStream, TokenStream, TokenStream) {
        let batch = quote!(__nn::Batch<T, #i>);
        match self {
            Input::Vector => (format_ident!("x"), batch.clone(), batch.clone(), batch),
            Input::Sequence => (format_ident!("xs"), quote!([#batch]), quote!([#batch]), quote!(__nn::Vec<#batch>)),
        }
    }

    /// Whether the typed input itself can be refused (an empty or ragged
    /// sequence), which adds `try_forward`, `try_forward_ref`, `try_predict`.
    fn can_be_refused(&self) -> bool {
        matches!(self, Input::Sequence)
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
    let (core, new, summary, items) = match built {
        Some(Built { module, summary, .. }) => (
            quote!(#module::Core<T>),
            quote!(Self { core: __nn::network::Core::new(#module::body(rng)) }),
            quote!(__nn::String::from(#summary)),
            quote!(#module::ITEMS),
        ),
        None => {
            let never = quote!(::core::unreachable!("`network!` reported errors for this network"));
            (
                quote!(#nn::network::Core<T, #nn::network::Unbuilt, #i, #o, #kind>),
                quote!({
                    let _ = rng;
                    #never
                }),
                never,
                quote!(&[]),
            )
        }
    };
    let name = ident.to_string();
    let (x, xt, dx, dx_owned) = input.types(&i);
    let y = quote!(__nn::Batch<T, #o>);
    let r = quote!(__nn::Result);
    let shape = quote!(__nn::ShapeError);
    let per = if input.can_be_refused() { "time step" } else { "sample" };
    let refused = input.can_be_refused();

    let mut methods = vec![
        method(
            "Training-mode forward (batch statistics, dropout, auxiliary heads run): caches what `backward` needs.",
            quote!(forward(&mut self, #x: &#xt) -> #y),
            quote!(forward(#x)),
        ),
        method(
            "As `forward`, lending the output, which stays in the network (no allocation once the shape is fixed).",
            quote!(forward_ref(&mut self, #x: &#xt) -> &#y),
            quote!(forward_ref(#x)),
        ),
    ];
    if refused {
        methods.extend([
            method(
                "As `forward`, with an error for an input it refuses (where `forward` gives no samples).",
                quote!(try_forward(&mut self, #x: &#xt) -> #r<#y, #shape>),
                quote!(try_forward(#x)),
            ),
            method(
                "As `forward_ref`, with an error for an input it refuses.",
                quote!(try_forward_ref(&mut self, #x: &#xt) -> #r<&#y, #shape>),
                quote!(try_forward_ref(#x)),
            ),
        ]);
    }
    methods.extend([
        method(
            "Adds dL/dparameters for dL/dy of the last `forward` and returns dL/dx; a `grad` that does not fit \
             changes nothing and gives no samples (`try_backward` says why).",
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
            quote!(predict(&self, #x: &#xt) -> #y),
            quote!(predict(#x)),
        ),
    ]);
    if refused {
        methods.push(method(
            "As `predict`, with an error for an input it refuses.",
            quote!(try_predict(&self, #x: &#xt) -> #r<#y, #shape>),
            quote!(try_predict(#x)),
        ));
    }
    methods.push(method("Sets every parameter gradient to zero.", quote!(zero_grad(&mut self)), quote!(zero_grad())));
    let input_doc = format!("Features per {per}.");
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
                /// Outputs per sample.
                pub const OUTPUT: usize = #o;
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
                const ITEMS: &'static [__nn::network::ItemInfo] = #items;
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
