//! One sequential struct per item list: a tuple struct whose fields are the
//! runtime layers of its items with static widths, implementing `Layer` by
//! chaining them. Its `visit` enters `"0"`, `"1"`, ... for its items, so the
//! runtime blocks visit their bodies without adding a naming level.

use proc_macro2::{Ident, TokenStream};
use quote::{format_ident, quote};
use syn::Index;

use super::{lit, real, rt};
use crate::ast::{Act, Dims, Init, Kind, List, Node, Window, BLOCK_INIT};

/// The structs for `top` and every body inside it, and the name of `top`'s.
pub fn structs(top: &List) -> (Vec<TokenStream>, Ident) {
    let mut g = Gen { structs: Vec::new() };
    let name = g.list(top);
    (g.structs, name)
}

pub struct Gen {
    /// Every struct generated so far, nested bodies first.
    pub structs: Vec<TokenStream>,
}

impl Gen {
    /// Generates the struct for `list` (after those of its nested bodies) and returns its name.
    fn list(&mut self, list: &List) -> Ident {
        let rt = rt();
        let items: Vec<(TokenStream, TokenStream)> = list.items.iter().map(|n| self.item(n)).collect();
        let name = format_ident!("Seq{}", self.structs.len());
        let types = items.iter().map(|(t, _)| t);
        let ctors = items.iter().map(|(_, c)| c);
        let (i, o) = (lit(list.input.len()), lit(list.output.len()));
        let fields: Vec<Index> = (0..list.items.len()).map(Index::from).collect();
        let segments: Vec<String> = (0..list.items.len()).map(|i| i.to_string()).collect();
        let layer: Vec<TokenStream> = list
            .items
            .iter()
            .map(|n| {
                let (i, o) = (lit(n.input.len()), lit(n.output.len()));
                quote!(#rt::Layer::<T, #i, #o>)
            })
            .collect();

        let mut forward = quote!(x);
        let mut predict = quote!(x);
        for (k, (f, l)) in fields.iter().zip(&layer).enumerate() {
            forward = quote!(#l::forward(&mut self.#f, #forward));
            // Each prediction is an owned temporary; all but the last are passed on by reference.
            predict = quote!(#l::predict(&self.#f, #predict));
            if k + 1 < fields.len() {
                predict = quote!(&#predict);
            }
        }
        let mut backward = quote!(grad);
        for (f, l) in fields.iter().zip(&layer).rev() {
            backward = quote!(#l::backward(&mut self.#f, #backward));
        }
        let (first, last) = (&fields[0], &fields[fields.len() - 1]);
        let (first_l, last_l) = (&layer[0], &layer[layer.len() - 1]);
        // The same chain, but the first item is told that nobody reads dL/dx.
        let mut into_first = quote!(grad);
        for (f, l) in fields.iter().zip(&layer).skip(1).rev() {
            into_first = quote!(#l::backward(&mut self.#f, #into_first));
        }

        self.structs.push(quote! {
            // So that users can derive `Clone` and `Debug` on their networks.
            #[derive(Clone, Debug)]
            pub struct #name<T: #rt::Float>(#(pub #types),*);

            impl<T: #rt::Float> #name<T> {
                pub fn new<R: #rt::rand::Rng + ?Sized>(rng: &mut R) -> Self {
                    Self(#(#ctors),*)
                }
            }

            impl<T: #rt::Float> #rt::Layer<T, #i, #o> for #name<T> {
                fn forward(&mut self, x: &#rt::Batch<T, #i>) -> &#rt::Batch<T, #o> {
                    #forward
                }
                fn backward(&mut self, grad: &#rt::Batch<T, #o>) -> &#rt::Batch<T, #i> {
                    #backward
                }
                fn backward_params(&mut self, grad: &#rt::Batch<T, #o>) {
                    #first_l::backward_params(&mut self.#first, #into_first)
                }
                fn predict(&self, x: &#rt::Batch<T, #i>) -> #rt::Batch<T, #o> {
                    #predict
                }
                fn visit(&self, v: &mut dyn #rt::Visit<T>) {
                    #( #rt::visit_in(v, #segments, |v| #layer::visit(&self.#fields, v)); )*
                }
                fn visit_mut(&mut self, v: &mut dyn #rt::VisitMut<T>) {
                    #( #rt::visit_mut_in(v, #segments, |v| #layer::visit_mut(&mut self.#fields, v)); )*
                }
                fn freeze_randomness(&mut self, frozen: bool) {
                    #( #layer::freeze_randomness(&mut self.#fields, frozen); )*
                }
                fn output(&self) -> ::core::option::Option<&#rt::Batch<T, #o>> {
                    #last_l::output(&self.#last)
                }
                fn input_grad(&self) -> ::core::option::Option<&#rt::Batch<T, #i>> {
                    #first_l::input_grad(&self.#first)
                }
            }
        });
        name
    }

    /// The runtime type of one item and the expression that builds it from `rng`.
    pub fn item(&mut self, node: &Node) -> (TokenStream, TokenStream) {
        let rt = rt();
        let (n, out) = (lit(node.input.len()), lit(node.output.len()));
        match &node.kind {
            Kind::Dense { out: _, init, init_is_default: _, bias } => {
                let init = init_tokens(init);
                (quote!(#rt::layers::Dense<T, #n, #out>), quote!(#rt::layers::Dense::new(rng, #init, #bias)))
            }
            Kind::Activation(a) => {
                let (ty, value) = activation(a);
                (quote!(#rt::layers::Activation<T, #ty, #n>), quote!(#rt::layers::Activation::new(#value)))
            }
            Kind::Prelu { init } => {
                let init = real(*init);
                (quote!(#rt::layers::Prelu<T, #n>), quote!(#rt::layers::Prelu::new(#init)))
            }
            Kind::BatchNorm { momentum, eps } => {
                let (m, e) = (real(*momentum), real(*eps));
                match node.input {
                    Dims::Image { c, h, w } => {
                        let (c, h, w) = (lit(c), lit(h), lit(w));
                        (
                            quote!(#rt::layers::BatchNorm2d<T, #n>),
                            quote!(#rt::layers::BatchNorm2d::new::<#c, #h, #w>(#m, #e)),
                        )
                    }
                    Dims::Vector(_) => {
                        (quote!(#rt::layers::BatchNorm<T, #n>), quote!(#rt::layers::BatchNorm::new(#m, #e)))
                    }
                }
            }
            Kind::Conv2d { out: oc, window, init, init_is_default: _, bias } => {
                let (c, h, w) = image(node.input);
                let (oc, [k, s, p]) = (lit(*oc), window_lits(window));
                let init = init_tokens(init);
                (
                    quote!(#rt::layers::Conv2d<T, #n, #out>),
                    quote!(#rt::layers::Conv2d::new::<#c, #h, #w, #oc, #k, #s, #p>(rng, #init, #bias)),
                )
            }
            Kind::MaxPool(window) => {
                let (c, h, w) = image(node.input);
                let [k, s, p] = window_lits(window);
                (
                    quote!(#rt::layers::MaxPool2d<T, #n, #out>),
                    quote!(#rt::layers::MaxPool2d::new::<#c, #h, #w, #k, #s, #p>()),
                )
            }
            Kind::AvgPool(window) => {
                let (c, h, w) = image(node.input);
                let [k, s, p] = window_lits(window);
                (
                    quote!(#rt::layers::AvgPool2d<T, #n, #out>),
                    quote!(#rt::layers::AvgPool2d::new::<#c, #h, #w, #k, #s, #p>()),
                )
            }
            Kind::GlobalAvgPool => {
                let (c, h, w) = image(node.input);
                (
                    quote!(#rt::layers::GlobalAvgPool<T, #n, #out>),
                    quote!(#rt::layers::GlobalAvgPool::new::<#c, #h, #w>()),
                )
            }
            Kind::Flatten => (quote!(#rt::layers::Flatten<T, #n>), quote!(#rt::layers::Flatten::default())),
            Kind::LayerNorm { eps } => {
                let e = real(*eps);
                (quote!(#rt::layers::LayerNorm<T, #n>), quote!(#rt::layers::LayerNorm::new(#e)))
            }
            Kind::Dropout { p } => {
                // Masks come from the dropout's own generator, seeded from the network's.
                let p = real(*p);
                (
                    quote!(#rt::layers::Dropout<T, #n>),
                    quote!(#rt::layers::Dropout::new(#p, #rt::seeded_rng(#rt::rand::Rng::random::<u64>(rng)))),
                )
            }
            Kind::Residual(body) => {
                let b = self.list(body);
                (quote!(#rt::Residual<T, #b<T>, #n>), quote!(#rt::Residual::new(#b::new(rng))))
            }
            Kind::ResidualProjection(body) => {
                let b = self.list(body);
                let init = init_tokens(&BLOCK_INIT);
                (
                    quote!(#rt::ResidualProjection<T, #b<T>, #n, #out>),
                    quote!({
                        let body = #b::new(rng);
                        #rt::ResidualProjection::new(rng, body, #init)
                    }),
                )
            }
            Kind::Highway(body) => {
                let b = self.list(body);
                let init = init_tokens(&BLOCK_INIT);
                (
                    quote!(#rt::Highway<T, #b<T>, #n>),
                    quote!({
                        let body = #b::new(rng);
                        #rt::Highway::new(rng, body, #init)
                    }),
                )
            }
            Kind::Concat(body) => {
                let b = self.list(body);
                let m = lit(body.output.len());
                (quote!(#rt::Concat<T, #b<T>, #n, #m, #out>), quote!(#rt::Concat::new(#b::new(rng))))
            }
            Kind::Parallel(branches) => {
                let names: Vec<Ident> = branches.iter().map(|b| self.list(b)).collect();
                let widths = branches.iter().map(|b| lit(b.output.len()));
                (
                    quote!(#rt::Parallel<T, (#(#rt::Branch<#names<T>, #widths>,)*), #n, #out>),
                    quote!(#rt::Parallel::new((#(#rt::Branch(#names::new(rng)),)*))),
                )
            }
            Kind::AuxHead { weight, body } => {
                let b = self.list(body);
                let (m, w) = (lit(body.output.len()), real(*weight));
                (quote!(#rt::AuxHead<T, #b<T>, #n, #m>), quote!(#rt::AuxHead::new(#b::new(rng), #w)))
            }
            Kind::Repeat { k, body } => {
                let b = self.list(body);
                let k = lit(*k);
                (quote!(#rt::Repeat<T, #b<T>, #n, #k>), quote!(#rt::Repeat::from_fn(|_| #b::new(rng))))
            }
            Kind::Recurrent { .. } | Kind::Last => super::seq::item(node),
        }
    }
}

/// `(C, H, W)` of an image as literals. The check gives image layers image inputs only.
fn image(d: Dims) -> (proc_macro2::Literal, proc_macro2::Literal, proc_macro2::Literal) {
    match d {
        Dims::Image { c, h, w } => (lit(c), lit(h), lit(w)),
        Dims::Vector(_) => unreachable!("image layers are checked to take images"),
    }
}

/// Kernel, stride and padding as literals.
fn window_lits(w: &Window) -> [proc_macro2::Literal; 3] {
    [lit(w.kernel), lit(w.stride), lit(w.padding)]
}

/// The `ActivationFn` type of an activation and the value that configures it.
fn activation(a: &Act) -> (TokenStream, TokenStream) {
    let rt = rt();
    let unit = |name: &str| {
        let ty = format_ident!("{name}");
        (quote!(#rt::layers::#ty), quote!(#rt::layers::#ty))
    };
    match *a {
        Act::Identity => unit("Identity"),
        Act::Sigmoid => unit("Sigmoid"),
        Act::Tanh => unit("Tanh"),
        Act::Relu => unit("Relu"),
        Act::Selu => unit("Selu"),
        Act::Gelu => unit("Gelu"),
        Act::Swish => unit("Swish"),
        Act::Mish => unit("Mish"),
        Act::Softplus => unit("Softplus"),
        Act::LeakyRelu { slope } => {
            let s = real(slope);
            (quote!(#rt::layers::LeakyRelu), quote!(#rt::layers::LeakyRelu { slope: #s }))
        }
        Act::Elu { alpha } => {
            let a = real(alpha);
            (quote!(#rt::layers::Elu), quote!(#rt::layers::Elu { alpha: #a }))
        }
    }
}

/// The runtime `Init` value.
pub fn init_tokens(init: &Init) -> TokenStream {
    let rt = rt();
    match *init {
        Init::Zeros => quote!(#rt::Init::Zeros),
        Init::Constant(c) => {
            let c = real(c);
            quote!(#rt::Init::Constant(#c))
        }
        Init::Uniform(a) => {
            let a = real(a);
            quote!(#rt::Init::Uniform(#a))
        }
        Init::Normal(s) => {
            let s = real(s);
            quote!(#rt::Init::Normal(#s))
        }
        Init::XavierUniform => quote!(#rt::Init::XavierUniform),
        Init::XavierNormal => quote!(#rt::Init::XavierNormal),
        Init::HeUniform => quote!(#rt::Init::HeUniform),
        Init::HeNormal => quote!(#rt::Init::HeNormal),
        Init::LecunNormal => quote!(#rt::Init::LecunNormal),
        Init::Orthogonal { gain } => {
            let g = real(gain);
            quote!(#rt::Init::Orthogonal { gain: #g })
        }
    }
}
