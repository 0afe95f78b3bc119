// The training page: the course's ε-MLP (ddpm_edu/nets/mlp.py) trained on 2-D points with
// TensorFlow.js, sampled with sampler.js's DDPM / DDIM updates, all from the manifest's "toy" section.
//
// Query parameters: preset=moons|rings|spiral|draw, weights=FILE (a network trained in PyTorch,
// ddpm_edu.web.toy.write_weights), noise=FILE (float32 x_T and z's, ddpm_edu.web.write_noise_file),
// backend=wasm|cpu|webgl (TensorFlow.js backend; default wasm), autotrain=STEPS.
// window.ddpmToy exposes the state and train(steps), sample(options), loadWeights(json) for tests.
import * as S from "./sampler.js";

const $ = (id) => document.getElementById(id);
const params = new URLSearchParams(location.search);
const api = { ready: false, error: null, step: 0, losses: [], trainMs: 0, training: false,
              path: null, off: null };
window.ddpmToy = api;
let tf, M, cfg, P, E, opt, data, cloud, generation = 0;  // E: the EMA weights that sample

function setStatus(text, isError = false) {
  $("status").textContent = text;
  $("status").classList.toggle("error", isError);
}

// ---- data: the presets (ddpm_edu.datasets.two_moons and two more) and drawn points -----------
const PRESETS = {
  moons(i, n, u, g) {  // two_moons: half circles, jitter 0.05, then shifted by (0.5, 0.25) and / 1.5
    const a = Math.PI * u(), low = i >= Math.floor(n / 2);
    const x = (low ? 1 - Math.cos(a) : Math.cos(a)) + 0.05 * g(), y = (low ? 0.5 - Math.sin(a) : Math.sin(a)) + 0.05 * g();
    return [(x - 0.5) / 1.5, (y - 0.25) / 1.5];
  },
  rings(i, n, u, g) {  // two circles, radii 0.35 and 0.8 (as many points per unit length), jitter 0.03
    const r = u() < 0.35 / 1.15 ? 0.35 : 0.8, a = 2 * Math.PI * u();
    return [r * Math.cos(a) + 0.03 * g(), r * Math.sin(a) + 0.03 * g()];
  },
  spiral(i, n, u, g) {  // one arm, 1.5 turns from radius 0.1 to 0.9, jitter 0.03
    const s = u(), a = 3 * Math.PI * s, r = 0.1 + 0.8 * s;
    return [r * Math.cos(a) + 0.03 * g(), r * Math.sin(a) + 0.03 * g()];
  },
};

function makeData(preset, n, seed) {
  if (preset === "draw") return new Float32Array(0);
  const u = S.uniformSource(seed), g = S.gaussianSource(seed + 1).normal, pts = new Float32Array(2 * n);
  for (let i = 0; i < n; i++) pts.set(PRESETS[preset](i, n, u, g), 2 * i);
  return pts;
}

// the blue cloud: the first 1000 data points with one fixed ε each; x_t = √ᾱ_t x_0 + √(1−ᾱ_t) ε
function makeCloud() {
  const n = Math.min(1000, data.length / 2);
  cloud = { x0: data.slice(0, 2 * n), eps: S.gaussianSource(7).take(2 * n) };
}

// ---- the network: ddpm_edu.nets.mlp.MLP in TensorFlow.js, weights named as its state_dict --------
function shapes(c) {
  const s = { "time_embed.mlp.0": [c.hidden, c.time_embed_dim], "time_embed.mlp.2": [c.hidden, c.hidden],
              inp: [c.hidden, c.dim] };
  for (let i = 0; i < c.num_blocks; i++) {
    s[`blocks.${i}.norm`] = "norm";
    for (const l of ["fc1", "emb", "fc2"]) s[`blocks.${i}.${l}`] = [c.hidden, c.hidden];
  }
  return { ...s, "out.0": "norm", "out.2": [c.dim, c.hidden] };
}

// torch's defaults: Linear weight and bias ~ U(−1/√fan_in, 1/√fan_in), LayerNorm weight 1, bias 0
function initialWeights(c, seed) {
  const u = S.uniformSource(seed), w = {};
  const uni = (n, b) => Float32Array.from({ length: n }, () => (2 * u() - 1) * b);
  for (const [name, shape] of Object.entries(shapes(c))) {
    if (shape === "norm") {
      w[name + ".weight"] = { shape: [c.hidden], data: new Float32Array(c.hidden).fill(1) };
      w[name + ".bias"] = { shape: [c.hidden], data: new Float32Array(c.hidden) };
    } else {
      const b = 1 / Math.sqrt(shape[1]);
      w[name + ".weight"] = { shape, data: uni(shape[0] * shape[1], b) };
      w[name + ".bias"] = { shape: [shape[0]], data: uni(shape[0], b) };
    }
  }
  return w;
}

// t (original indices 0..T, one per point) → one-hot rows [N, T + 1] (float32)
function oneHot(t) {
  const T1 = M.schedule.T + 1, h = new Float32Array(t.length * T1);
  t.forEach((k, i) => { h[i * T1 + k] = 1; });
  return tf.tensor2d(h, [t.length, T1]);
}

// x [N, 2], t one-hot [N, T + 1] → ε̂ [N, 2]; W: name → tensor. The time embedding and each
// block's Linear of it depend on t alone, so they are computed once for t = 0..T (a table of T + 1
// rows) and picked by the one-hot rows (a matrix product, which the wasm backend differentiates;
// it has no gradient for gather): the same numbers as per example, at a fraction of the work.
function forward(W, c, x, t) {
  const lin = (h, name) => tf.add(tf.matMul(h, W[name + ".weight"], false, true), W[name + ".bias"]);
  const norm = (h, name) => {  // LayerNorm over the features, ε = 1e-5
    const { mean, variance } = tf.moments(h, -1, true);
    return h.sub(mean).div(variance.add(1e-5).sqrt()).mul(W[name + ".weight"]).add(W[name + ".bias"]);
  };
  const silu = (h) => h.mul(tf.sigmoid(h));
  const half = Math.floor(c.time_embed_dim / 2);  // sinusoidal_embedding: [cos(tω_k), sin(tω_k)]
  const freqs = tf.exp(tf.range(0, half, 1, "float32").mul(-Math.log(10000)).div(half));
  const args = tf.range(0, M.schedule.T + 1, 1, "float32").reshape([-1, 1]).mul(freqs.reshape([1, -1]));
  let emb = tf.concat([tf.cos(args), tf.sin(args)], 1);
  if (c.time_embed_dim % 2) emb = tf.pad(emb, [[0, 0], [0, 1]]);
  emb = silu(lin(silu(lin(emb, "time_embed.mlp.0")), "time_embed.mlp.2"));  // SiLU: each block's
  let h = lin(x, "inp");
  for (let i = 0; i < c.num_blocks; i++) {
    const b = `blocks.${i}.`;
    const z = lin(silu(norm(h, b + "norm")), b + "fc1").add(tf.matMul(t, lin(emb, b + "emb")));
    h = h.add(lin(silu(z), b + "fc2"));
  }
  return lin(silu(norm(h, "out.0")), "out.2");
}

function setWeights(c, weights) {
  for (const v of [...Object.values(P || {}), ...Object.values(E || {})]) v.dispose();
  cfg = c; P = {}; E = {}; generation++;
  for (const [name, w] of Object.entries(weights)) {
    const value = tf.tensor(Float32Array.from(w.data), w.shape);
    P[name] = tf.variable(value, true, `${name}@${generation}`);
    E[name] = tf.variable(value, false, `ema.${name}@${generation}`);
    value.dispose();
  }
  if (opt) opt.dispose();
  opt = tf.train.adam(M.train.lr);
  api.step = 0; api.losses = []; api.trainMs = 0; api.path = null; api.off = null;
}

// ---- training: Algorithm 1 of DDPM, as ddpm_edu.training (Adam, warm-up, clipping, EMA) --------
function trainStep(rand) {
  const B = M.train.batch_size, T = M.schedule.T, ab = M.schedule.alpha_bar, n = data.length / 2;
  const xt = new Float32Array(2 * B), eps = rand.g.take(2 * B), t = new Array(B);
  for (let i = 0; i < B; i++) {
    const j = Math.min(n - 1, Math.floor(rand.u() * n)), k = 1 + Math.min(T - 1, Math.floor(rand.u() * T));
    const a = Math.sqrt(ab[k]), s = Math.sqrt(1 - ab[k]);
    t[i] = k;
    for (let d = 0; d < 2; d++) xt[2 * i + d] = a * data[2 * j + d] + s * eps[2 * i + d];
  }
  const tr = M.train;
  opt.learningRate = tr.lr * Math.min(1, (api.step + 1) / Math.max(1, tr.warmup_steps));
  const loss = tf.tidy(() => {
    const x = tf.tensor2d(xt, [B, 2]), tt = oneHot(t), target = tf.tensor2d(eps, [B, 2]);
    const { value, grads } = tf.variableGrads(() => forward(P, cfg, x, tt).sub(target).square().mean());
    const norm = tf.sqrt(tf.addN(Object.values(grads).map((g) => g.square().sum())));
    const scale = tf.minimum(1, tf.div(tr.grad_clip, norm.add(1e-6)));
    const clipped = {};
    for (const [k, g] of Object.entries(grads)) clipped[k] = g.mul(scale);
    opt.applyGradients(clipped);
    for (const name of Object.keys(P)) E[name].assign(E[name].mul(tr.ema_decay).add(P[name].mul(1 - tr.ema_decay)));
    return value;
  });
  api.losses.push(loss.dataSync()[0]);
  loss.dispose();
  api.step++;
}

// ---- sampling: sampler.js's DDPM / DDIM updates with the EMA weights, x̂_0 unclipped -------------
function sample({ sampler = $("sampler").value, steps = null, n = M.train.n_samples, seed = M.sampler_defaults.seed,
                  noise = api.noise || null, weights = E } = {}) {
  const T = M.schedule.T, S_ = sampler === "ddpm" ? (steps || T) : (steps || Number($("ddim-steps").value));
  const chain = S.makeChain(M.schedule.alpha_bar, S_);
  const src = noise ? S.fileSource(noise) : S.gaussianSource(seed);
  let x = Float32Array.from(src.take(2 * n));
  const path = [{ t: chain.t[S_], x }];
  for (let k = S_; k >= 1; k--) {
    const out = tf.tidy(() => forward(weights, cfg, tf.tensor2d(x, [n, 2]), oneHot(new Array(n).fill(chain.t[k]))).dataSync());
    const z = S.needsNoise(sampler, 0, k) ? src.take(2 * n) : null;
    x = (sampler === "ddim" ? S.ddimStep(chain, k, x, out, M.mean_type, 0, z, M.clip_x0)
                            : S.ddpmStep(chain, k, x, out, M.mean_type, M.var_type, z, M.clip_x0)).x;
    path.push({ t: chain.t[k - 1], x });
  }
  return path;
}

// share of points farther than off_radius from every data point (chapter 5's "off the moons")
function offShare(x) {
  const r2 = M.off_radius ** 2, n = x.length / 2, m = data.length / 2;
  let off = 0;
  for (let i = 0; i < n; i++) {
    let near = false;
    for (let j = 0; j < m && !near; j++) {
      const dx = x[2 * i] - data[2 * j], dy = x[2 * i + 1] - data[2 * j + 1];
      near = dx * dx + dy * dy <= r2;
    }
    if (!near) off++;
  }
  return off / n;
}

function resample() {
  if (!data.length) return;
  const start = performance.now();
  api.path = sample();
  api.off = offShare(api.path[api.path.length - 1].x);
  $("quality").textContent = `samples (${api.path.length - 1} ${$("sampler").value.toUpperCase()} steps, ` +
    `${(performance.now() - start).toFixed(0)} ms): ${(100 * api.off).toFixed(1)} % off the data ` +
    `(farther than ${M.off_radius} from every data point)`;
  draw();
}

// ---- drawing ---------------------------------------------------------------------------------------
const VIEW = 1.6;  // the plot shows [−1.6, 1.6]²
const toPx = (v, size) => (v + VIEW) / (2 * VIEW) * size;

function dots(ctx, pts, color, r, limit = Infinity) {
  ctx.fillStyle = color;
  const W = ctx.canvas.width, n = Math.min(pts.length / 2, limit);
  for (let i = 0; i < n; i++) ctx.fillRect(toPx(pts[2 * i], W) - r / 2, toPx(-pts[2 * i + 1], W) - r / 2, r, r);
}

function draw() {
  const ctx = $("plot").getContext("2d"), W = ctx.canvas.width, t = Number($("tslider").value);
  ctx.clearRect(0, 0, W, W);
  dots(ctx, data, "#bbb", 2, 4000);
  if (t > 0 && cloud.x0.length) {
    const ab = M.schedule.alpha_bar[t], a = Math.sqrt(ab), s = Math.sqrt(1 - ab);
    dots(ctx, cloud.x0.map((v, i) => a * v + s * cloud.eps[i]), "#1f77b4", 2.5);
  }
  if (api.path) {
    const at = api.path.findIndex((p) => p.t <= t), upTo = at < 0 ? api.path.length - 1 : at;
    ctx.strokeStyle = "rgba(230, 85, 13, .35)";
    for (let i = 0; i < 25; i++) {
      ctx.beginPath();
      for (let k = 0; k <= upTo; k++) ctx.lineTo(toPx(api.path[k].x[2 * i], W), toPx(-api.path[k].x[2 * i + 1], W));
      ctx.stroke();
    }
    dots(ctx, api.path[upTo].x, "#e6550d", 3);
  }
  $("t-out").textContent = String(t);
}

function drawLoss() {
  const c = $("loss"), ctx = c.getContext("2d"), L = api.losses, w = c.width, h = c.height;
  ctx.clearRect(0, 0, w, h);
  if (L.length < 2) return;
  const smooth = [], every = Math.max(1, Math.floor(L.length / w));
  let m = L[0];
  for (let i = 0; i < L.length; i++) { m = 0.95 * m + 0.05 * L[i]; if (i % every === 0) smooth.push(m); }
  const top = Math.max(...smooth.slice(Math.min(5, smooth.length - 1)));
  ctx.strokeStyle = "#333";
  ctx.beginPath();
  smooth.forEach((v, i) => ctx.lineTo(i / (smooth.length - 1) * w, h - 4 - v / top * (h - 14)));
  ctx.stroke();
  ctx.fillStyle = "#555";
  ctx.fillText(`loss (‖ε̂ − ε‖², smoothed); 0 at the bottom, ${top.toFixed(3)} at the top`, 6, 12);
}

function readout() {
  const L = api.losses.slice(-50), mean = L.reduce((a, b) => a + b, 0) / Math.max(1, L.length);
  $("progress").textContent = `step ${api.step}: loss ${mean.toFixed(4)} (mean of the last ${L.length}), ` +
    `${api.trainMs ? (1000 * api.step / api.trainMs).toFixed(0) : "–"} steps/s`;
}

// ---- the training loop: a few steps per frame, samples every sample_every steps -----------------
async function run(untilStep = Infinity) {
  if (data.length < 2 * 10) { setStatus("draw at least 10 points first (or pick a data set)", true); return; }
  const rand = { u: S.uniformSource(1000 + api.step), g: S.gaussianSource(2000 + api.step) };
  api.training = true;
  $("train").textContent = "Pause";
  while (api.training && api.step < untilStep) {
    const start = performance.now();
    for (let i = 0; i < 10 && api.step < untilStep; i++) trainStep(rand);
    api.trainMs += performance.now() - start;
    if (api.step % M.train.sample_every === 0 || api.step === untilStep) resample();
    readout(); drawLoss();
    await new Promise((resolve) => setTimeout(resolve, 0));
  }
  api.training = false;
  $("train").textContent = "Train";
}

function setData(points) {
  data = points;
  makeCloud();
  api.path = null;
  draw();
}

function wire() {
  $("preset").addEventListener("change", () => setData(makeData($("preset").value, M.train.n_data, 0)));
  $("clear").addEventListener("click", () => { $("preset").value = "draw"; setData(new Float32Array(0)); });
  $("train").addEventListener("click", () => { if (api.training) api.training = false; else run(); });
  $("reset").addEventListener("click", () => { api.training = false; setWeights(M.network, initialWeights(M.network, Date.now() % 1e9)); readout(); drawLoss(); draw(); });
  $("resample").addEventListener("click", resample);
  $("tslider").addEventListener("input", draw);
  const plot = $("plot"), jitter = S.gaussianSource(3);
  const add = (ev) => {  // drawing: a small blob of points under the pointer
    if (!(ev.buttons & 1)) return;
    if ($("preset").value !== "draw") { $("preset").value = "draw"; data = new Float32Array(0); }
    const r = plot.getBoundingClientRect(), px = (ev.clientX - r.left) / r.width, py = (ev.clientY - r.top) / r.height;
    const x = px * 2 * VIEW - VIEW, y = -(py * 2 * VIEW - VIEW), more = new Float32Array(2 * 6);
    for (let i = 0; i < 6; i++) more.set([x + 0.02 * jitter.normal(), y + 0.02 * jitter.normal()], 2 * i);
    const next = new Float32Array(data.length + more.length);
    next.set(data); next.set(more, data.length);
    setData(next);
  };
  plot.addEventListener("pointerdown", (ev) => { plot.setPointerCapture(ev.pointerId); add(ev); });
  plot.addEventListener("pointermove", add);
}

function script(src) {  // a classic script (TensorFlow.js's browser bundles define window.tf)
  return new Promise((resolve, reject) => {
    const el = document.createElement("script");
    el.src = src; el.crossOrigin = "anonymous";
    el.onload = resolve;
    el.onerror = () => { el.remove(); reject(new Error(`cannot load ${src}`)); };
    document.head.append(el);
  });
}

// TensorFlow.js and its WebAssembly backend from this site's tfjs/ folder, else from the CDN
async function loadTf(rt) {
  const places = rt.local ? [[(f) => new URL(rt.local + f, location.href).href, "this site"]] : [];
  places.push([(f) => rt.cdn[f] + f, "the CDN"]);
  for (const [url, where] of places) {
    try {
      if (!window.tf) await script(url(rt.files[0]));
      await script(url(rt.files[1]));
      window.tf.wasm.setWasmPaths(url(rt.files[2]).slice(0, -rt.files[2].length));  // its folder
      return { tf: window.tf, where };
    } catch (err) { console.warn(`TensorFlow.js not loaded from ${where}:`, err); }
  }
  throw new Error("cannot load TensorFlow.js: the tfjs/ folder beside this page is missing (export again " +
    "with ddpm-edu export-web) and the CDN is not reachable (no internet?)");
}

// the wasm backend (one thread), else the cpu one (a browser without WebAssembly SIMD)
async function chooseBackend(wanted) {
  tf.env().set("WASM_HAS_MULTITHREAD_SUPPORT", false);
  if (await tf.setBackend(wanted).catch(() => false)) return;
  console.warn(`TensorFlow.js backend ${wanted} not available here; using cpu`);
  await tf.setBackend("cpu");
}

async function main() {
  const manifest = await (await fetch("manifest.json")).json();
  M = api.manifest = manifest.toy;
  if (!M) throw new Error("this manifest has no training page (toy section): export again with ddpm-edu export-web");
  const loaded = await loadTf(M.tfjs);
  tf = loaded.tf;
  await chooseBackend(params.get("backend") || "wasm");
  $("T").textContent = String(M.schedule.T);
  $("tslider").max = String(M.schedule.T);
  $("ddim-steps").max = String(M.schedule.T);
  $("ddim-steps").value = String(M.sampler_defaults.ddim_steps);
  $("sampler").value = M.sampler_defaults.sampler;
  $("preset").value = params.get("preset") || "moons";
  setData(makeData($("preset").value, M.train.n_data, 0));
  if (params.has("noise")) api.noise = new Float32Array(await (await fetch(params.get("noise"))).arrayBuffer());
  if (params.has("weights")) {
    const w = await (await fetch(params.get("weights"))).json();
    setWeights({ ...w.network }, w.tensors);
  } else setWeights(M.network, initialWeights(M.network, 0));
  wire();
  Object.assign(api, { sample, offShare, tf, forward: (x, t) => forward(E, cfg, x, t),
    setPreset: (name) => { $("preset").value = name; setData(makeData(name, M.train.n_data, 0)); },
    train: (steps) => run(api.step + steps).then(() => ({ step: api.step, seconds: api.trainMs / 1000, off: api.off })) });
  setStatus(`ready: TensorFlow.js ${tf.version.tfjs} (${tf.getBackend()} backend) from ${loaded.where}; ` +
    `network: ε-MLP, ${cfg.num_blocks} blocks of width ${cfg.hidden}; schedule ${M.schedule.config.kind}, T = ${M.schedule.T}`);
  for (const id of ["train", "reset", "resample"]) $(id).disabled = false;
  readout();
  api.ready = true;
  if (params.has("autotrain")) await api.train(Number(params.get("autotrain")));
}

main().catch((err) => { setStatus(String(err.message || err), true); api.error = String(err); console.error(err); });
