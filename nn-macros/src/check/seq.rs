//! Sequence networks (`seq N` or `tokens V` input): recurrent items and
//! position-wise items run over every time step; with one output per
//! sequence (`-> M`), `last` then keeps each sequence's final step and
//! vector items follow; with one output per step (`-> seq M`) there is no
//! `last`. Recurrent items stand where the steps run: at the top level
//! before `last`, or in the body of a block that passes the steps on
//! (`residual`, `repeat`). A `tokens` network starts with `embedding`.
//! Every item is `resolve`d as in a vector network.

use proc_macro2::Span;
use syn::Ident;

use super::{resolve, Chain, Env, Here};
use crate::ast::{Dims, List};
use crate::ctxt::Ctxt;
use crate::items::{self, Form, InSequence, Item, Needs};
use crate::parse;

/// Checks the top-level items of a sequence network (`keyword` is its `seq`
/// or `tokens`). Returns the list, the shape it ends with, and whether
/// `last` takes `bidirectional`'s `h_n`.
pub(super) fn items(
    cx: &Ctxt,
    src: &parse::Network,
    keyword: Span,
    input: Option<Dims>,
    output: Option<usize>,
) -> (Option<List>, Option<Dims>, bool) {
    let items = &src.items;
    if items.list.is_empty() {
        cx.error(
            items.span,
            format!("empty network `{}`: it needs at least one item, such as `lstm(64), last`", src.ident),
        );
        return (None, None, false);
    }
    if let (Some(Dims::Tokens(vocab)), Some(first)) = (input, items.list.first()) {
        if first.name != "embedding" {
            cx.error(
                first.name.span(),
                format!(
                    "a `tokens {vocab}` network starts with `embedding(dim)`, which turns each token id into a \
                     vector, but its first item is `{}`; write `embedding(32), {}, ..`",
                    first.name, first.name
                ),
            );
            return (None, None, false);
        }
    }
    let mut chain = Chain::new(input);
    let mut last = None;
    let mut h_n = false;
    // The last top-level item that runs a recurrent layer: whether it is
    // `bidirectional`, and its output.
    let mut recurrent: Option<(bool, Option<Dims>)> = None;
    for item in &items.list {
        let def = items::find(&item.name.to_string());
        let steps = if last.is_some() { Here::Reduced } else { Here::Running };
        let env = Env { top: true, steps, net_output: output };
        let (node, out) = match (def.map(|d| d.form), last) {
            (Some(Form::Last), _) if src.per_step.is_some() => {
                cx.error(
                    item.name.span(),
                    format!(
                        "`last` in a network with an output per time step (`-> seq {0}`): `last` keeps one step \
                         per sequence; remove it, or declare `-> {0}` for one output per sequence",
                        src.output.value
                    ),
                );
                (None, chain.width)
            }
            (Some(Form::Last), Some(_)) => {
                cx.error(
                    item.name.span(),
                    "`last` is repeated: the first `last` already reduced the sequence to its final step; \
                     remove this one",
                );
                (None, chain.width)
            }
            (Some(Form::Last), None) => {
                last = Some(item.name.span());
                if let Some((true, bidirectional)) = recurrent {
                    h_n = true;
                    if let (Some(b), Some(here)) = (bidirectional, chain.width) {
                        if b != here {
                            cx.error(
                                item.name.span(),
                                format!(
                                    "`last` after `bidirectional` takes PyTorch's h_n: the forward half of the \
                                     width at each sequence's last step, the reverse half at step 0, so the \
                                     width must stay {b}, but it is {here} here; move the items that change it \
                                     after `last`"
                                ),
                            );
                        }
                    }
                }
                resolve(cx, item, chain.width, &env)
            }
            _ => {
                let (node, out) = resolve(cx, item, chain.width, &env);
                match refused(item) {
                    Some((bad, why)) => {
                        cx.error(bad.span(), why);
                        (None, out)
                    }
                    None => (node, out),
                }
            }
        };
        if runs_recurrent(item) {
            recurrent = Some((def.is_some_and(|d| d.form == Form::Bidirectional), out));
        }
        chain.push(node, out);
    }
    if last.is_none() && src.per_step.is_none() {
        let fix = src.output.value;
        cx.error(
            keyword,
            format!(
                "sequence network `{}` has no `last`, but its output `-> {fix}` is one vector per sequence: add \
                 `last` after the recurrent layers, as in `{{ lstm(64), last, dense({fix}) }}`, or declare \
                 `-> seq {fix}` for an output per time step",
                src.ident
            ),
        );
        return (None, None, false);
    }
    let (list, width) = chain.finish();
    (list, width, h_n)
}

/// Whether `item` runs a recurrent layer (itself, or an item in its body).
fn runs_recurrent(item: &parse::Item) -> bool {
    let here = items::find(&item.name.to_string())
        .is_some_and(|def| matches!(def.form, Form::Recurrent { .. } | Form::Bidirectional));
    here || item.body.iter().flat_map(|b| &b.list).any(runs_recurrent)
}

/// An item, or one in its body, that cannot stand in a `seq` network, and why.
fn refused(item: &parse::Item) -> Option<(&Ident, &'static str)> {
    let here = items::find(&item.name.to_string()).and_then(|def| match def.in_sequence {
        InSequence::Never(why) => Some(why),
        InSequence::Anywhere => None,
    });
    match here {
        Some(why) => Some((&item.name, why)),
        None => item.body.iter().flat_map(|b| &b.list).find_map(refused),
    }
}

/// Why `def` cannot take the shape `n` when either is about token ids:
/// `embedding` takes ids and nothing else does.
pub(super) fn tokens_mismatch(def: &Item, n: Option<Dims>) -> Option<String> {
    let layer = def.name;
    match (def.needs, n) {
        (Needs::Tokens, Some(Dims::Tokens(_)) | None) => None,
        (Needs::Tokens, Some(found)) => Some(format!(
            "`{layer}` turns token ids into vectors, so it is the first item of a `tokens V` network, but here \
             it gets {}; remove it, or declare the network's input as `tokens V`",
            match found {
                Dims::Vector(n) => format!("a vector of width {n}"),
                image => format!("the image {image}"),
            }
        )),
        (_, Some(Dims::Tokens(vocab))) => Some(format!(
            "`{layer}` gets token ids: a `tokens {vocab}` network starts with `embedding(dim)`, which turns each \
             id into a vector; write `embedding(32)` before `{layer}`"
        )),
        _ => None,
    }
}

/// Checks that the body of `bidirectional` is one recurrent item.
pub(super) fn one_recurrent_item(cx: &Ctxt, body: &parse::Items) -> bool {
    let fix = "write `bidirectional { lstm(64) }` (or `gru`, `rnn`)";
    let Some(first) = body.list.first() else {
        cx.error(body.span, format!("empty `bidirectional`: it runs one recurrent layer in both directions; {fix}"));
        return false;
    };
    let recurrent = items::find(&first.name.to_string()).is_some_and(|d| matches!(d.form, Form::Recurrent { .. }));
    if !recurrent {
        cx.error(
            first.name.span(),
            format!(
                "`bidirectional` runs a recurrent layer in both directions, but `{}` is not one; {fix}",
                first.name
            ),
        );
        return false;
    }
    if let Some(second) = body.list.get(1) {
        cx.error(
            second.name.span(),
            format!(
                "`bidirectional` runs one recurrent layer, but `{}` follows `{}` in its body; move `{}` after \
                 the block",
                second.name, first.name, second.name
            ),
        );
        return false;
    }
    true
}

/// A recurrent item, `bidirectional` or `last` where it cannot be: in a
/// vector network, after `last`, inside a block that does not pass the
/// time steps on, or (`last`) inside any block.
pub(super) fn misplaced(cx: &Ctxt, item: &parse::Item, def: &Item, env: &Env) {
    let layer = def.name;
    let what = if def.form == Form::Last { "`last` reduces a sequence" } else { "it runs over a sequence" };
    let message = match env.steps {
        Here::NoSequence => format!(
            "`{layer}` needs a sequence input, but this network takes vectors: {what}; declare the input as \
             a sequence, as in `struct Net(seq 8 -> 2) {{ lstm(64), last, dense(2) }}`"
        ),
        Here::Reduced => format!(
            "`{layer}` after `last`: `last` already reduced the sequence to one vector per sample, so there \
             are no time steps left to run over; move `{layer}` before `last`"
        ),
        Here::Blocked(block) => format!(
            "`{layer}` cannot stand inside `{block}`: {what}, and only `residual` and `repeat` run their bodies \
             over the time steps; move `{layer}` out of `{block}`"
        ),
        Here::Running => format!(
            "`{layer}` cannot appear inside a block: {what}, so it belongs at the top level of a `seq` \
             network, after the recurrent layers"
        ),
    };
    cx.error(item.name.span(), message);
}
