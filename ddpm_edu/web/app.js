// The page: load the manifest and ONNX Runtime Web, run the sampler of sampler.js, draw each step.
//
// Query parameters set the controls (sampler, steps, eta, seed, n, precision; for a class-conditional
// model also digit = 0..9 or "any", and guidance = w), plus:
//   noise=FILE   float32 noise (x_T, then each noisy step's z) instead of the seeded generator
//   autorun=1    generate as soon as the page is ready;  threads=K  wasm threads (if isolated)
//   record=1     keep x_t and x̂_0 of every step in window.ddpmEdu.lastRun (else only the latest)
// window.ddpmEdu exposes the manifest, generate(options) and the last run (for tests and the curious).
import * as S from "./sampler.js";

const $ = (id) => document.getElementById(id);
const params = new URLSearchParams(location.search);
const api = { manifest: null, runtime: null, lastRun: null, sessions: {}, stop: false, running: false };
window.ddpmEdu = api;

function setStatus(text, isError = false) {
  $("status").textContent = text;
  $("status").classList.toggle("error", isError);
}

async function loadRuntime(rt) {
  const places = rt.local ? [[new URL(rt.local, location.href).href, "this site"]] : [];
  places.push([rt.cdn + rt.entry, "the CDN"]);
  for (const [url, where] of places) {
    try {
      return { ort: await import(url), where };
    } catch (err) {
      console.warn(`ONNX Runtime Web not loaded from ${url}:`, err);
    }
  }
  throw new Error("cannot load ONNX Runtime Web: the ort/ folder beside this page is missing " +
    "(export again with ddpm-edu export-web) and the CDN is not reachable (no internet?)");
}

async function session(precision) {
  if (!api.sessions[precision]) {
    const file = api.manifest.models[precision].file;
    api.sessions[precision] = await api.runtime.ort.InferenceSession.create(file,
      { executionProviders: ["wasm"], graphOptimizationLevel: "all" });
  }
  return api.sessions[precision];
}

// Images (N·C·H·W in [−1, 1]) → one grid on a canvas; pixel = round((v + 1)·127.5), as to_pixels.
function draw(canvas, x, n) {
  const [C, H, W] = api.manifest.image.shape;
  const cols = Math.ceil(Math.sqrt(n)), rows = Math.ceil(n / cols), pad = 1;
  canvas.width = cols * (W + pad) + pad;
  canvas.height = rows * (H + pad) + pad;
  const ctx = canvas.getContext("2d");
  const img = ctx.createImageData(canvas.width, canvas.height);
  img.data.fill(128);
  const pixel = (v) => Math.min(255, Math.max(0, Math.round((v + 1) * 127.5)));
  for (let b = 0; b < n; b++) {
    const ox = pad + (b % cols) * (W + pad), oy = pad + Math.floor(b / cols) * (H + pad);
    for (let i = 0; i < H; i++) {
      for (let j = 0; j < W; j++) {
        const at = 4 * ((oy + i) * canvas.width + ox + j), base = b * C * H * W + i * W + j;
        for (let c = 0; c < 3; c++) img.data[at + c] = pixel(x[base + (C === 3 ? c * H * W : 0)]);
        img.data[at + 3] = 255;
      }
    }
  }
  ctx.putImageData(img, 0, 0);
}

function options() {
  return {
    sampler: $("sampler").value, steps: Number($("steps").value), eta: Number($("eta").value),
    seed: Number($("seed").value), n: Number($("n").value), precision: $("precision").value,
    noise: api.noise || null, record: params.get("record") === "1",
    ...(api.manifest.conditional ? { digit: $("digit").value, guidance: Number($("guidance").value) } : {}),
  };
}

const mean = (a) => a.reduce((s, v) => s + v, 0) / a.length;

// The network's output for x at original index tOrig: one call; for a class-conditional model with
// guidance, one call on the doubled batch [x; x] with labels [y; ∅], combined by guidedOutput.
async function networkOutput(net, x, tOrig, n, call, w) {
  const m = api.manifest, ort = api.runtime.ort, [C, H, W] = m.image.shape;
  const rows = call && call.doubled ? 2 * n : n;
  let xin = x;
  if (rows > n) { xin = new Float32Array(2 * x.length); xin.set(x); xin.set(x, x.length); }
  const tk = BigInt(tOrig), feeds = {
    [m.onnx.inputs[0]]: new ort.Tensor("float32", xin, [rows, C, H, W]),
    [m.onnx.inputs[1]]: new ort.Tensor("int64", BigInt64Array.from({ length: rows }, () => tk), [rows]) };
  if (call) feeds[m.onnx.inputs[2]] = new ort.Tensor("int64", call.labels, [rows]);
  const out = (await net.run(feeds))[m.onnx.output].data;
  return rows > n ? S.guidedOutput(out, w) : out;
}

// One run of the chain from x_T to x_0, drawing x_t and x̂_0 after every step.
async function generate(opts = options()) {
  const m = api.manifest;
  const [C, H, W] = m.image.shape, D = C * H * W, n = opts.n;
  const call = m.conditional ? S.callLabels(m.conditional, opts.digit, opts.guidance, n) : null;
  const chain = S.makeChain(m.schedule.alpha_bar, opts.steps);
  const noise = opts.noise ? S.fileSource(opts.noise) : S.gaussianSource(opts.seed);
  const net = await session(opts.precision);
  let x = Float32Array.from(noise.take(n * D));
  const run = { options: { ...opts, noise: !!opts.noise }, t: [chain.t[opts.steps]], x: [x], x0: [],
                msPerStep: [], netMsPerStep: [], done: false };  // x, x0: every step only if recording
  api.lastRun = run;
  api.stop = false;
  draw($("xt"), x, n);
  for (let k = opts.steps; k >= 1 && !api.stop; k--) {
    const start = performance.now();
    const out = await networkOutput(net, x, chain.t[k], n, call, opts.guidance);
    const netMs = performance.now() - start;
    const z = S.needsNoise(opts.sampler, opts.eta, k) ? noise.take(n * D) : null;
    const step = opts.sampler === "ddim"
      ? S.ddimStep(chain, k, x, out, m.mean_type, opts.eta, z)
      : S.ddpmStep(chain, k, x, out, m.mean_type, m.var_type, z);
    x = step.x;
    run.msPerStep.push(performance.now() - start);
    run.netMsPerStep.push(netMs);
    run.t.push(chain.t[k - 1]);
    if (opts.record) { run.x.push(x); run.x0.push(step.x0); } else { run.x = [x]; run.x0 = [step.x0]; }
    draw($("xt"), x, n);
    draw($("x0"), step.x0, n);
    $("progress").textContent =
      `step ${opts.steps - k + 1} of ${opts.steps}: t = ${chain.t[k]} → ${chain.t[k - 1]}`;
    $("timing").textContent = `time per step: ${mean(run.msPerStep).toFixed(1)} ms on average ` +
      `(network ${mean(run.netMsPerStep).toFixed(1)} ms, ${n} image${n > 1 ? "s" : ""} at once` +
      `${call && call.doubled ? ", twice each for guidance" : ""}, ` +
      `${opts.precision} weights)`;
    await new Promise((resolve) => requestAnimationFrame(() => resolve()));  // let the page repaint
  }
  run.done = !api.stop;
  return run;
}

// A class-conditional model: show the digit picker and the guidance control; their initial values.
function conditionalControls(cond) {
  if (!cond) return {};
  for (let y = 0; y < cond.num_classes; y++) $("digit").add(new Option(String(y), String(y)));
  $("guidance").max = cond.guidance_max;
  for (const el of document.querySelectorAll(".conditional")) el.hidden = false;
  return { digit: cond.default_label, guidance: cond.default_guidance };
}

function wireControls(m) {
  const d = m.sampler_defaults;
  for (const [name, model] of Object.entries(m.models)) {
    const kb = (model.bytes / 1024).toFixed(0);
    $("precision").add(new Option(`${name} (${kb} KB)`, name));
  }
  $("steps").max = m.schedule.T;
  const initial = { sampler: d.sampler, steps: d.steps, eta: d.eta, seed: d.seed, n: d.n,
                    precision: m.default_model, ...conditionalControls(m.conditional) };
  for (const key of Object.keys(initial)) {
    const value = params.has(key) ? params.get(key) : initial[key];
    if (key === "n" && ![...$("n").options].some((o) => o.value === String(value))) $("n").add(new Option(value));
    $(key).value = String(value);
  }
  const show = () => {
    $("steps-out").textContent = $("steps").value;
    $("eta-out").textContent = $("eta").value;
    $("eta").disabled = $("sampler").value !== "ddim";
    $("guidance-out").textContent = $("guidance").value;
    $("guidance").disabled = $("digit").value === "any";
  };
  for (const id of ["steps", "eta", "sampler", "guidance", "digit"]) $(id).addEventListener("input", show);
  show();
  $("generate").addEventListener("click", async () => {
    if (api.running) return;
    api.running = true;
    $("generate").disabled = true; $("stop").disabled = false;
    try {
      await generate();
    } catch (err) {
      setStatus(String(err.message || err), true);
      console.error(err);
    } finally {
      api.running = false;
      $("generate").disabled = false; $("stop").disabled = true;
    }
  });
  $("stop").addEventListener("click", () => { api.stop = true; });
}

async function main() {
  const m = api.manifest = await (await fetch("manifest.json")).json();
  $("title").textContent = m.title;
  wireControls(m);
  if (params.has("noise")) {
    const response = await fetch(params.get("noise"));
    if (!response.ok) throw new Error(`noise file ${params.get("noise")}: HTTP ${response.status}`);
    api.noise = new Float32Array(await response.arrayBuffer());
  }
  setStatus(`loading ONNX Runtime Web ${m.runtime.version}…`);
  api.runtime = await loadRuntime(m.runtime);
  // threads need a cross-origin-isolated page (ddpm-edu serve sends the headers); workers started
  // from a CDN script are another matter, so a runtime from the CDN runs on one thread
  if (api.runtime.where === "the CDN") api.runtime.ort.env.wasm.numThreads = 1;
  if (params.has("threads")) api.runtime.ort.env.wasm.numThreads = Number(params.get("threads"));
  await session($("precision").value);
  const threads = self.crossOriginIsolated ? api.runtime.ort.env.wasm.numThreads || "auto" : 1;
  setStatus(`ready: ONNX Runtime Web ${m.runtime.version} (wasm, ${threads} thread${threads === 1 ? "" : "s"}) ` +
    `from ${api.runtime.where}; model ${m.checkpoint} (${m.image.shape.join("×")}, T = ${m.schedule.T}, ` +
    `predicts ${m.mean_type}${m.conditional ? `, ${m.conditional.num_classes} classes` : ""})${api.noise ? "; noise from " + params.get("noise") : ""}`);
  api.generate = generate;
  $("generate").disabled = false;
  api.ready = true;
  if (params.get("autorun") === "1") $("generate").click();
}

main().catch((err) => { setStatus(String(err.message || err), true); api.error = String(err); console.error(err); });
