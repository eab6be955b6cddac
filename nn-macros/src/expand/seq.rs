//! Sequence networks (`seq N` input). A sequence of `steps` steps of `n`
//! samples runs as one wide batch of `steps * n` columns (step `t` is columns
//! `t*n .. (t+1)*n`, see `nn::rnn::Unrolled`): the layers before `last` then
//! apply to every step with shared parameters, a position-wise layer in one
//! product over all steps, a recurrent layer through its cell; `last` keeps
//! the final step's columns and the vector layers after it run as usual.
//!
//! Every top-level item, `last` included, is one field of the hidden
//! `Layers` struct, so field `k` is item `k` and parameters are named
//! `"{k}.weight_ih"` as in PyTorch; blocks get their bodies' structs from
//! `body.rs` as in a vector network.

use proc_macro2::TokenStream;
use quote::{format_ident, quote};
use syn::Index;

use super::body::{init_tokens, Gen};
use super::{lit, real, rt, summary};
use crate::ast::{Cell, Kind, Net, Node};
use crate::parse;

/// The runtime type of a recurrent item or `last`, and its constructor.
pub fn item(node: &Node) -> (TokenStream, TokenStream) {
    let rt = rt();
    let (n, h) = (lit(node.input.len()), lit(node.output.len()));
    match &node.kind {
        Kind::Recurrent { cell, recurrent_init, forget_bias, .. } => {
            let alias = match cell {
                Cell::Rnn => quote!(RnnCell),
                Cell::Lstm => quote!(LstmCell),
                Cell::Gru => quote!(GruCell),
            };
            let init = init_tokens(recurrent_init);
            let forget = forget_bias.map(|b| {
                let b = real(b);
                quote!(.with_forget_bias(#b))
            });
            (
                quote!(#rt::rnn::Unrolled<T, #rt::rnn::#alias<T, #n, #h>, #n, #h>),
                quote!(#rt::rnn::Unrolled::new(#rt::rnn::#alias::with_recurrent_init(rng, #init)#forget)),
            )
        }
        Kind::Last => (quote!(#rt::rnn::Last<T, #n>), quote!(#rt::rnn::Last::new())),
        _ => unreachable!("only recurrent items and `last` are generated here"),
    }
}

/// How generated code calls item `k`: through `Layer` for a position-wise or
/// vector item, through the wide-batch methods for a recurrent item or `last`.
enum Call {
    Layer(TokenStream),
    Steps,
}

fn call(node: &Node) -> Call {
    match node.kind {
        Kind::Recurrent { .. } | Kind::Last => Call::Steps,
        _ => {
            let rt = rt();
            let (i, o) = (lit(node.input.len()), lit(node.output.len()));
            Call::Layer(quote!(#rt::Layer::<T, #i, #o>))
        }
    }
}

/// The hidden module and the public struct of a checked `seq` network.
pub fn network(net: &Net) -> TokenStream {
    let rt = rt();
    let module = format_ident!("__nn_network_{}", net.src.ident);
    let items = &net.body.items;
    let mut g = Gen { structs: Vec::new() };
    let (types, ctors): (Vec<TokenStream>, Vec<TokenStream>) = items.iter().map(|n| g.item(n)).unzip();
    let nested = g.structs;
    let calls: Vec<Call> = items.iter().map(call).collect();
    let fields: Vec<Index> = (0..items.len()).map(Index::from).collect();
    let (i, o) = (lit(net.input.len()), lit(net.output));

    let x = |k: usize| format_ident!("x{k}");
    let mut forward = Vec::new();
    let mut predict = Vec::new();
    for (k, (c, f)) in calls.iter().zip(&fields).enumerate() {
        let (a, b) = (x(k), x(k + 1));
        forward.push(match c {
            Call::Layer(l) => quote!(let #b = #l::forward(&mut self.layers.#f, #a);),
            Call::Steps => quote!(let #b = self.layers.#f.forward(#a, steps)?;),
        });
        let input = if k == 0 { quote!(#a) } else { quote!(&#a) };
        predict.push(match c {
            Call::Layer(l) => quote!(let #b = #l::predict(&self.layers.#f, #input);),
            Call::Steps => quote!(let #b = self.layers.#f.predict(#input, steps)?;),
        });
    }
    let backward_item = |k: usize| {
        let (c, f, a, b) = (&calls[k], &fields[k], x(k + 1), x(k));
        match c {
            Call::Layer(l) => quote!(let #b = #l::backward(&mut self.layers.#f, #a);),
            Call::Steps if matches!(items[k].kind, Kind::Last) => quote!(let #b = self.layers.#f.backward(#a);),
            Call::Steps => quote!(let #b = self.layers.#f.backward(#a)?;),
        }
    };
    let backward: Vec<TokenStream> = (0..items.len()).rev().map(backward_item).collect();
    // A training step's chain: the first item only adds its parameter
    // gradients, and a recurrent item followed by `last` takes the last
    // step's gradient as it is, without a wide batch of zeros for the others.
    let mut train_backward = Vec::new();
    let mut k = items.len();
    while k > 0 {
        k -= 1;
        let is = |k: usize, last: bool| matches!(items[k].kind, Kind::Last) == last && matches!(calls[k], Call::Steps);
        if k > 0 && is(k, true) && is(k - 1, false) {
            let (f, a, b) = (&fields[k - 1], x(k + 1), x(k - 1));
            train_backward.push(if k == 1 {
                quote!(self.layers.#f.backward_last_params(#a)?;)
            } else {
                quote!(let #b = self.layers.#f.backward_last(#a)?;)
            });
            k -= 1;
        } else if k == 0 {
            let (f, a) = (&fields[0], x(1));
            train_backward.push(match &calls[0] {
                Call::Layer(l) => quote!(#l::backward_params(&mut self.layers.#f, #a);),
                Call::Steps if matches!(items[0].kind, Kind::Last) => quote!(let _ = #a;),
                Call::Steps => quote!(self.layers.#f.backward_params(#a)?;),
            });
        } else {
            train_backward.push(backward_item(k));
        }
    }
    let out = x(items.len());
    let x0 = x(0);

    let visits = calls.iter().zip(&fields).zip(items).filter(|(_, n)| !matches!(n.kind, Kind::Last));
    let (visit, visit_mut): (Vec<TokenStream>, Vec<TokenStream>) = visits
        .map(|((c, f), _)| {
            let s = f.index.to_string();
            match c {
                Call::Layer(l) => (
                    quote!(#rt::visit_in(v, #s, |v| #l::visit(&self.layers.#f, v));),
                    quote!(#rt::visit_mut_in(v, #s, |v| #l::visit_mut(&mut self.layers.#f, v));),
                ),
                Call::Steps => (
                    quote!(#rt::visit_in(v, #s, |v| self.layers.#f.visit(v));),
                    quote!(#rt::visit_mut_in(v, #s, |v| self.layers.#f.visit_mut(v));),
                ),
            }
        })
        .unzip();
    let freeze = calls.iter().zip(&fields).filter_map(|(c, f)| match c {
        Call::Layer(l) => Some(quote!(#l::freeze_randomness(&mut self.layers.#f, frozen);)),
        Call::Steps => None,
    });
    let probes = calls.iter().zip(&fields).zip(items).enumerate().map(|(k, ((c, f), n))| {
        let kind = n.name;
        let (output, input_grad) = match c {
            Call::Layer(l) => (quote!(#l::output(&self.layers.#f)), quote!(#l::input_grad(&self.layers.#f))),
            Call::Steps => (quote!(self.layers.#f.output()), quote!(self.layers.#f.input_grad())),
        };
        quote! {
            f(#rt::Probe {
                index: #k,
                kind: #kind,
                output: #output.map(|b| b.as_view()),
                input_grad: #input_grad.map(|b| b.as_view()),
            });
        }
    });
    let summary = summary::table(net);

    let check_grad_rows = quote! {
        if grad.nrows() != #o {
            return ::core::result::Result::Err(#rt::ShapeError::Width { what: "gradient", expected: #o, found: grad.nrows() });
        }
    };
    let bodies = Bodies {
        fields: quote! {
            layers: #module::Layers<T>,
            /// Steps of the last training forward.
            steps: usize,
            /// Batch size of the last training forward; `None` before the first.
            forward_cols: ::core::option::Option<usize>,
            /// The input sequence, steps side by side.
            x: #rt::Batch<T, #i>,
            out: #rt::Batch<T, #o>,
            /// What `forward_ref` returns when it refuses a sequence: no columns.
            no_out: #rt::Batch<T, #o>,
            /// dL/dx per step, from the last backward.
            dxs: ::std::vec::Vec<#rt::Batch<T, #i>>,
            /// Copies of `Model` gradients and input gradients, reused across steps.
            view_grad: #rt::Batch<T, #o>,
            view_dx: #rt::nalgebra::DMatrix<T>,
        },
        new: quote! {
            Self {
                layers: #module::Layers::new(rng),
                steps: 0,
                forward_cols: ::core::option::Option::None,
                x: #rt::empty(),
                out: #rt::empty(),
                no_out: #rt::empty(),
                dxs: ::std::vec::Vec::new(),
                view_grad: #rt::empty(),
                view_dx: #rt::nalgebra::DMatrix::zeros(0, 0),
            }
        },
        try_forward_ref: quote! {
            #rt::rnn::steps_into_wide(xs, &mut self.x)?;
            self.steps = xs.len();
            self.__nn_forward(xs[0].ncols())?;
            ::core::result::Result::Ok(&self.out)
        },
        forward_ref: quote! {
            if self.try_forward_ref(xs).is_err() {
                return &self.no_out;
            }
            &self.out
        },
        backward_ref: quote! {
            match self.__nn_backward(grad, true) {
                ::core::result::Result::Ok(()) => &self.dxs,
                ::core::result::Result::Err(_) => &[],
            }
        },
        try_backward: quote! {
            self.__nn_backward(grad, true)?;
            ::core::result::Result::Ok(self.dxs.clone())
        },
        backward_params: quote!(self.__nn_backward(grad, false)),
        try_predict: quote! {
            let mut x = #rt::empty::<T, #i>();
            #rt::rnn::steps_into_wide(xs, &mut x)?;
            self.__nn_predict(&x, xs.len())
        },
        zero_grad: quote!(#rt::Model::<T>::visit_mut(self, &mut #rt::ZeroGrad)),
        summary: quote!(::std::string::String::from(#summary)),
        visit: quote!(#(#visit)*),
        visit_mut: quote!(#(#visit_mut)*),
        forward_view: quote! {
            let steps = #rt::rnn::view_into_wide(&x, &mut self.x)?;
            self.steps = steps;
            self.__nn_forward(x.ncols())?;
            ::core::result::Result::Ok(self.out.as_view())
        },
        backward_view: quote! {
            #check_grad_rows
            #rt::testing::view_into_batch(&grad, &mut self.view_grad);
            // Moved out for the call, which borrows the whole network; an empty batch allocates nothing.
            let g = ::core::mem::replace(&mut self.view_grad, #rt::empty());
            let done = self.__nn_backward(&g, true);
            self.view_grad = g;
            done?;
            #rt::rnn::steps_into_matrix(&self.dxs, &mut self.view_dx);
            ::core::result::Result::Ok(self.view_dx.as_view())
        },
        backward_params_view: quote! {
            #check_grad_rows
            #rt::testing::view_into_batch(&grad, &mut self.view_grad);
            let g = ::core::mem::replace(&mut self.view_grad, #rt::empty());
            let done = self.__nn_backward(&g, false);
            self.view_grad = g;
            done
        },
        predict_view: quote! {
            let mut w = #rt::empty::<T, #i>();
            let steps = #rt::rnn::view_into_wide(&x, &mut w)?;
            let y = self.__nn_predict(&w, steps)?;
            ::core::result::Result::Ok(#rt::nalgebra::DMatrix::from_column_slice(#o, y.ncols(), y.as_slice()))
        },
        model_extra: quote! {
            fn freeze_randomness(&mut self, frozen: bool) {
                #(#freeze)*
            }
            fn probe(&self, f: &mut dyn ::core::ops::FnMut(#rt::Probe<'_, T>)) {
                #(#probes)*
            }
        },
        helpers: quote! {
            /// Training forward over `self.x` (`self.steps` steps of `cols` samples) into `self.out`.
            fn __nn_forward(&mut self, cols: usize) -> ::core::result::Result<(), #rt::ShapeError> {
                self.forward_cols = ::core::option::Option::None;
                let steps = self.steps;
                let #x0 = &self.x;
                #(#forward)*
                #rt::copy_batch(&mut self.out, #out);
                self.forward_cols = ::core::option::Option::Some(cols);
                ::core::result::Result::Ok(())
            }

            /// Backward from dL/dy; dL/dx into `self.dxs` only `with_input_grads`.
            fn __nn_backward(
                &mut self,
                grad: &#rt::Batch<T, #o>,
                with_input_grads: bool,
            ) -> ::core::result::Result<(), #rt::ShapeError> {
                match self.forward_cols {
                    ::core::option::Option::None => return ::core::result::Result::Err(#rt::ShapeError::NoForward),
                    ::core::option::Option::Some(n) if n != grad.ncols() => {
                        return ::core::result::Result::Err(#rt::ShapeError::BatchSize {
                            forward: n,
                            backward: grad.ncols(),
                        })
                    }
                    ::core::option::Option::Some(_) => {}
                }
                let #out = grad;
                if with_input_grads {
                    #(#backward)*
                    #rt::rnn::wide_into_steps(#x0, self.steps, &mut self.dxs)
                } else {
                    #(#train_backward)*
                    ::core::result::Result::Ok(())
                }
            }

            /// Evaluation forward over `x`, `steps` steps side by side.
            fn __nn_predict(
                &self,
                #x0: &#rt::Batch<T, #i>,
                steps: usize,
            ) -> ::core::result::Result<#rt::Batch<T, #o>, #rt::ShapeError> {
                #(#predict)*
                ::core::result::Result::Ok(#out)
            }
        },
        allow: quote!(#[allow(unused_variables)]),
    };
    let api = api(net.src, quote!(#i), quote!(#o), bodies);
    quote! {
        #[doc(hidden)]
        #[allow(non_snake_case)]
        mod #module {
            #(#nested)*

            /// Item `k` of the network is field `k`.
            #[derive(Clone, Debug)]
            pub struct Layers<T: #rt::Float>(#(pub #types),*);

            impl<T: #rt::Float> Layers<T> {
                pub fn new<R: #rt::rand::Rng + ?Sized>(rng: &mut R) -> Self {
                    Self(#(#ctors),*)
                }
            }
        }
        #api
    }
}

/// The stand-in for a `seq` network with errors: the declared widths and the
/// sequence API, no layers.
pub fn fallback(src: &parse::Network) -> TokenStream {
    let never = quote!(::core::unreachable!("`network!` reported errors for this network"));
    let (i, o) = (lit(crate::check::declared_input(&src.input) as usize), lit(src.output.value as usize));
    let bodies = Bodies {
        fields: quote!(marker: ::core::marker::PhantomData<fn() -> T>,),
        new: never.clone(),
        try_forward_ref: never.clone(),
        forward_ref: never.clone(),
        backward_ref: never.clone(),
        try_backward: never.clone(),
        backward_params: never.clone(),
        try_predict: never.clone(),
        zero_grad: never.clone(),
        summary: never.clone(),
        visit: never.clone(),
        visit_mut: never.clone(),
        forward_view: never.clone(),
        backward_view: never.clone(),
        backward_params_view: never.clone(),
        predict_view: never,
        model_extra: TokenStream::new(),
        helpers: TokenStream::new(),
        allow: quote!(#[allow(unused_variables, unreachable_code)]),
    };
    api(src, quote!(#i), quote!(#o), bodies)
}

/// What differs between a real network and the stand-in emitted after errors.
struct Bodies {
    fields: TokenStream,
    new: TokenStream,
    try_forward_ref: TokenStream,
    forward_ref: TokenStream,
    backward_ref: TokenStream,
    try_backward: TokenStream,
    backward_params: TokenStream,
    try_predict: TokenStream,
    zero_grad: TokenStream,
    summary: TokenStream,
    visit: TokenStream,
    visit_mut: TokenStream,
    forward_view: TokenStream,
    backward_view: TokenStream,
    backward_params_view: TokenStream,
    predict_view: TokenStream,
    model_extra: TokenStream,
    helpers: TokenStream,
    allow: TokenStream,
}

fn api(src: &parse::Network, i: TokenStream, o: TokenStream, b: Bodies) -> TokenStream {
    let rt = rt();
    let safetensors = super::api::safetensors_methods();
    let parse::Network { attrs, vis, ident, .. } = src;
    let name = ident.to_string();
    let Bodies {
        fields,
        new,
        try_forward_ref,
        forward_ref,
        backward_ref,
        try_backward,
        backward_params,
        try_predict,
        zero_grad,
        summary,
        visit,
        visit_mut,
        forward_view,
        backward_view,
        backward_params_view,
        predict_view,
        model_extra,
        helpers,
        allow,
    } = b;
    let seq = quote!([#rt::Batch<T, #i>]);
    let r = quote!(::core::result::Result);
    quote! {
        #(#attrs)*
        #vis struct #ident<T: #rt::Float = f32> {
            #fields
        }

        const _: () = {
            #allow
            // On the default scalar type only, so that `Name::INPUT` needs no type
            // annotation; `Model::INPUT` gives the same for every scalar type.
            impl #ident {
                /// Features per time step.
                pub const INPUT: usize = #i;
                /// Outputs per sample (per sequence).
                pub const OUTPUT: usize = #o;
            }

            #allow
            impl<T: #rt::Float> #ident<T> {
                /// A network with weights drawn from a generator seeded with `seed`:
                /// the same seed gives the same weights, bit for bit, on every platform.
                pub fn seeded(seed: u64) -> Self {
                    Self::new(&mut #rt::seeded_rng(seed))
                }

                /// A network with weights drawn from `rng`, layer by layer in network order.
                pub fn new<R: #rt::rand::Rng + ?::core::marker::Sized>(rng: &mut R) -> Self {
                    #new
                }

                /// Training-mode forward over a sequence batch, one `Batch` per time step
                /// (every step with the same samples): caches what `backward` needs and
                /// returns a copy of the output. An empty or ragged sequence gives an
                /// empty batch (no columns); `try_forward` says what was wrong.
                pub fn forward(&mut self, xs: &#seq) -> #rt::Batch<T, #o> {
                    self.forward_ref(xs).clone()
                }

                /// As `forward`, returning the output without copying it. Allocates
                /// nothing once the number of steps and the batch size are fixed.
                pub fn forward_ref(&mut self, xs: &#seq) -> &#rt::Batch<T, #o> {
                    #forward_ref
                }

                /// As `forward`, with an error for an empty or ragged sequence.
                pub fn try_forward(&mut self, xs: &#seq) -> #r<#rt::Batch<T, #o>, #rt::ShapeError> {
                    self.try_forward_ref(xs).cloned()
                }

                /// As `forward_ref`, with an error for an empty or ragged sequence.
                pub fn try_forward_ref(&mut self, xs: &#seq) -> #r<&#rt::Batch<T, #o>, #rt::ShapeError> {
                    #try_forward_ref
                }

                /// Given dL/dy for the last `forward`, adds dL/dparameters to the gradients
                /// (back-propagating through time) and returns dL/dx for every step.
                ///
                /// If `grad` does not fit (no `forward` yet, or another batch size), the
                /// gradients are left untouched and the result is empty; `try_backward`
                /// says what was wrong.
                pub fn backward(&mut self, grad: &#rt::Batch<T, #o>) -> ::std::vec::Vec<#rt::Batch<T, #i>> {
                    self.backward_ref(grad).to_vec()
                }

                /// As `backward`, returning dL/dx without copying it.
                pub fn backward_ref(&mut self, grad: &#rt::Batch<T, #o>) -> &#seq {
                    #backward_ref
                }

                /// As `backward`, with an error when `grad` does not fit the last `forward`.
                pub fn try_backward(
                    &mut self,
                    grad: &#rt::Batch<T, #o>,
                ) -> #r<::std::vec::Vec<#rt::Batch<T, #i>>, #rt::ShapeError> {
                    #try_backward
                }

                /// As `backward` for a training step, which never reads dL/dx: the same
                /// parameter gradients, but the first layer skips computing dL/dx (the
                /// input is data), as PyTorch does for an input that does not require a
                /// gradient; `Trainer` steps use it. An error when `grad` does not fit
                /// the last `forward`.
                pub fn backward_params(&mut self, grad: &#rt::Batch<T, #o>) -> #r<(), #rt::ShapeError> {
                    #backward_params
                }

                /// Evaluation-mode forward (no dropout). An empty or ragged sequence
                /// gives an empty batch; `try_predict` says what was wrong.
                pub fn predict(&self, xs: &#seq) -> #rt::Batch<T, #o> {
                    self.try_predict(xs).unwrap_or_else(|_| #rt::empty())
                }

                /// As `predict`, with an error for an empty or ragged sequence.
                pub fn try_predict(&self, xs: &#seq) -> #r<#rt::Batch<T, #o>, #rt::ShapeError> {
                    #try_predict
                }

                /// Sets every parameter gradient to zero.
                pub fn zero_grad(&mut self) {
                    #zero_grad
                }

                /// A table of the layers: name (the prefix of its parameters), kind,
                /// width in -> out (`seq` for every step), parameter count and
                /// initializer, then the total.
                pub fn summary(&self) -> ::std::string::String {
                    #summary
                }

                #safetensors

                #helpers
            }

            #allow
            impl<T: #rt::Float> #rt::Model<T> for #ident<T> {
                const INPUT: usize = #i;
                const OUTPUT: usize = #o;
                const NAME: &'static str = #name;
                const SEQUENCE: bool = true;

                fn visit(&self, v: &mut dyn #rt::Visit<T>) {
                    #visit
                }
                fn visit_mut(&mut self, v: &mut dyn #rt::VisitMut<T>) {
                    #visit_mut
                }
                fn forward_view(
                    &mut self,
                    x: #rt::nalgebra::DMatrixView<'_, T>,
                ) -> #r<#rt::nalgebra::DMatrixView<'_, T>, #rt::ShapeError> {
                    #forward_view
                }
                fn backward_view(
                    &mut self,
                    grad: #rt::nalgebra::DMatrixView<'_, T>,
                ) -> #r<#rt::nalgebra::DMatrixView<'_, T>, #rt::ShapeError> {
                    #backward_view
                }
                fn backward_params_view(
                    &mut self,
                    grad: #rt::nalgebra::DMatrixView<'_, T>,
                ) -> #r<(), #rt::ShapeError> {
                    #backward_params_view
                }
                fn predict_view(
                    &self,
                    x: #rt::nalgebra::DMatrixView<'_, T>,
                ) -> #r<#rt::nalgebra::DMatrix<T>, #rt::ShapeError> {
                    #predict_view
                }
                #model_extra
            }
        };
    }
}
