'use strict';
// The vae_course latent explorer. A trained model's decoder and encoder, exported to ONNX by the course
// (`vae_course.widget_maps.explorer_bundle`), run in this browser with onnxruntime-web (WebAssembly): no Python kernel,
// no server beyond static files. models/index.json lists the bundles; each folder models/NAME/ holds
// decoder.onnx (codes (B, D) -> images (B, C, H, W) in the model's value range), encoder.onnx (images -> codes,
// the posterior mean) and meta.json (shape, value range, the ranked latent dimensions, test-image codes).

ort.env.wasm.wasmPaths = new URL('vendor/', document.baseURI).href;   // beside this page, wherever it is served
ort.env.wasm.numThreads = 1;        // no SharedArrayBuffer, so any static host (and a file served by Quarto) works

const $ = (id) => document.getElementById(id);
const fmt = (v, n = 2) => Number(v).toFixed(n);

function gaussian() {               // one N(0, 1) draw (Box-Muller)
  let u = 0; while (u === 0) u = Math.random();
  return Math.sqrt(-2 * Math.log(u)) * Math.cos(2 * Math.PI * Math.random());
}

class Explorer {
  constructor() { this.latencies = []; this.running = null; this.wanted = null; this.z = null; }

  async load(name) {
    const root = `models/${name}/`;
    this.meta = await (await fetch(root + 'meta.json')).json();
    const opts = { executionProviders: ['wasm'] };
    [this.decoder, this.encoder] = await Promise.all([ort.InferenceSession.create(root + 'decoder.onnx', opts),
                                                       ort.InferenceSession.create(root + 'encoder.onnx', opts)]);
    this.name = name;
    this.buildControls();
    this.setCode(Float32Array.from(this.meta.base_code));
    await this.idle();
  }

  // --- the two networks ------------------------------------------------------------------------------------
  async decode(z) {                 // z: D numbers -> C*H*W numbers in the model's value range
    const t = new ort.Tensor('float32', Float32Array.from(z), [1, this.meta.latent_dim]);
    const out = await this.decoder.run({ [this.decoder.inputNames[0]]: t });
    return out[this.decoder.outputNames[0]].data;
  }
  async encode(x) {                 // x: C*H*W numbers in the model's value range -> D numbers (the posterior mean)
    const t = new ort.Tensor('float32', Float32Array.from(x), [1, ...this.meta.shape]);
    const out = await this.encoder.run({ [this.encoder.inputNames[0]]: t });
    return out[this.encoder.outputNames[0]].data;
  }

  // --- the current code and its picture ----------------------------------------------------------------------
  setCode(z, from = null) {
    this.z = Float32Array.from(z);
    for (const s of this.sliders) if (s.input !== from) { s.input.value = this.z[s.dim]; s.output.value = fmt(this.z[s.dim]); }
    return this.request();
  }
  request() {                       // decode the latest code; requests that arrive meanwhile are merged into one
    this.wanted = this.z;
    if (!this.running) this.running = this.loop();
    return this.running;
  }
  async loop() {
    while (this.wanted) {
      const z = this.wanted; this.wanted = null;
      const t0 = performance.now();
      this.paint(await this.decode(z));
      this.latencies.push(performance.now() - t0);
    }
    this.running = null;
    const n = this.latencies.length, last = this.latencies[n - 1];
    $('status').textContent = `${this.meta.title}: ${this.meta.latent_dim}-d code, decoded in this browser by onnxruntime-web ` +
                              `(WebAssembly) in ${fmt(last, 1)} ms`;
  }
  idle() { return this.running || Promise.resolve(); }
  paint(x) {
    const [C, H, W] = this.meta.shape, [lo, hi] = this.meta.value_range;
    const img = new ImageData(W, H);
    for (let i = 0; i < H * W; i++) {
      for (let c = 0; c < 3; c++) {
        const v = x[(C === 1 ? 0 : c) * H * W + i];
        img.data[4 * i + c] = Math.round(Math.min(1, Math.max(0, (v - lo) / (hi - lo))) * 255);
      }
      img.data[4 * i + 3] = 255;
    }
    const off = new OffscreenCanvas(W, H); off.getContext('2d').putImageData(img, 0, 0);
    const ctx = $('image').getContext('2d'); ctx.imageSmoothingEnabled = false;
    ctx.drawImage(off, 0, 0, $('image').width, $('image').height);
  }

  // --- the controls -------------------------------------------------------------------------------------------
  buildControls() {
    const m = this.meta, box = $('sliders');
    box.replaceChildren();
    this.sliders = m.dims.map((d, k) => {
      const row = document.createElement('div'); row.className = 'slider';
      const label = document.createElement('label'), input = document.createElement('input'), output = document.createElement('output');
      const lo = m.center[d] - m.span * m.scale[d], hi = m.center[d] + m.span * m.scale[d];
      label.textContent = `z[${d}]  ${m.score_name} ${fmt(m.scores[k])}${m.score_unit ? ' ' + m.score_unit : ''}`; label.htmlFor = input.id = `dim-${d}`;
      Object.assign(input, { type: 'range', min: lo, max: hi, step: (hi - lo) / 200 });
      input.addEventListener('input', () => { const z = Float32Array.from(this.z); z[d] = Number(input.value); output.value = fmt(z[d]); this.setCode(z, input); });
      row.append(label, input, output); box.append(row);
      return { dim: d, input, output };
    });
    $('pair').replaceChildren(...m.pairs.map((p, i) => new Option(`${p.label_a} -> ${p.label_b} (test images ${p.a}, ${p.b})`, i)));
    $('t').value = 0; $('t-value').value = '0.00';
    $('draw-box').hidden = !m.draw;
    $('caption').textContent = `decoded in this browser (${m.shape.join('x')}, ${m.title})`;
  }
  interpolate() {
    const p = this.meta.pairs[Number($('pair').value)], t = Number($('t').value);
    $('t-value').value = fmt(t);
    return this.setCode(p.za.map((a, i) => (1 - t) * a + t * p.zb[i]));
  }
  randomCode() {
    const T = Number($('temperature').value), m = this.meta;
    return this.setCode(m.center.map((c, i) => c + T * m.scale[i] * gaussian()));
  }

  // --- drawing: the encoder reads the canvas ---------------------------------------------------------------------
  drawingInput() {                  // the drawing as the encoder's input: area-downsampled to H x W, grey, in the value range
    const [C, H, W] = this.meta.shape, [lo, hi] = this.meta.value_range;
    const off = new OffscreenCanvas(W, H), ctx = off.getContext('2d', { willReadFrequently: true });
    ctx.imageSmoothingEnabled = true; ctx.imageSmoothingQuality = 'high';
    ctx.drawImage($('draw'), 0, 0, W, H);
    const px = ctx.getImageData(0, 0, W, H).data, x = new Float32Array(C * H * W);
    for (let c = 0; c < C; c++) for (let i = 0; i < H * W; i++) x[c * H * W + i] = lo + (hi - lo) * px[4 * i + (C === 1 ? 0 : c)] / 255;
    return x;
  }
  async encodeDrawing() {
    this.lastInput = this.drawingInput();
    this.lastDrawnCode = await this.encode(this.lastInput);
    return this.setCode(this.lastDrawnCode);
  }
}

function setupDrawing(ex) {
  const cv = $('draw'), ctx = cv.getContext('2d');
  const clear = () => { ctx.fillStyle = '#000'; ctx.fillRect(0, 0, cv.width, cv.height); };
  clear();
  let last = null;
  const at = (e) => { const r = cv.getBoundingClientRect(); return [(e.clientX - r.left) * cv.width / r.width, (e.clientY - r.top) * cv.height / r.height]; };
  cv.addEventListener('pointerdown', (e) => { last = at(e); cv.setPointerCapture(e.pointerId); });
  cv.addEventListener('pointermove', (e) => {
    if (!last) return;
    const p = at(e);
    Object.assign(ctx, { strokeStyle: '#fff', lineWidth: cv.width / 12, lineCap: 'round', lineJoin: 'round' });
    ctx.beginPath(); ctx.moveTo(...last); ctx.lineTo(...p); ctx.stroke(); last = p;
  });
  const end = () => { if (last) { last = null; ex.encodeDrawing(); } };
  cv.addEventListener('pointerup', end); cv.addEventListener('pointerleave', end);
  $('clear').addEventListener('click', clear);
}

async function main() {
  const ex = window.explorer = new Explorer();
  try {
    const models = await (await fetch('models/index.json')).json();
    $('model').replaceChildren(...models.map((m) => new Option(m.title, m.name)));
    $('model').addEventListener('change', async () => { await ex.load($('model').value); });
    $('temperature').addEventListener('input', () => { $('temperature-value').value = fmt($('temperature').value); });
    $('random').addEventListener('click', () => ex.randomCode());
    $('pair').addEventListener('change', () => ex.interpolate());
    $('t').addEventListener('input', () => ex.interpolate());
    setupDrawing(ex);
    await ex.load(models[0].name);
    $('explorer').dataset.ready = 'true';
  } catch (err) {
    $('status').textContent = `could not load the model: ${err.message || err}. Build it with: python tools/build_explorer.py`;
    $('explorer').dataset.ready = 'error';
    throw err;
  }
}
main();
