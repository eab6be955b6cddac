//! The public struct of a network, its inherent API and its `Model` impl.
//!
//! The signatures are written once, in [`api`]; a checked network fills in
//! the bodies ([`generate`]), a network with errors gets bodies that never run
//! ([`fallback`]) so that code using it type-checks against what it declared.

use proc_macro2::{Ident, TokenStream};
use quote::{quote, ToTokens};
use syn::Index;

use super::{lit, rt, summary};
use crate::ast::{Kind, Net};
use crate::check;
use crate::parse;

/// What differs between a real network and the stand-in emitted after errors.
struct Bodies {
    fields: TokenStream,
    new: TokenStream,
    forward_ref: TokenStream,
    backward_ref: TokenStream,
    try_backward: TokenStream,
    backward_params: TokenStream,
    predict: TokenStream,
    zero_grad: TokenStream,
    summary: TokenStream,
    visit: TokenStream,
    visit_mut: TokenStream,
    forward_view: TokenStream,
    backward_view: TokenStream,
    backward_params_view: TokenStream,
    predict_view: TokenStream,
    /// Model methods with defaults that a real network overrides.
    model_extra: TokenStream,
    /// Private helpers the real bodies call.
    helpers: TokenStream,
    /// Lints to silence: the stand-in's parameters are unused and its bodies diverge.
    allow: TokenStream,
}

/// The network `net`, whose top-level item list is `module::top`.
pub fn generate(net: &Net, module: &Ident, top: &Ident) -> TokenStream {
    let rt = rt();
    let (i, o) = (lit(net.input.len()), lit(net.output));
    let layers = quote!(#rt::Layer::<T, #i, #o>);
    let width_error = |what: &str, expected: &TokenStream, found: TokenStream| {
        quote! {
            if #found != #expected {
                return ::core::result::Result::Err(#rt::ShapeError::Width { what: #what, expected: #expected, found: #found });
            }
        }
    };
    let check_input = width_error("input", &i.to_token_stream(), quote!(x.nrows()));
    let check_grad_rows = width_error("gradient", &o.to_token_stream(), quote!(grad.nrows()));

    let heads: Vec<Index> = net
        .body
        .items
        .iter()
        .enumerate()
        .filter(|(_, n)| matches!(n.kind, Kind::AuxHead { .. }))
        .map(|(k, _)| Index::from(k))
        .collect();
    let head_count = heads.len();
    let head_index: Vec<usize> = (0..head_count).collect();

    let probes = net.body.items.iter().enumerate().map(|(k, n)| {
        let field = Index::from(k);
        let kind = n.name;
        let (ni, no) = (lit(n.input.len()), lit(n.output.len()));
        let l = quote!(#rt::Layer::<T, #ni, #no>);
        quote! {
            f(#rt::Probe {
                index: #k,
                kind: #kind,
                output: #l::output(&self.layers.#field).map(|b| b.as_view()),
                input_grad: #l::input_grad(&self.layers.#field).map(|b| b.as_view()),
            });
        }
    });

    let summary = summary::table(net);
    let bodies = Bodies {
        fields: quote! {
            layers: #module::#top<T>,
            /// Batch size of the last training forward; `None` before the first.
            forward_cols: ::core::option::Option<usize>,
            /// Copies of `Model` inputs and gradients, reused across steps.
            view_x: #rt::Batch<T, #i>,
            view_grad: #rt::Batch<T, #o>,
            /// What `backward_ref` returns when it refuses a gradient: no columns.
            no_grad: #rt::Batch<T, #i>,
        },
        new: quote! {
            Self {
                layers: #module::#top::new(rng),
                forward_cols: ::core::option::Option::None,
                view_x: #rt::empty(),
                view_grad: #rt::empty(),
                no_grad: #rt::empty(),
            }
        },
        forward_ref: quote! {
            self.forward_cols = ::core::option::Option::Some(x.ncols());
            #layers::forward(&mut self.layers, x)
        },
        backward_ref: quote! {
            if self.__nn_check_batch(grad.ncols()).is_err() {
                return &self.no_grad;
            }
            #layers::backward(&mut self.layers, grad)
        },
        try_backward: quote! {
            self.__nn_check_batch(grad.ncols())?;
            ::core::result::Result::Ok(#layers::backward(&mut self.layers, grad).clone())
        },
        backward_params: quote! {
            self.__nn_check_batch(grad.ncols())?;
            #layers::backward_params(&mut self.layers, grad);
            ::core::result::Result::Ok(())
        },
        predict: quote!(#layers::predict(&self.layers, x)),
        zero_grad: quote!(#layers::visit_mut(&mut self.layers, &mut #rt::ZeroGrad)),
        summary: quote!(::std::string::String::from(#summary)),
        visit: quote!(#layers::visit(&self.layers, v)),
        visit_mut: quote!(#layers::visit_mut(&mut self.layers, v)),
        forward_view: quote! {
            #check_input
            #rt::testing::view_into_batch(&x, &mut self.view_x);
            self.forward_cols = ::core::option::Option::Some(x.ncols());
            ::core::result::Result::Ok(#layers::forward(&mut self.layers, &self.view_x).as_view())
        },
        backward_view: quote! {
            #check_grad_rows
            self.__nn_check_batch(grad.ncols())?;
            #rt::testing::view_into_batch(&grad, &mut self.view_grad);
            ::core::result::Result::Ok(#layers::backward(&mut self.layers, &self.view_grad).as_view())
        },
        backward_params_view: quote! {
            #check_grad_rows
            self.__nn_check_batch(grad.ncols())?;
            #rt::testing::view_into_batch(&grad, &mut self.view_grad);
            #layers::backward_params(&mut self.layers, &self.view_grad);
            ::core::result::Result::Ok(())
        },
        predict_view: quote! {
            #check_input
            let mut b = #rt::empty::<T, #i>();
            #rt::testing::view_into_batch(&x, &mut b);
            let y = #layers::predict(&self.layers, &b);
            ::core::result::Result::Ok(#rt::nalgebra::DMatrix::from_column_slice(#o, y.ncols(), y.as_slice()))
        },
        model_extra: quote! {
            fn freeze_randomness(&mut self, frozen: bool) {
                #layers::freeze_randomness(&mut self.layers, frozen);
            }
            fn aux_heads(&self) -> usize {
                #head_count
            }
            fn aux_output(&self, i: usize) -> ::core::option::Option<(f64, #rt::nalgebra::DMatrixView<'_, T>)> {
                match i {
                    #( #head_index => ::core::option::Option::Some((
                        self.layers.#heads.weight(),
                        self.layers.#heads.output().as_view(),
                    )), )*
                    _ => ::core::option::Option::None,
                }
            }
            fn set_aux_grad(
                &mut self,
                i: usize,
                grad: #rt::nalgebra::DMatrixView<'_, T>,
            ) -> ::core::result::Result<(), #rt::ShapeError> {
                match i {
                    #( #head_index => {
                        self.__nn_check_batch(grad.ncols())?;
                        self.layers.#heads.set_grad(&grad)
                    } )*
                    _ => ::core::result::Result::Err(#rt::ShapeError::NoSuchAuxHead { index: i, heads: #head_count }),
                }
            }
            fn probe(&self, f: &mut dyn ::core::ops::FnMut(#rt::Probe<'_, T>)) {
                #(#probes)*
            }
        },
        helpers: quote! {
            /// Refuses a gradient before any forward or for another batch size.
            fn __nn_check_batch(&self, cols: usize) -> ::core::result::Result<(), #rt::ShapeError> {
                match self.forward_cols {
                    ::core::option::Option::None => ::core::result::Result::Err(#rt::ShapeError::NoForward),
                    ::core::option::Option::Some(n) if n != cols => {
                        ::core::result::Result::Err(#rt::ShapeError::BatchSize { forward: n, backward: cols })
                    }
                    ::core::option::Option::Some(_) => ::core::result::Result::Ok(()),
                }
            }
        },
        allow: TokenStream::new(),
    };
    api(net.src, i.to_token_stream(), o.to_token_stream(), bodies)
}

/// The stand-in for a network with errors: its declared widths, every
/// method, no layers. The errors stop the build before it could run.
pub fn fallback(src: &parse::Network) -> TokenStream {
    let never = quote!(::core::unreachable!("`network!` reported errors for this network"));
    let (i, o) = (lit(check::declared_input(&src.input) as usize), lit(src.output.value as usize));
    let bodies = Bodies {
        fields: quote!(marker: ::core::marker::PhantomData<fn() -> T>,),
        new: never.clone(),
        forward_ref: never.clone(),
        backward_ref: never.clone(),
        try_backward: never.clone(),
        backward_params: never.clone(),
        predict: never.clone(),
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
    api(src, i.to_token_stream(), o.to_token_stream(), bodies)
}

fn api(src: &parse::Network, i: TokenStream, o: TokenStream, b: Bodies) -> TokenStream {
    let rt = rt();
    let safetensors = safetensors_methods();
    let parse::Network { attrs, vis, ident, .. } = src;
    let name = ident.to_string();
    let Bodies {
        fields,
        new,
        forward_ref,
        backward_ref,
        try_backward,
        backward_params,
        predict,
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
                /// Features per sample.
                pub const INPUT: usize = #i;
                /// Outputs per sample.
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

                /// Training-mode forward (batch statistics, dropout, auxiliary heads run):
                /// caches what `backward` needs and returns a copy of the output.
                /// `forward_ref` returns it without copying.
                pub fn forward(&mut self, x: &#rt::Batch<T, #i>) -> #rt::Batch<T, #o> {
                    self.forward_ref(x).clone()
                }

                /// Training-mode forward; the output stays in the network until the next one.
                /// Allocates nothing once the batch size is fixed.
                pub fn forward_ref(&mut self, x: &#rt::Batch<T, #i>) -> &#rt::Batch<T, #o> {
                    #forward_ref
                }

                /// Given dL/dy for the last `forward`, adds dL/dparameters to the gradients
                /// (and the gradients of auxiliary heads set with `Model::set_aux_grad`)
                /// and returns dL/dx.
                ///
                /// If `grad` does not fit (no `forward` yet, or another batch size), the
                /// gradients are left untouched and the result is an empty batch (no
                /// columns); `try_backward` says what was wrong.
                pub fn backward(&mut self, grad: &#rt::Batch<T, #o>) -> #rt::Batch<T, #i> {
                    self.backward_ref(grad).clone()
                }

                /// As `backward`, returning dL/dx without copying it.
                pub fn backward_ref(&mut self, grad: &#rt::Batch<T, #o>) -> &#rt::Batch<T, #i> {
                    #backward_ref
                }

                /// As `backward`, with an error when `grad` does not fit the last `forward`.
                pub fn try_backward(
                    &mut self,
                    grad: &#rt::Batch<T, #o>,
                ) -> ::core::result::Result<#rt::Batch<T, #i>, #rt::ShapeError> {
                    #try_backward
                }

                /// As `backward` for a training step, which never reads dL/dx: the same
                /// parameter gradients, but the first layer skips computing dL/dx (the
                /// input is data), as PyTorch does for an input that does not require a
                /// gradient; `Trainer` steps use it. An error when `grad` does not fit
                /// the last `forward`.
                pub fn backward_params(
                    &mut self,
                    grad: &#rt::Batch<T, #o>,
                ) -> ::core::result::Result<(), #rt::ShapeError> {
                    #backward_params
                }

                /// Evaluation-mode forward: running statistics, no dropout, no auxiliary heads.
                pub fn predict(&self, x: &#rt::Batch<T, #i>) -> #rt::Batch<T, #o> {
                    #predict
                }

                /// Sets every parameter gradient to zero.
                pub fn zero_grad(&mut self) {
                    #zero_grad
                }

                /// A table of the layers: name (the prefix of its parameters), kind,
                /// width in -> out, parameter count and initializer, then the total.
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

                fn visit(&self, v: &mut dyn #rt::Visit<T>) {
                    #visit
                }
                fn visit_mut(&mut self, v: &mut dyn #rt::VisitMut<T>) {
                    #visit_mut
                }
                fn forward_view(
                    &mut self,
                    x: #rt::nalgebra::DMatrixView<'_, T>,
                ) -> ::core::result::Result<#rt::nalgebra::DMatrixView<'_, T>, #rt::ShapeError> {
                    #forward_view
                }
                fn backward_view(
                    &mut self,
                    grad: #rt::nalgebra::DMatrixView<'_, T>,
                ) -> ::core::result::Result<#rt::nalgebra::DMatrixView<'_, T>, #rt::ShapeError> {
                    #backward_view
                }
                fn backward_params_view(
                    &mut self,
                    grad: #rt::nalgebra::DMatrixView<'_, T>,
                ) -> ::core::result::Result<(), #rt::ShapeError> {
                    #backward_params_view
                }
                fn predict_view(
                    &self,
                    x: #rt::nalgebra::DMatrixView<'_, T>,
                ) -> ::core::result::Result<#rt::nalgebra::DMatrix<T>, #rt::ShapeError> {
                    #predict_view
                }
                #model_extra
            }
        };
    }
}

/// `save_safetensors` / `load_safetensors` / `load_safetensors_into`: the same
/// for vector and sequence networks, since both go through `Model`.
pub(super) fn safetensors_methods() -> TokenStream {
    let rt = rt();
    quote! {
        /// Writes every parameter and buffer to `path` as safetensors, under
        /// PyTorch `state_dict` names. Atomic: `path` holds either its previous
        /// content or the complete new file, whatever happens.
        pub fn save_safetensors(
            &self,
            path: impl ::core::convert::AsRef<::std::path::Path>,
        ) -> ::core::result::Result<(), #rt::io::SaveError> {
            #rt::io::save_safetensors(self, path)
        }

        /// A network with the weights and buffers of the safetensors file at
        /// `path` (as `save_safetensors` or PyTorch writes them), checked strictly.
        pub fn load_safetensors(
            path: impl ::core::convert::AsRef<::std::path::Path>,
        ) -> ::core::result::Result<Self, #rt::io::LoadError> {
            // Loading is strict, so every parameter and buffer of this
            // placeholder is overwritten; the seed only fixes dropout's stream.
            let mut net = Self::seeded(0);
            net.load_safetensors_into(path)?;
            ::core::result::Result::Ok(net)
        }

        /// Loads the safetensors file at `path` into this network after checking
        /// every tensor; on error the network is unchanged.
        pub fn load_safetensors_into(
            &mut self,
            path: impl ::core::convert::AsRef<::std::path::Path>,
        ) -> ::core::result::Result<(), #rt::io::LoadError> {
            #rt::io::load_safetensors_into(self, path)
        }
    }
}
