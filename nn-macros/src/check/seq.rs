//! Sequence networks (`seq N` input): recurrent layers and position-wise
//! layers run over every time step until `last` keeps the final step; vector
//! layers follow. Recurrent layers and `last` belong only at the top level of
//! such a network, which is checked here; everything else is `resolve`d as in
//! a vector network.

use proc_macro2::Span;
use syn::Ident;

use super::{bind, default_inits, resolve, width, Env};
use crate::ast::{Cell, Dims, Kind, List, Node, RECURRENT_INIT};
use crate::ctxt::Ctxt;
use crate::names;
use crate::parse;

/// Checks the top-level items of a `seq` network (`keyword` is its `seq`).
pub(super) fn items(
    cx: &Ctxt,
    src: &parse::Network,
    keyword: Span,
    input: Option<Dims>,
    env: &Env,
) -> (Option<List>, Option<Dims>) {
    let items = &src.items;
    if items.list.is_empty() {
        cx.error(
            items.span,
            format!("empty network `{}`: it needs at least one item, such as `lstm(64), last`", src.ident),
        );
        return (None, None);
    }
    let mut width = input;
    let mut nodes = Some(Vec::new());
    let mut last = None;
    for item in &items.list {
        let name = item.name.to_string();
        let (node, out) = match (name.as_str(), last) {
            (names::LAST, Some(_)) => {
                cx.error(
                    item.name.span(),
                    "`last` is repeated: the first `last` already reduced the sequence to its final step; \
                     remove this one",
                );
                (None, width)
            }
            (names::LAST, None) => {
                last = Some(item.name.span());
                last_item(cx, item, width)
            }
            (layer, after) if names::RECURRENT.contains(&layer) => {
                let (node, out) = recurrent(cx, item, width);
                if after.is_some() {
                    cx.error(
                        item.name.span(),
                        format!(
                            "`{layer}` after `last`: `last` already reduced the sequence to one vector per \
                             sample, so there are no time steps left to run over; move `{layer}` before `last`"
                        ),
                    );
                    (None, out)
                } else {
                    (node, out)
                }
            }
            (_, None) => {
                let (node, out) = resolve(cx, item, width, env);
                if let Some(bad) = not_per_step(item) {
                    cx.error(bad.span(), not_per_step_message(&bad.to_string()));
                    (None, out)
                } else {
                    (node, out)
                }
            }
            (_, Some(_)) => {
                let (node, out) = resolve(cx, item, width, env);
                if let Some(bad) = aux_head(item) {
                    cx.error(
                        bad.span(),
                        "`aux_head` is not available in `seq` networks yet; train the extra head as a \
                         separate network",
                    );
                    (None, out)
                } else {
                    (node, out)
                }
            }
        };
        match (node, &mut nodes) {
            (Some(n), Some(v)) => v.push(n),
            _ => nodes = None,
        }
        width = out;
    }
    if last.is_none() {
        let fix = src.output.value;
        cx.error(
            keyword,
            format!(
                "sequence network `{}` has no `last`: a `seq` network must reduce each sequence to one vector \
                 per sample; add `last` after the recurrent layers, as in `{{ lstm(64), last, dense({fix}) }}`",
                src.ident
            ),
        );
        return (None, None);
    }
    let list = match (nodes, input, width) {
        (Some(mut items), Some(input), Some(output)) => {
            default_inits(&mut items);
            Some(List { items, input, output })
        }
        _ => None,
    };
    (list, width)
}

/// `rnn(h)`, `lstm(h)`, `gru(h)` with their options.
fn recurrent(cx: &Ctxt, item: &parse::Item, n: Option<Dims>) -> (Option<Node>, Option<Dims>) {
    let layer = names::RECURRENT.iter().copied().find(|l| item.name == l).expect("called for recurrent layers");
    if let Some(b) = &item.body {
        cx.error(b.span, format!("`{layer}` takes no `{{ .. }}` body"));
    }
    let Some(args) = bind(cx, &item.name, layer, names::layer_params(layer), item.args.as_ref()) else {
        return (None, None);
    };
    let hidden = args.count(0).and_then(|w| width(cx, w, &args, 0)).map(Dims::Vector);
    let init = args.init(cx, 1);
    let forget_bias = if args.params.len() > 2 && args.present(2) { args.real(2, 0.0) } else { None };
    let cell = match layer {
        names::RNN => Cell::Rnn,
        names::LSTM => Cell::Lstm,
        _ => Cell::Gru,
    };
    let (Some(hidden), Some(init), Some(n)) = (hidden, init, n) else { return (None, hidden) };
    if item.body.is_some() {
        return (None, Some(hidden));
    }
    let Dims::Vector(h) = hidden else { unreachable!("the hidden width is a vector") };
    let kind = Kind::Recurrent { cell, hidden: h, recurrent_init: init.unwrap_or(RECURRENT_INIT), forget_bias };
    (Some(Node { kind, name: layer, input: n, output: hidden }), Some(hidden))
}

/// `last`: no arguments, no body, keeps the width.
fn last_item(cx: &Ctxt, item: &parse::Item, n: Option<Dims>) -> (Option<Node>, Option<Dims>) {
    let args_ok = bind(cx, &item.name, names::LAST, &[], item.args.as_ref()).is_some();
    if let Some(b) = &item.body {
        cx.error(b.span, "`last` takes no `{ .. }` body");
    }
    let ok = args_ok && item.body.is_none();
    (n.filter(|_| ok).map(|n| Node { kind: Kind::Last, name: names::LAST, input: n, output: n }), n)
}

/// A recurrent layer or `last` where they cannot be: in a vector network or inside a block.
pub(super) fn misplaced(cx: &Ctxt, item: &parse::Item, layer: &str, env: &Env) {
    let what = if layer == names::LAST { "`last` reduces a sequence" } else { "it runs over a sequence" };
    let message = if env.top {
        format!(
            "`{layer}` needs a sequence input, but this network takes vectors: {what}; declare the input as \
             a sequence, as in `struct Net(seq 8 -> 2) {{ lstm(64), last, dense(2) }}`"
        )
    } else {
        format!(
            "`{layer}` cannot appear inside a block: {what}, so it belongs at the top level of a `seq` \
             network, before `last` (`last` itself after them)"
        )
    };
    cx.error(item.name.span(), message);
}

/// An item that cannot run on every step on its own: `batch_norm` (its
/// statistics would mix steps) and `aux_head`, also inside blocks.
fn not_per_step(item: &parse::Item) -> Option<&Ident> {
    if item.name == names::BATCH_NORM || item.name == names::AUX_HEAD {
        return Some(&item.name);
    }
    item.body.iter().flat_map(|b| &b.list).find_map(not_per_step)
}

fn not_per_step_message(layer: &str) -> String {
    if layer == names::BATCH_NORM {
        "`batch_norm` before `last` would pool its statistics over time steps; use `layer_norm`, which \
         normalizes each step of each sample on its own, or move `batch_norm` after `last`"
            .to_string()
    } else {
        "`aux_head` is not available in `seq` networks yet; train the extra head as a separate network".to_string()
    }
}

fn aux_head(item: &parse::Item) -> Option<&Ident> {
    if item.name == names::AUX_HEAD {
        return Some(&item.name);
    }
    item.body.iter().flat_map(|b| &b.list).find_map(aux_head)
}
