//! The gradient norm per layer, or per time step, on a log axis, one line
//! per network, as SVG.
//!
//! plotters' SVG backend writes text as `<text>` elements and only estimates
//! their size, so no font library (and no system library) is needed.

use std::path::Path;

use plotters::prelude::*;

use super::{DiagnosticsError, GradientFlow};

const SIZE: (u32, u32) = (900, 560);

/// A palette that stays readable for up to ten lines; colours repeat beyond.
const COLOURS: [RGBColor; 10] = [
    RGBColor(31, 119, 180),
    RGBColor(255, 127, 14),
    RGBColor(44, 160, 44),
    RGBColor(214, 39, 40),
    RGBColor(148, 103, 189),
    RGBColor(140, 86, 75),
    RGBColor(227, 119, 194),
    RGBColor(127, 127, 127),
    RGBColor(188, 189, 34),
    RGBColor(23, 190, 207),
];

impl GradientFlow {
    /// Writes this measurement's plot to `path` (see [`compare_svg`]).
    pub fn to_svg(&self, path: impl AsRef<Path>) -> Result<(), DiagnosticsError> {
        write_compare_svg(std::slice::from_ref(self), path)
    }

    /// Writes this measurement's plot over time to `path` (see [`steps_svg`]).
    pub fn steps_to_svg(&self, path: impl AsRef<Path>) -> Result<(), DiagnosticsError> {
        write_svg(steps_svg(std::slice::from_ref(self))?, path.as_ref())
    }
}

/// The points of one line: (weighted layer number from the input side,
/// ||dL/dx|| there). Networks without weighted items plot every item instead.
fn series(flow: &GradientFlow) -> Vec<(f64, f64)> {
    let weighted = flow.weighted().count() > 0;
    flow.items
        .iter()
        .filter(|i| !weighted || i.is_weighted())
        .enumerate()
        .filter_map(|(k, i)| i.input_grad_norm.filter(|n| *n > 0.0 && n.is_finite()).map(|n| (k as f64, n)))
        .collect()
}

/// An SVG document plotting each measurement's input-gradient norm per
/// weighted layer (input side at 0) on a log axis, one labelled line each.
pub fn compare_svg(flows: &[GradientFlow]) -> Result<String, DiagnosticsError> {
    let lines = flows.iter().map(|f| (f.label.as_str(), series(f))).collect();
    let text = Text {
        caption: "Gradient norm reaching each layer's input",
        x: "weighted layer (0 = input side)",
        y: "mean ||dL/dx|| per sample",
        first: 0.0,
    };
    line_plot(lines, text)
}

/// An SVG document plotting each measurement's gradient norm per time step
/// ([`GradientFlow::steps`], first step at 1) on a log axis, one labelled
/// line each: the vanishing gradient over time of a tanh RNN against the
/// LSTM's and GRU's.
pub fn steps_svg(flows: &[GradientFlow]) -> Result<String, DiagnosticsError> {
    let over_time = |f: &GradientFlow| -> Vec<(f64, f64)> {
        let steps = f.steps.iter().enumerate();
        steps.filter(|(_, n)| **n > 0.0 && n.is_finite()).map(|(t, n)| ((t + 1) as f64, *n)).collect()
    };
    let lines = flows.iter().map(|f| (f.label.as_str(), over_time(f))).collect();
    let text = Text {
        caption: "Gradient norm reaching each time step's input",
        x: "time step (1 = first)",
        y: "mean ||dL/dx_t|| per sample",
        first: 1.0,
    };
    line_plot(lines, text)
}

/// What a plot says: its caption, its axes, and where its x axis starts.
struct Text {
    caption: &'static str,
    x: &'static str,
    y: &'static str,
    first: f64,
}

/// The lines (label, points) with points, on a log y axis.
fn line_plot(lines: Vec<(&str, Vec<(f64, f64)>)>, text: Text) -> Result<String, DiagnosticsError> {
    let lines: Vec<(&str, Vec<(f64, f64)>)> = lines.into_iter().filter(|(_, s)| !s.is_empty()).collect();
    if lines.is_empty() {
        return Err(DiagnosticsError::NothingToPlot);
    }
    let points = lines.iter().flat_map(|(_, s)| s.iter());
    let (lo, hi) = points.clone().fold((f64::INFINITY, 0f64), |(lo, hi), p| (lo.min(p.1), hi.max(p.1)));
    let last = points.fold(0f64, |m, p| m.max(p.0));
    let plot = |e: DrawingAreaErrorKind<std::io::Error>| DiagnosticsError::Plot(Box::new(e));

    let mut svg = String::new();
    {
        let root = SVGBackend::with_string(&mut svg, SIZE).into_drawing_area();
        root.fill(&WHITE).map_err(plot)?;
        let mut chart = ChartBuilder::on(&root)
            .caption(text.caption, ("sans-serif", 22))
            .margin(16)
            .x_label_area_size(44)
            .y_label_area_size(80)
            // A decade of room either side keeps single-valued lines off the frame.
            .build_cartesian_2d(text.first..last.max(text.first + 1.0), (lo / 10.0..hi * 10.0).log_scale())
            .map_err(plot)?;
        chart
            .configure_mesh()
            .x_desc(text.x)
            .y_desc(text.y)
            .y_label_formatter(&|v| format!("{v:.0e}"))
            .x_label_formatter(&|v| format!("{v:.0}"))
            .draw()
            .map_err(plot)?;
        for (n, (label, points)) in lines.iter().enumerate() {
            let colour = COLOURS[n % COLOURS.len()];
            chart
                .draw_series(LineSeries::new(points.iter().copied(), colour.stroke_width(2)))
                .map_err(plot)?
                .label(*label)
                .legend(move |(x, y)| PathElement::new(vec![(x, y), (x + 20, y)], colour.stroke_width(2)));
        }
        chart
            .configure_series_labels()
            .position(SeriesLabelPosition::LowerRight)
            .background_style(WHITE.mix(0.85))
            .border_style(BLACK)
            .draw()
            .map_err(plot)?;
        root.present().map_err(plot)?;
    }
    Ok(svg)
}

/// Writes [`compare_svg`] of `flows` to `path`.
pub fn write_compare_svg(flows: &[GradientFlow], path: impl AsRef<Path>) -> Result<(), DiagnosticsError> {
    write_svg(compare_svg(flows)?, path.as_ref())
}

/// Writes [`steps_svg`] of `flows` to `path`.
pub fn write_steps_svg(flows: &[GradientFlow], path: impl AsRef<Path>) -> Result<(), DiagnosticsError> {
    write_svg(steps_svg(flows)?, path.as_ref())
}

fn write_svg(svg: String, path: &Path) -> Result<(), DiagnosticsError> {
    std::fs::write(path, svg).map_err(|source| DiagnosticsError::Io { path: path.to_path_buf(), source })
}
