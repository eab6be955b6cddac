//! The summary table, computed entirely at compile time: every width,
//! parameter count and initializer is known to the macro.

use crate::ast::{Act, Cell, Dims, Kind, List, Net, Node, Window, BLOCK_INIT};
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
    let seq = matches!(net.src.input, Shape::Seq { .. });
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

    let prefix = if seq { "seq " } else { "" };
    let mut out = format!("{} ({prefix}{} -> {})\n", net.src.ident, net.input, net.output);
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

/// In a `seq` network, items before `last` map sequences to sequences.
fn seq_widths(net: &Net, rows: &mut [Row]) {
    let Some(last) = net.body.items.iter().position(|n| matches!(n.kind, Kind::Last)) else { return };
    for r in rows {
        let top: usize = r.name.split('.').next().and_then(|i| i.parse().ok()).unwrap_or(usize::MAX);
        let (i, o) = r.width.split_once(" -> ").unwrap_or_default();
        if top < last {
            r.width = format!("seq {i} -> seq {o}");
        } else if top == last {
            r.width = format!("seq {i} -> {o}");
        }
    }
}

fn list_rows(list: &List, prefix: &str, rows: &mut Vec<Row>) {
    for (i, node) in list.items.iter().enumerate() {
        let name = if prefix.is_empty() { i.to_string() } else { format!("{prefix}.{i}") };
        let (params, init) = own_params(node);
        rows.push(Row {
            name: name.clone(),
            kind: spelling(node),
            width: format!("{} -> {}", node.input, node.output),
            params,
            init,
        });
        match &node.kind {
            Kind::Residual(b) | Kind::ResidualProjection(b) | Kind::Highway(b) | Kind::Concat(b) => {
                list_rows(b, &name, rows)
            }
            Kind::AuxHead { body, .. } => list_rows(body, &name, rows),
            Kind::Parallel(branches) => {
                for (j, b) in branches.iter().enumerate() {
                    list_rows(b, &format!("{name}.{j}"), rows);
                }
            }
            Kind::Repeat { k, body } => {
                for copy in 0..*k {
                    list_rows(body, &format!("{name}.{copy}"), rows);
                }
            }
            _ => {}
        }
    }
}

/// The parameters an item owns itself (not its body's) and how they start.
fn own_params(node: &Node) -> (usize, String) {
    let (n, m) = (node.input.len(), node.output.len());
    match &node.kind {
        Kind::Dense { out, init, init_is_default, bias } => {
            let default = if *init_is_default { " (default)" } else { "" };
            (out * n + if *bias { *out } else { 0 }, format!("{}{default}", init.describe()))
        }
        Kind::Prelu { .. } => (n, String::new()),
        Kind::BatchNorm { .. } => match node.input {
            Dims::Image { c, .. } => (2 * c, String::new()),
            Dims::Vector(n) => (2 * n, String::new()),
        },
        Kind::LayerNorm { .. } => (2 * n, String::new()),
        Kind::Conv2d { out, window, init, init_is_default, bias } => {
            let Dims::Image { c, .. } = node.input else { unreachable!("conv2d takes images") };
            let default = if *init_is_default { " (default)" } else { "" };
            let weights = out * c * window.kernel * window.kernel;
            (weights + if *bias { *out } else { 0 }, format!("{}{default}", init.describe()))
        }
        Kind::ResidualProjection(_) => (m * n, BLOCK_INIT.describe()),
        Kind::Highway(_) => (n * n + n, BLOCK_INIT.describe()),
        Kind::Recurrent { cell, hidden, recurrent_init, .. } => {
            let gates = match cell {
                Cell::Rnn => 1,
                Cell::Lstm => 4,
                Cell::Gru => 3,
            };
            let rows = gates * hidden;
            (rows * (n + hidden) + 2 * rows, format!("recurrent {}", recurrent_init.describe()))
        }
        _ => (0, String::new()),
    }
}

/// How the item reads in `network!`, with the arguments that matter.
fn spelling(node: &Node) -> String {
    match &node.kind {
        Kind::Dense { out, bias: false, .. } => format!("dense({out}, bias = false)"),
        Kind::Dense { out, .. } => format!("dense({out})"),
        Kind::Conv2d { out, window, bias, .. } => {
            let bias = if *bias { "" } else { ", bias = false" };
            format!("conv2d({out}, kernel = {}{}{bias})", window.kernel, window_options(window, 1))
        }
        Kind::MaxPool(window) => format!("max_pool({}{})", window.kernel, window_options(window, window.kernel)),
        Kind::AvgPool(window) => format!("avg_pool({}{})", window.kernel, window_options(window, window.kernel)),
        Kind::Activation(Act::LeakyRelu { slope }) => format!("leaky_relu({slope:?})"),
        Kind::Activation(Act::Elu { alpha }) => format!("elu({alpha:?})"),
        Kind::Prelu { init } => format!("prelu({init:?})"),
        Kind::BatchNorm { momentum, eps } => format!("batch_norm({momentum:?}, {eps:?})"),
        Kind::LayerNorm { eps } => format!("layer_norm({eps:?})"),
        Kind::Dropout { p } => format!("dropout({p:?})"),
        Kind::ResidualProjection(_) => "residual(projection)".into(),
        Kind::AuxHead { weight, .. } => format!("aux_head(weight = {weight:?})"),
        Kind::Repeat { k, .. } => format!("repeat({k})"),
        Kind::Recurrent { hidden, forget_bias: Some(b), .. } => format!("{}({hidden}, forget_bias = {b:?})", node.name),
        Kind::Recurrent { hidden, .. } => format!("{}({hidden})", node.name),
        _ => node.name.to_string(),
    }
}

/// The stride and padding of a window where they differ from the defaults.
fn window_options(window: &Window, default_stride: usize) -> String {
    let mut s = String::new();
    if window.stride != default_stride {
        s += &format!(", stride = {}", window.stride);
    }
    if window.padding != 0 {
        s += &format!(", padding = {}", window.padding);
    }
    s
}
