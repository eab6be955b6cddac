// Line charts on a canvas, without a library: linear or log y axis, one
// line per series, a legend. Enough for the study's three plots.

export class Plot {
  constructor(canvas, { log = false, yMin, yMax, xLabel = '' } = {}) {
    Object.assign(this, { canvas, log, yMin, yMax, xLabel, series: [] });
  }

  // Each series: { label, points: [[x, y], ...], colour, width }.
  set(series) {
    this.series = series;
    this.draw();
  }

  draw() {
    const c = this.canvas, dpr = window.devicePixelRatio || 1;
    const w = c.clientWidth, h = c.clientHeight;
    c.width = w * dpr; c.height = h * dpr;
    const g = c.getContext('2d');
    g.scale(dpr, dpr);
    g.clearRect(0, 0, w, h);
    g.font = '11px system-ui, sans-serif';
    const pts = this.series.flatMap(s => s.points).filter(([, y]) => Number.isFinite(y) && (!this.log || y > 0));
    if (pts.length === 0) return;
    const f = this.log ? Math.log10 : (v => v);
    let xMin = Math.min(...pts.map(p => p[0])), xMax = Math.max(...pts.map(p => p[0]));
    if (xMax === xMin) { xMin -= 1; xMax += 1; }
    let lo = this.yMin ?? Math.min(...pts.map(p => f(p[1]))), hi = this.yMax ?? Math.max(...pts.map(p => f(p[1])));
    if (this.log) { lo = Math.floor(lo); hi = Math.ceil(hi); }
    if (hi === lo) { lo -= 1; hi += 1; }
    const L = 52, R = 12, T = 10, B = 26;
    const X = x => L + (x - xMin) / (xMax - xMin) * (w - L - R);
    const Y = y => T + (hi - f(y)) / (hi - lo) * (h - T - B);
    // Axes and grid.
    g.strokeStyle = '#d7dde3'; g.fillStyle = '#4a5561'; g.lineWidth = 1;
    const ticks = this.log ? range(lo, hi, Math.max(1, Math.ceil((hi - lo) / 8))) : niceTicks(lo, hi);
    g.textAlign = 'right'; g.textBaseline = 'middle';
    for (const t of ticks) {
      const y = T + (hi - t) / (hi - lo) * (h - T - B);
      g.beginPath(); g.moveTo(L, y); g.lineTo(w - R, y); g.stroke();
      g.fillText(this.log ? `1e${t}` : String(+t.toFixed(3)), L - 4, y);
    }
    g.textAlign = 'center'; g.textBaseline = 'top';
    for (const t of niceTicks(xMin, xMax).filter(Number.isInteger)) g.fillText(String(t), X(t), h - B + 4);
    g.fillText(this.xLabel, (L + w - R) / 2, h - 12);
    // Lines.
    for (const s of this.series) {
      g.strokeStyle = s.colour; g.lineWidth = s.width ?? 2; g.beginPath();
      let pen = false;
      for (const [x, y] of s.points) {
        if (!Number.isFinite(y) || (this.log && y <= 0)) { pen = false; continue; }
        pen ? g.lineTo(X(x), Y(y)) : g.moveTo(X(x), Y(y));
        pen = true;
      }
      g.stroke();
    }
    // Legend: the labelled series, top right.
    g.textAlign = 'right'; g.textBaseline = 'top';
    let ly = T + 2;
    for (const s of this.series.filter(s => s.label)) {
      g.fillStyle = s.colour; g.fillRect(w - R - 14, ly + 4, 12, 3);
      g.fillStyle = '#1d232a'; g.fillText(s.label, w - R - 18, ly);
      ly += 14;
    }
  }
}

function range(lo, hi, step) {
  const out = [];
  for (let t = lo; t <= hi + 1e-9; t += step) out.push(t);
  return out;
}

function niceTicks(lo, hi) {
  const span = hi - lo, raw = span / 5, mag = 10 ** Math.floor(Math.log10(raw));
  const step = [1, 2, 5, 10].map(m => m * mag).find(s => span / s <= 6);
  return range(Math.ceil(lo / step) * step, hi, step);
}
