// Trains one study off the page's thread: the settings come in, the
// network's gradient flow at initialization and each epoch's results go out.
import init, { Study } from './pkg/nn_web.js';

const ready = init();

self.onmessage = async ({ data: settings }) => {
  await ready;
  let study;
  try {
    study = new Study(JSON.stringify(settings));
  } catch (e) {
    postMessage({ type: 'error', message: e.message ?? String(e) });
    return;
  }
  try {
    const start = JSON.parse(study.start());
    postMessage({ type: 'start', ...start });
    for (let i = 0; i < start.epochs; i++) {
      const epoch = JSON.parse(study.epoch());
      postMessage({ type: 'epoch', ...epoch });
      if (epoch.stopped) break;
    }
    postMessage({ type: 'done' });
  } catch (e) {
    postMessage({ type: 'error', message: e.message ?? String(e) });
  } finally {
    study.free();
  }
};

ready.then(() => postMessage({ type: 'ready' }), e => postMessage({ type: 'error', message: String(e) }));
