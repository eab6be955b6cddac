//! The exported file, written from a [`Graph`](super::Graph)'s operations:
//! a header, `INPUT` and `OUTPUT`, `predict` as one `let` per operation,
//! the weights as `static` arrays, and the helpers it calls (copied from
//! `emitted.rs`, only those it needs).

use std::collections::BTreeSet;
use std::fmt::Write;

use super::graph::{out_width, Act, Affine, Cell, Op};
use super::ExportError;
use crate::item::ItemKind;
use crate::layers::Window2d;

/// The helper functions, in sections that `// @name` lines start.
const HELPERS: &str = include_str!("emitted.rs");

/// Helpers that call other helpers.
const NEEDS: &[(&str, &[&str])] = &[
    ("sigmoid", &["exp"]),
    ("tanh", &["exp"]),
    ("softplus_fn", &["exp", "ln"]),
    ("mish", &["tanh", "softplus_fn"]),
    ("erfc", &["exp"]),
    ("layer_norm", &["sqrt"]),
    ("highway", &["dense", "sigmoid"]),
    ("conv2d", &["window"]),
    ("max_pool", &["window"]),
    ("avg_pool", &["window"]),
    ("gates", &["dense", "add"]),
    ("rnn_step", &["gates", "map", "tanh"]),
    ("lstm_step", &["gates", "sigmoid", "tanh"]),
    ("gru_step", &["dense", "sigmoid", "tanh"]),
];

/// SELU's constants, as `nn`'s `selu`.
const SELU_ALPHA: f64 = 1.673_263_242_354_377_3;
const SELU_SCALE: f64 = 1.050_700_987_355_480_5;

/// The Rust source of a network named `name` whose operations `ops` take
/// `input` values (per time step, when the first operation runs over steps).
pub(crate) fn rust(name: &str, ops: &[Op], input: usize) -> Result<String, ExportError> {
    let sequence = matches!(ops.first(), Some(Op::Steps(_)));
    if let Some(nested) = ops.iter().skip(1).find(|op| matches!(op, Op::Steps(_))) {
        return Err(ExportError::Unsupported { what: format!("{nested:?}"), why: "steps after the first item" });
    }
    let output = out_width(ops, input);
    let mut e = Emitter::default();
    let mut body = String::new();
    let x = if sequence {
        Var { name: "xs".into(), width: input }
    } else {
        let x = e.var(input);
        writeln!(body, "    let {x}: [f32; {input}] = *x;").ok();
        x
    };
    let y = e.list(ops, x, &mut body, 1)?;

    let mut f = String::new();
    let kind = if sequence { "a sequence network" } else { "a network" };
    writeln!(f, "//! `{name}`, {kind} from {input} to {output} values, exported by nn from its weights.").ok();
    f.push_str(
        "//!
//! It computes what `predict` computes (evaluation mode: batch norm folded into the
//! layer before it, or a scale and shift; no dropout; no auxiliary heads), in `f32`.
//! It needs no `std`, no `alloc` and no crate: add it to any crate as a module.
#![allow(dead_code, clippy::excessive_precision, clippy::unreadable_literal)]

",
    );
    let per = if sequence { " per time step" } else { "" };
    writeln!(f, "/// Values per input{per}.\npub const INPUT: usize = {input};").ok();
    writeln!(f, "/// Values per output.\npub const OUTPUT: usize = {output};\n").ok();
    if sequence {
        f.push_str(
            "/// The output for one sequence of time steps, first step first (from a zero
/// state: an empty sequence gives the output of the zero state).
pub fn predict(xs: &[[f32; INPUT]]) -> [f32; OUTPUT] {\n",
        );
    } else {
        f.push_str("/// The output for one sample.\npub fn predict(x: &[f32; INPUT]) -> [f32; OUTPUT] {\n");
    }
    f.push_str(&body);
    writeln!(f, "    {}\n}}\n", y.name).ok();
    f.push_str(&e.statics);
    for section in e.helper_sections() {
        f.push('\n');
        f.push_str(section.trim_end());
        f.push('\n');
    }
    Ok(f)
}

/// A local array of `width` values in `predict`.
#[derive(Clone, Debug)]
struct Var {
    name: String,
    width: usize,
}

impl std::fmt::Display for Var {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(&self.name)
    }
}

#[derive(Default)]
struct Emitter {
    statics: String,
    helpers: BTreeSet<&'static str>,
    vars: usize,
    /// Declarations of recurrent states, written before the time loop.
    states: Vec<String>,
    /// Whether the operations being written run inside the time loop.
    in_steps: bool,
}

impl Emitter {
    fn var(&mut self, width: usize) -> Var {
        self.vars += 1;
        Var { name: format!("v{}", self.vars - 1), width }
    }

    fn helper(&mut self, name: &'static str) {
        if self.helpers.insert(name) {
            for (_, needs) in NEEDS.iter().filter(|(n, _)| *n == name) {
                needs.iter().for_each(|n| self.helper(n));
            }
        }
    }

    /// The sections of `emitted.rs` that were asked for, in the file's order,
    /// without their marker lines.
    fn helper_sections(&self) -> Vec<String> {
        let mut sections: Vec<(&str, String)> = Vec::new();
        for line in HELPERS.lines() {
            if let Some(name) = line.strip_prefix("// @") {
                sections.push((name.trim(), String::new()));
            } else if let Some((_, text)) = sections.last_mut() {
                text.push_str(line);
                text.push('\n');
            }
        }
        sections.into_iter().filter(|(name, _)| self.helpers.contains(name)).map(|(_, text)| text).collect()
    }

    /// Writes `ops` on `x` into `out`; returns the variable holding the result.
    fn list(&mut self, ops: &[Op], mut x: Var, out: &mut String, depth: usize) -> Result<Var, ExportError> {
        for op in ops {
            x = self.op(op, x, out, depth)?;
        }
        Ok(x)
    }

    fn op(&mut self, op: &Op, x: Var, out: &mut String, depth: usize) -> Result<Var, ExportError> {
        let pad = "    ".repeat(depth);
        let y = self.var(op.out_width(x.width));
        let w = y.width;
        let expr = match op {
            Op::Dense(a) => {
                self.helper("dense");
                let (weight, bias) = self.affine(a)?;
                format!("dense(&{weight}, {bias}, &{x})")
            }
            Op::Conv { window, affine } => {
                self.helper("conv2d");
                let (weight, bias) = self.affine(affine)?;
                format!("conv2d(&{}, &{weight}, {bias}, &{x})", window_literal(window))
            }
            Op::Act(act) => {
                self.helper("map");
                format!("map({x}, {})", self.act(act)?)
            }
            Op::Prelu { name, slope } => {
                self.helper("prelu");
                self.vector(&format!("{name}_WEIGHT"), slope)?;
                format!("prelu({x}, &{name}_WEIGHT)")
            }
            Op::ScaleShift { name, scale, shift, plane } => {
                self.helper("scale_shift");
                self.vector(&format!("{name}_SCALE"), scale)?;
                self.vector(&format!("{name}_SHIFT"), shift)?;
                format!("scale_shift({x}, &{name}_SCALE, &{name}_SHIFT, {plane})")
            }
            Op::LayerNorm { name, eps, weight, bias } => {
                self.helper("layer_norm");
                self.vector(&format!("{name}_WEIGHT"), weight)?;
                self.vector(&format!("{name}_BIAS"), bias)?;
                format!("layer_norm({x}, {}, &{name}_WEIGHT, &{name}_BIAS)", literal(*eps))
            }
            Op::MaxPool(window) => {
                self.helper("max_pool");
                format!("max_pool(&{}, &{x})", window_literal(window))
            }
            Op::AvgPool(window) => {
                self.helper("avg_pool");
                format!("avg_pool(&{}, &{x})", window_literal(window))
            }
            Op::GlobalAvgPool { .. } => {
                self.helper("global_avg_pool");
                format!("global_avg_pool(&{x})")
            }
            Op::Residual { body, projection } => {
                self.helper("add");
                let mut block = String::new();
                let h = self.list(body, x.clone(), &mut block, depth + 1)?;
                let skip = match projection {
                    Some(p) => {
                        self.helper("dense");
                        let (weight, bias) = self.affine(p)?;
                        format!("dense(&{weight}, {bias}, &{x})")
                    }
                    None => x.name.clone(),
                };
                format!("{{\n{block}{pad}    add({h}, &{skip})\n{pad}}}")
            }
            Op::Highway { body, gate } => {
                self.helper("highway");
                let mut block = String::new();
                let h = self.list(body, x.clone(), &mut block, depth + 1)?;
                let (weight, bias) = self.affine(gate)?;
                format!("{{\n{block}{pad}    highway(&{x}, &{h}, &{weight}, {bias})\n{pad}}}")
            }
            Op::Concat { body } => {
                self.helper("concat");
                let mut block = String::new();
                let h = self.list(body, x.clone(), &mut block, depth + 1)?;
                format!("{{\n{block}{pad}    concat(&{x}, &{h})\n{pad}}}")
            }
            Op::Parallel { branches } => {
                self.helper("concat");
                let mut block = String::new();
                let mut outs = Vec::new();
                for b in branches {
                    outs.push(self.list(b, x.clone(), &mut block, depth + 1)?);
                }
                let mut acc = outs.first().cloned().unwrap_or(x);
                for b in outs.iter().skip(1) {
                    let joined = self.var(acc.width + b.width);
                    writeln!(block, "{pad}    let {joined}: [f32; {}] = concat(&{acc}, &{b});", joined.width).ok();
                    acc = joined;
                }
                format!("{{\n{block}{pad}    {acc}\n{pad}}}")
            }
            Op::Recurrent { cell, input, hidden } => return self.recurrent(*cell, input, hidden, x, out, depth),
            Op::Steps(ops) => return self.steps(ops, x, out, depth),
        };
        writeln!(out, "{pad}let {y}: [f32; {w}] = {expr};").ok();
        Ok(y)
    }

    /// The time loop: `ops` on every step of `xs`, the last step's result after it.
    fn steps(&mut self, ops: &[Op], xs: Var, out: &mut String, depth: usize) -> Result<Var, ExportError> {
        let pad = "    ".repeat(depth);
        let x = self.var(xs.width);
        let mut body = String::new();
        writeln!(body, "{pad}    let {x}: [f32; {}] = *step;", x.width).ok();
        let states = std::mem::take(&mut self.states);
        self.in_steps = true;
        let h = self.list(ops, x, &mut body, depth + 1);
        self.in_steps = false;
        let h = h?;
        let last = self.var(h.width);
        for state in std::mem::replace(&mut self.states, states) {
            writeln!(out, "{pad}{state}").ok();
        }
        writeln!(out, "{pad}let mut {last} = [0.0f32; {}];", last.width).ok();
        writeln!(out, "{pad}for step in {xs} {{\n{body}{pad}    {last} = {h};\n{pad}}}").ok();
        Ok(last)
    }

    fn recurrent(
        &mut self,
        cell: Cell,
        input: &Affine,
        hidden: &Affine,
        x: Var,
        out: &mut String,
        depth: usize,
    ) -> Result<Var, ExportError> {
        if !self.in_steps {
            return Err(ExportError::Unsupported {
                what: format!("{cell:?} layer").to_lowercase(),
                why: "the exported predict gives one output per sequence, so the network must end in `last`",
            });
        }
        let pad = "    ".repeat(depth);
        let h = self.var(hidden.cols);
        self.states.push(format!("let mut {h} = [0.0f32; {}];", h.width));
        let w_ih = self.matrix(&format!("{}_WEIGHT_IH", input.name), input)?;
        let w_hh = self.matrix(&format!("{}_WEIGHT_HH", hidden.name), hidden)?;
        match cell {
            Cell::Gru => {
                self.helper("gru_step");
                self.vector(&format!("{}_BIAS_IH", input.name), &input.bias)?;
                self.vector(&format!("{}_BIAS_HH", hidden.name), &hidden.bias)?;
                writeln!(
                    out,
                    "{pad}gru_step(&{w_ih}, &{w_hh}, &{}_BIAS_IH, &{}_BIAS_HH, &{x}, &mut {h});",
                    input.name, hidden.name
                )
                .ok();
            }
            Cell::Lstm | Cell::Rnn => {
                // `b_ih + b_hh`, summed once here instead of at every step.
                let bias: Vec<f64> = input.bias.iter().zip(&hidden.bias).map(|(a, b)| a + b).collect();
                let b = format!("{}_BIAS", input.name);
                self.vector(&b, &bias)?;
                if cell == Cell::Lstm {
                    self.helper("lstm_step");
                    let c = self.var(hidden.cols);
                    self.states.push(format!("let mut {c} = [0.0f32; {}];", c.width));
                    writeln!(out, "{pad}lstm_step(&{w_ih}, &{w_hh}, &{b}, &{x}, &mut {h}, &mut {c});").ok();
                } else {
                    self.helper("rnn_step");
                    writeln!(out, "{pad}rnn_step(&{w_ih}, &{w_hh}, &{b}, &{x}, &mut {h});").ok();
                }
            }
        }
        let y = self.var(h.width);
        writeln!(out, "{pad}let {y}: [f32; {}] = {h};", y.width).ok();
        Ok(y)
    }

    /// Writes `a`'s weight and bias statics; returns how `predict` names them
    /// (an all-zero bias as a literal, which costs no flash).
    fn affine(&mut self, a: &Affine) -> Result<(String, String), ExportError> {
        let weight = self.matrix(&format!("{}_WEIGHT", a.name), a)?;
        let bias = if a.bias.iter().all(|b| *b == 0.0) {
            format!("&[0.0; {}]", a.rows)
        } else {
            let name = format!("{}_BIAS", a.name);
            self.vector(&name, &a.bias)?;
            format!("&{name}")
        };
        Ok((weight, bias))
    }

    fn matrix(&mut self, name: &str, a: &Affine) -> Result<String, ExportError> {
        let (rows, cols) = (a.rows, a.cols);
        writeln!(self.statics, "static {name}: [[f32; {cols}]; {rows}] = [").ok();
        for (r, row) in a.weight.chunks(cols.max(1)).enumerate() {
            self.statics.push_str("    [");
            values(&mut self.statics, name, r * cols, row, "\n     ")?;
            self.statics.push_str("],\n");
        }
        self.statics.push_str("];\n");
        Ok(name.to_string())
    }

    fn vector(&mut self, name: &str, v: &[f64]) -> Result<(), ExportError> {
        write!(self.statics, "static {name}: [f32; {}] = [", v.len()).ok();
        values(&mut self.statics, name, 0, v, "\n    ")?;
        self.statics.push_str("];\n");
        Ok(())
    }

    /// The function `map` applies for `act`, as a helper's name or a closure.
    fn act(&mut self, act: &Act) -> Result<String, ExportError> {
        let unsupported = |why| ExportError::Unsupported { what: act.kind.to_string(), why };
        let p = || act.param.map(literal).ok_or(unsupported("its option is missing"));
        let (helper, f) = match act.kind {
            ItemKind::Sigmoid => ("sigmoid", "sigmoid".to_string()),
            ItemKind::Tanh => ("tanh", "tanh".into()),
            ItemKind::Relu => ("", "|x| if x < 0.0 { 0.0 } else { x }".into()),
            ItemKind::LeakyRelu => ("", format!("|x| if x > 0.0 {{ x }} else {{ x * {} }}", p()?)),
            ItemKind::Elu => ("exp", format!("|x| if x > 0.0 {{ x }} else {{ {} * (exp(x) - 1.0) }}", p()?)),
            ItemKind::Selu => {
                let (scale, alpha) = (literal(SELU_SCALE), literal(SELU_ALPHA));
                ("exp", format!("|x| {scale} * if x > 0.0 {{ x }} else {{ {alpha} * (exp(x) - 1.0) }}"))
            }
            ItemKind::Gelu => ("erfc", "|x| 0.5 * x * erfc(-x * core::f32::consts::FRAC_1_SQRT_2)".into()),
            ItemKind::Swish | ItemKind::Silu => ("sigmoid", "|x| x * sigmoid(x)".into()),
            ItemKind::Mish => ("mish", "mish".into()),
            ItemKind::Softplus => ("softplus_fn", "softplus_fn".into()),
            ItemKind::Relu6 => ("relu6", "relu6".into()),
            ItemKind::Hardsigmoid => ("relu6", "|x| relu6(x + 3.0) / 6.0".into()),
            ItemKind::Hardswish => ("relu6", "|x| x * relu6(x + 3.0) / 6.0".into()),
            ItemKind::Softsign => ("", "|x| x / (1.0 + x.abs())".into()),
            _ => return Err(unsupported("it is not an element-wise function")),
        };
        if !helper.is_empty() {
            self.helper(helper);
        }
        Ok(f)
    }
}

/// `v` as an `f32` literal (`{:?}` gives the shortest text that reads back to the same bits).
fn literal(v: f64) -> String {
    format!("{:?}", v as f32)
}

/// `vals` (elements `first..` of the static `name`) as `f32` literals
/// separated by commas, a line break (`wrap`) after every eight.
fn values(out: &mut String, name: &str, first: usize, vals: &[f64], wrap: &str) -> Result<(), ExportError> {
    for (i, v) in vals.iter().enumerate() {
        let f = *v as f32;
        if !f.is_finite() {
            return Err(ExportError::NonFinite { tensor: name.to_string(), index: first + i, value: *v });
        }
        if i > 0 {
            out.push_str(if i % 8 == 0 { "," } else { ", " });
            if i % 8 == 0 {
                out.push_str(wrap);
            }
        }
        write!(out, "{f:?}").ok();
    }
    Ok(())
}

fn window_literal(w: &Window2d) -> String {
    format!(
        "Window {{ channels: {}, height: {}, width: {}, k: {}, stride: {}, padding: {}, out_height: {}, out_width: {} }}",
        w.channels(),
        w.height(),
        w.width(),
        w.kernel(),
        w.stride(),
        w.padding(),
        w.out_height(),
        w.out_width()
    )
}
