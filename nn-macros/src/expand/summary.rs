//! The summary table, computed entirely at compile time from the item table:
//! every shape, parameter count and initializer is known to the macro.

use crate::ast::{List, Net, Node, Val};
use crate::items::{Dim, Form, Param, Show};
use crate::parse::Shape;

struct Row {
    name: String,
    kind: String,
    width: String,
    params: usize,
    /// Values kept but not trained: running statistics.
    buffers: usize,
    init: String,
}

/// The table `summary()` returns.
pub fn table(net: &Net) -> String {
    let mut rows = list_rows(&net.body);
    let seq = net.is_sequence();
    if seq {
        seq_widths(net, &mut rows);
    }
    let trainable: usize = rows.iter().map(|r| r.params).sum();
    let non_trainable: usize = rows.iter().map(|r| r.buffers).sum();
    let header = Row {
        name: "layer".into(),
        kind: "kind".into(),
        width: "in -> out".into(),
        params: 0,
        buffers: 0,
        init: "init".into(),
    };
    let params: Vec<String> = rows.iter().map(|r| r.params.to_string()).collect();
    let w_name = rows.iter().map(|r| r.name.len()).chain([header.name.len()]).max().unwrap_or(0);
    let w_kind = rows.iter().map(|r| r.kind.len()).chain([header.kind.len()]).max().unwrap_or(0);
    let w_width = rows.iter().map(|r| r.width.len()).chain([header.width.len()]).max().unwrap_or(0);
    let w_params = params.iter().map(String::len).chain(["params".len()]).max().unwrap_or(0);

    let prefix = if matches!(net.src.input, Shape::Seq { .. }) { "seq " } else { "" };
    let per_step = if net.per_step() { "seq " } else { "" };
    let mut out = format!("{} ({prefix}{} -> {per_step}{})\n", net.src.ident, net.input, net.output);
    let line = |name: &str, kind: &str, width: &str, params: &str, init: &str| {
        let l = format!("{name:<w_name$}  {kind:<w_kind$}  {width:>w_width$}  {params:>w_params$}  {init}");
        format!("{}\n", l.trim_end())
    };
    out += &line(&header.name, &header.kind, &header.width, "params", &header.init);
    let rule = w_name + w_kind + w_width + w_params + 8 + "he_normal (default)".len();
    out += &format!("{}\n", "-".repeat(rule));
    for (r, p) in rows.iter().zip(&params) {
        out += &line(&r.name, &r.kind, &r.width, p, &r.init);
    }
    out += &format!("{}\n", "-".repeat(rule));
    // As Keras and torchinfo count them; `num_batches_tracked`, a step counter, is not a value per channel.
    out += &format!("trainable parameters: {trainable}\n");
    out += &format!("non-trainable parameters: {non_trainable} (running statistics)\n");
    out += &format!("total parameters: {}\n", trainable + non_trainable);
    out
}

/// In a sequence network, items before `last` (every item, with outputs
/// per step) map sequences to sequences; token ids are a sequence already.
fn seq_widths(net: &Net, rows: &mut [Row]) {
    let last = net.body.items.iter().position(|n| n.item.form == Form::Last).unwrap_or(usize::MAX);
    let seq = |w: &str| if w.starts_with("tokens") { w.to_string() } else { format!("seq {w}") };
    for r in rows {
        let top: usize = r.name.split('.').next().and_then(|i| i.parse().ok()).unwrap_or(usize::MAX);
        let (i, o) = r.width.split_once(" -> ").unwrap_or_default();
        if top < last {
            r.width = format!("{} -> seq {o}", seq(i));
        } else if top == last {
            r.width = format!("{} -> {o}", seq(i));
        }
    }
}

/// A row for every item, under its parameters' prefix.
fn list_rows(list: &List) -> Vec<Row> {
    let mut rows = Vec::new();
    list.walk(&mut |name, node| {
        if node.item.form == Form::Bidirectional {
            // Its body's cell, twice, named as the block's own tensors.
            let cell = &node.bodies[0].items[0];
            rows.push(Row {
                name: name.to_string(),
                kind: format!("bidirectional {{ {} }}", spelling(cell)),
                width: format!("{} -> {}", node.input, node.output),
                params: 2 * params(cell),
                buffers: 0,
                init: init_column(cell),
            });
            return;
        }
        rows.push(Row {
            name: name.to_string(),
            kind: spelling(node),
            width: format!("{} -> {}", node.input, node.output),
            params: params(node),
            buffers: node.item.buffers.iter().map(|b| size(node, b)).sum(),
            init: init_column(node),
        })
    });
    rows
}

/// How many values the item's own parameters have.
fn params(node: &Node) -> usize {
    node.item.params.iter().filter(|p| node.has(p)).map(|p| size(node, p)).sum()
}

/// How many values the parameter has.
fn size(node: &Node, p: &Param) -> usize {
    p.shape
        .iter()
        .map(|d| match d {
            Dim::In => node.input.len(),
            Dim::Channels => node.input.channels(),
            Dim::Out => node.output.len(),
            Dim::Opt(option) => node.count(option),
            Dim::Gates => match node.item.form {
                Form::Recurrent { gates } => gates * node.count("hidden"),
                _ => unreachable!("only recurrent items stack gates"),
            },
        })
        .product()
}

/// How the item's weights start: its first parameter an initializer decides.
fn init_column(node: &Node) -> String {
    node.weight_init().map_or_else(String::new, |(label, i)| {
        let default = if i.by_rule { " (default)" } else { "" };
        format!("{label}{}{default}", i.describe())
    })
}

/// How the item reads in `network!`, with the options that matter.
fn spelling(node: &Node) -> String {
    let shown: Vec<String> = node
        .options()
        .filter_map(|(o, v)| {
            let text = v.describe(o);
            match o.show {
                Show::Positional if *v != Val::Absent => Some(text),
                Show::Named => Some(format!("{} = {text}", o.name)),
                Show::IfChanged if !node.is_default(o, v) => Some(format!("{} = {text}", o.name)),
                Show::IfGiven if *v != Val::Absent => Some(format!("{} = {text}", o.name)),
                _ => None,
            }
        })
        .collect();
    if shown.is_empty() {
        node.item.name.to_string()
    } else {
        format!("{}({})", node.item.name, shown.join(", "))
    }
}

#[cfg(test)]
mod tests {
    use quote::quote;

    use super::*;
    use crate::ctxt::Ctxt;
    use crate::{check, parse};

    fn rows(tokens: proc_macro2::TokenStream) -> Vec<(String, String, usize, String)> {
        let input: parse::Input = syn::parse2(tokens).unwrap();
        let cx = Ctxt::new();
        let net = check::network(&cx, &input.networks[0]).unwrap();
        cx.check().unwrap();
        list_rows(&net.body).into_iter().map(|r| (r.name, r.kind, r.params, r.init)).collect()
    }

    #[test]
    fn counts_and_spellings_come_from_the_item_table() {
        let rows = rows(quote! {
            struct N((2, 6, 6) -> 3) {
                conv2d(4, kernel = 3, padding = 1, bias = false), batch_norm, elu, max_pool(2, stride = 1),
                flatten, dense(6), residual(projection) { dense(3), gelu }, highway { dense(3), tanh },
            }
        });
        let row = |i: usize| (rows[i].1.as_str(), rows[i].2, rows[i].3.as_str());
        assert_eq!(row(0), ("conv2d(4, kernel = 3, padding = 1, bias = false)", 4 * 2 * 9, "he_normal (default)"));
        assert_eq!(row(1), ("batch_norm(0.1, 1e-5)", 2 * 4, ""));
        assert_eq!(row(2), ("elu(1.0)", 0, ""));
        assert_eq!(row(3), ("max_pool(2, stride = 1)", 0, ""));
        assert_eq!(row(5), ("dense(6)", 6 * 100 + 6, "xavier_uniform (default)"));
        assert_eq!(row(6), ("residual(projection)", 3 * 6, "xavier_uniform"));
        assert_eq!(row(7), ("dense(3)", 6 * 3 + 3, "he_normal (default)"));
        assert_eq!(row(9), ("highway", 3 * 3 + 3, "xavier_uniform"));
        assert_eq!(row(10), ("dense(3)", 3 * 3 + 3, "xavier_uniform (default)"));
    }

    #[test]
    fn recurrent_rows_stack_their_gates() {
        let rows = rows(quote! {
            struct N(seq 2 -> 1) { rnn(3), lstm(4, forget_bias = 1.0), gru(5, recurrent_init = xavier_normal), last, dense(1) }
        });
        let row = |i: usize| (rows[i].1.as_str(), rows[i].2, rows[i].3.as_str());
        assert_eq!(row(0), ("rnn(3)", 3 * (2 + 3) + 2 * 3, "recurrent orthogonal(gain = 1)"));
        assert_eq!(row(1), ("lstm(4, forget_bias = 1.0)", 16 * (3 + 4) + 2 * 16, "recurrent orthogonal(gain = 1)"));
        assert_eq!(row(2), ("gru(5)", 15 * (4 + 5) + 2 * 15, "recurrent xavier_normal"));
        assert_eq!(row(3), ("last", 0, ""));
    }
}
