//! The summary table, computed entirely at compile time from the item table:
//! every shape, parameter count and initializer is known to the macro.

use crate::ast::{InitVal, List, Net, Node, Val};
use crate::items::{Dim, Form, Param, ParamInit, Show};
use crate::parse::Shape;

struct Row {
    name: String,
    kind: String,
    width: String,
    params: usize,
    init: String,
}

/// The table `summary()` returns.
pub fn table(net: &Net) -> String {
    let mut rows = Vec::new();
    list_rows(&net.body, "", &mut rows);
    let seq = net.is_sequence();
    if seq {
        seq_widths(net, &mut rows);
    }
    let total: usize = rows.iter().map(|r| r.params).sum();
    let header =
        Row { name: "layer".into(), kind: "kind".into(), width: "in -> out".into(), params: 0, init: "init".into() };
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
    out += &format!("total parameters: {total}\n");
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

fn list_rows(list: &List, prefix: &str, rows: &mut Vec<Row>) {
    for (i, node) in list.items.iter().enumerate() {
        let name = if prefix.is_empty() { i.to_string() } else { format!("{prefix}.{i}") };
        if node.item.form == Form::Bidirectional {
            // Its body's cell, twice, named as the block's own tensors.
            let cell = &node.bodies[0].items[0];
            rows.push(Row {
                name,
                kind: format!("bidirectional {{ {} }}", spelling(cell)),
                width: format!("{} -> {}", node.input, node.output),
                params: 2 * params(cell),
                init: init_column(cell),
            });
            continue;
        }
        rows.push(Row {
            name: name.clone(),
            kind: spelling(node),
            width: format!("{} -> {}", node.input, node.output),
            params: params(node),
            init: init_column(node),
        });
        match node.item.form {
            // A branch of `parallel` and a copy of `repeat` add a naming level.
            Form::Parallel => {
                for (j, b) in node.bodies.iter().enumerate() {
                    list_rows(b, &format!("{name}.{j}"), rows);
                }
            }
            Form::Repeat => {
                for copy in 0..node.count("k") {
                    list_rows(&node.bodies[0], &format!("{name}.{copy}"), rows);
                }
            }
            _ => {
                for b in &node.bodies {
                    list_rows(b, &name, rows);
                }
            }
        }
    }
}

/// How many values the item's own parameters have.
fn params(node: &Node) -> usize {
    node.item.params.iter().filter(|p| present(node, p)).map(|p| size(node, p)).sum()
}

/// Whether the item has this parameter with its options.
fn present(node: &Node, p: &Param) -> bool {
    p.when.is_none_or(|option| node.flag(option))
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
    let init = node.item.params.iter().filter(|p| present(node, p)).find_map(|p| p.init);
    match init {
        Some(ParamInit::Option { option, label }) => {
            let i = node.init(option);
            let default = if i.by_rule { " (default)" } else { "" };
            format!("{label}{}{default}", i.describe())
        }
        Some(ParamInit::Fixed(r)) => InitVal::of(r, false).describe(),
        None => String::new(),
    }
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
        let mut rows = Vec::new();
        list_rows(&net.body, "", &mut rows);
        rows.into_iter().map(|r| (r.name, r.kind, r.params, r.init)).collect()
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
