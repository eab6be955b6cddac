// The page: reads the settings, runs a study in a Web Worker, and shows
// each result as it arrives (the verdict in words, three live plots).
import { Plot } from './plot.js';

const $ = id => document.getElementById(id);

const PRESETS = {
  // Sigmoid's slope is at most 0.25: the gradient shrinks about 4x per layer.
  'vanishing': { depth: 20, activation: 'sigmoid', init: 'auto', shortcut: 'none', batch_norm: false, optimizer: 'adam', lr: 0.003, clip: null },
  // Clipping scales large gradients down: it cannot bring a vanished one back.
  'vanishing-clip': { depth: 20, activation: 'sigmoid', init: 'auto', shortcut: 'none', batch_norm: false, optimizer: 'adam', lr: 0.003, clip: 1 },
  // Blocks that start near the identity pass the gradient unchanged.
  'healthy': { depth: 20, activation: 'relu', init: 'small', shortcut: 'residual', batch_norm: false, optimizer: 'adam', lr: 0.003, clip: null },
  // x + relu(W x) with He init doubles the variance per block: 1e4 at 20 blocks.
  'exploding': { depth: 20, activation: 'relu', init: 'he_normal', shortcut: 'residual', batch_norm: false, optimizer: 'sgd', lr: 0.1, clip: null },
  'exploding-clip': { depth: 20, activation: 'relu', init: 'he_normal', shortcut: 'residual', batch_norm: false, optimizer: 'sgd', lr: 0.1, clip: 1 },
};

const FIELDS = ['depth', 'activation', 'init', 'shortcut', 'optimizer', 'lr', 'clip', 'epochs'];

function settings() {
  const clip = $('clip').value.trim();
  return {
    depth: Number($('depth').value), activation: $('activation').value, init: $('init').value,
    shortcut: $('shortcut').value, batch_norm: $('batch_norm').checked, optimizer: $('optimizer').value,
    lr: Number($('lr').value), clip: clip === '' ? null : Number(clip), epochs: Number($('epochs').value), seed: 1,
  };
}

function apply(preset) {
  for (const f of FIELDS) if (f in preset) $(f).value = preset[f] ?? '';
  $('batch_norm').checked = preset.batch_norm;
}

const lossPlot = new Plot($('loss'), { log: true, xLabel: 'epoch' });
const accPlot = new Plot($('acc'), { yMin: 0, yMax: 100, xLabel: 'epoch' });
const gradPlot = new Plot($('grads'), { log: true, xLabel: 'weighted layer (input side first)' });

let worker = null;
let run = null;

function status(text, state) {
  $('status').textContent = text;
  $('status').dataset.state = state;
}

function sci(v) {
  return v == null ? 'not finite' : v.toExponential(2);
}

function layerPoints(flow) {
  return flow.layers.map((v, i) => [i + 1, v ?? NaN]);
}

function showWords(flow) {
  const list = (title, items) => items.length ? `<p><strong>${title}</strong></p><ul>${items.join('')}</ul>` : '';
  const esc = s => s.replace(/&/g, '&amp;').replace(/</g, '&lt;');
  $('words').innerHTML =
    list('Findings', flow.findings.map(f => `<li>${esc(f)}</li>`)) +
    list('Remedies', flow.remedies.map(r => `<li><code>${esc(r.spelling)}</code>: ${esc(r.why)}</li>`)) +
    list('Caveats', flow.caveats.map(c => `<li>${esc(c)}</li>`));
}

function redraw() {
  const e = run.epochs;
  lossPlot.set([
    { label: 'training', colour: '#1f6feb', points: e.map(x => [x.epoch, x.train_loss ?? NaN]) },
    { label: 'test', colour: '#e36209', points: e.map(x => [x.epoch, x.test_loss ?? NaN]) },
  ]);
  accPlot.set([{ label: 'test', colour: '#1a7f37', points: e.map(x => [x.epoch, 100 * (x.test_accuracy ?? NaN)]) }]);
  const shades = e.map((x, i) => ({
    colour: `rgba(31, 111, 235, ${0.15 + 0.85 * (i + 1) / e.length})`, width: i === e.length - 1 ? 2.5 : 1,
    label: i === e.length - 1 ? `after epoch ${x.epoch}` : '', points: layerPoints(x.flow),
  }));
  gradPlot.set([{ label: 'at initialization', colour: '#cf222e', width: 2.5, points: layerPoints(run.start.flow) }, ...shades]);
}

function onMessage({ data: m }) {
  switch (m.type) {
    case 'ready':
      status('Ready.', 'ready');
      break;
    case 'start': {
      run.start = m;
      $('network').textContent = `network! { struct Net${m.network} }`;
      $('verdict').textContent = m.flow.verdict;
      $('verdict').className = m.flow.verdict.split(',')[0];
      $('ratio').textContent = sci(m.flow.ratio);
      $('ratio').dataset.value = m.flow.ratio ?? '';
      $('factor').textContent = m.flow.factor == null ? '–' : m.flow.factor.toFixed(3);
      showWords(m.flow);
      redraw();
      status(`Training epoch 1 of ${m.epochs}…`, 'training');
      break;
    }
    case 'epoch':
      if (m.stopped) {
        $('stopped').textContent = m.stopped;
        break;
      }
      run.epochs.push(m);
      $('accuracy').textContent = `${(100 * m.test_accuracy).toFixed(1)} %`;
      $('accuracy').dataset.value = m.test_accuracy;
      redraw();
      status(`Epoch ${m.epoch} of ${run.start.epochs}: ${m.seconds.toFixed(2)} s, verdict now ${m.flow.verdict}.`, 'training');
      break;
    case 'done': {
      const took = ((performance.now() - run.began) / 1000).toFixed(1);
      status(`Done in ${took} s.`, 'done');
      break;
    }
    case 'error':
      status(`Error: ${m.message}`, 'error');
      break;
  }
}

function newWorker() {
  worker?.terminate();
  worker = new Worker('worker.js', { type: 'module' });
  worker.onmessage = onMessage;
}

$('train').onclick = () => {
  newWorker();
  run = { start: null, epochs: [], began: performance.now() };
  for (const id of ['verdict', 'ratio', 'factor', 'accuracy', 'stopped', 'words']) $(id).textContent = '';
  $('ratio').dataset.value = '';
  $('accuracy').dataset.value = '';
  status('Building the network…', 'training');
  worker.postMessage(settings());
};

$('stop').onclick = () => {
  newWorker();
  status('Stopped.', 'stopped');
};

for (const b of document.querySelectorAll('[data-preset]')) {
  b.onclick = () => apply(PRESETS[b.dataset.preset]);
}

newWorker();
