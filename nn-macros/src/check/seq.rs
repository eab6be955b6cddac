//! Sequence networks (`seq N` input): recurrent items and position-wise
//! items run over every time step until `last` keeps the final step; vector
//! items follow. Recurrent items and `last` belong only at the top level of
//! such a network, which is checked here; every item is `resolve`d as in a
//! vector network.

use proc_macro2::Span;
use syn::Ident;

use super::{resolve, Chain, Env};
use crate::ast::Dims;
use crate::ctxt::Ctxt;
use crate::items::{self, Form, InSequence, Item};
use crate::parse;

/// Checks the top-level items of a `seq` network (`keyword` is its `seq`).
pub(super) fn items(
    cx: &Ctxt,
    src: &parse::Network,
    keyword: Span,
    input: Option<Dims>,
    env: &Env,
) -> (Option<crate::ast::List>, Option<Dims>) {
    let items = &src.items;
    if items.list.is_empty() {
        cx.error(
            items.span,
            format!("empty network `{}`: it needs at least one item, such as `lstm(64), last`", src.ident),
        );
        return (None, None);
    }
    let mut chain = Chain::new(input);
    let mut last = None;
    for item in &items.list {
        let form = items::find(&item.name.to_string()).map(|def| def.form);
        let (node, out) = match (form, last) {
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
                resolve(cx, item, chain.width, env)
            }
            (Some(Form::Recurrent { .. }), Some(_)) => {
                let (_, out) = resolve(cx, item, chain.width, env);
                let layer = &item.name;
                cx.error(
                    item.name.span(),
                    format!(
                        "`{layer}` after `last`: `last` already reduced the sequence to one vector per \
                         sample, so there are no time steps left to run over; move `{layer}` before `last`"
                    ),
                );
                (None, out)
            }
            (_, after) => {
                let (node, out) = resolve(cx, item, chain.width, env);
                match refused(item, after.is_some()) {
                    Some((bad, why)) => {
                        cx.error(bad.span(), why);
                        (None, out)
                    }
                    None => (node, out),
                }
            }
        };
        chain.push(node, out);
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
    chain.finish()
}

/// An item, or one in its body, that cannot stand where `item` stands in a
/// `seq` network (before `last` unless `after_last`), and why.
fn refused(item: &parse::Item, after_last: bool) -> Option<(&Ident, &'static str)> {
    let here = items::find(&item.name.to_string()).and_then(|def| match def.in_sequence {
        InSequence::AfterLast(why) if !after_last => Some(why),
        InSequence::Never(why) => Some(why),
        _ => None,
    });
    match here {
        Some(why) => Some((&item.name, why)),
        None => item.body.iter().flat_map(|b| &b.list).find_map(|i| refused(i, after_last)),
    }
}

/// A recurrent item or `last` where they cannot be: in a vector network or inside a block.
pub(super) fn misplaced(cx: &Ctxt, item: &parse::Item, def: &Item, env: &Env) {
    let layer = def.name;
    let what = if def.form == Form::Last { "`last` reduces a sequence" } else { "it runs over a sequence" };
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
