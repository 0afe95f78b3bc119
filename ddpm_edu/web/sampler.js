// The reverse process in the browser: the same math as ddpm_edu/sampling.py, in plain JavaScript.
//
// Everything is read from the manifest's ᾱ table (alphaBar[t], t = 0..T, alphaBar[0] = 1) and
// computed in float64; images are Float32Array (N·C·H·W, the network's layout).
// Names: a = ᾱ_t at the current step, ap = ᾱ at the next (smaller) step of the chain.

// Kept steps of respace(schedule, S, "linspace"): round(linspace(1, T, S)) as torch computes it
// (the second half, from ⌊S/2⌋ on, counted back from T; rounding half to even), without repeats.
export function respaceTimesteps(T, S) {
  if (!(Number.isInteger(S) && S >= 1 && S <= T)) throw new Error(`steps must be 1..${T}, got ${S}`);
  if (S === 1) return [T];
  const step = (T - 1) / (S - 1), kept = [];
  for (let i = 0; i < S; i++) {
    const v = i < Math.floor(S / 2) ? 1 + i * step : T - (S - 1 - i) * step;
    let r = Math.round(v);
    if (Math.abs(v - Math.trunc(v)) === 0.5 && r % 2 !== 0) r -= 1;  // half to even, like torch
    if (kept[kept.length - 1] !== r) kept.push(r);
  }
  return kept;
}

// The chain the sampler walks: chain index k = 0..S, with original index t[k] (t[0] = 0) and ᾱ[k].
export function makeChain(alphaBar, steps) {
  const T = alphaBar.length - 1;
  const t = [0, ...respaceTimesteps(T, steps)];
  return { t, alphaBar: t.map((i) => alphaBar[i]), base: alphaBar };
}

// x̂_0 from the network's output, per what it predicts (the manifest's mean_type), clipped to [−1, 1]
// (images) unless clip is false (2-D points: the library's clip_x0=False).
export function predictX0(out, x, meanType, a, base, tOrig, clip = true) {
  const x0 = new Float32Array(x.length);
  let c1 = 0, c2 = 0;
  if (meanType === "mu") {  // μ of the training chain at the original t: x̂_0 = (μ − c2·x_t)/c1
    const ab = base[tOrig], abPrev = base[tOrig - 1], beta = 1 - ab / abPrev;
    c1 = beta * Math.sqrt(abPrev) / (1 - ab);
    c2 = Math.sqrt(1 - beta) * (1 - abPrev) / (1 - ab);
  }
  for (let i = 0; i < x.length; i++) {
    let v;
    if (meanType === "eps") v = (x[i] - Math.sqrt(1 - a) * out[i]) / Math.sqrt(a);
    else if (meanType === "x0") v = out[i];
    else if (meanType === "mu") v = (out[i] - c2 * x[i]) / c1;
    else throw new Error(`unknown mean_type ${meanType}`);
    x0[i] = clip ? Math.min(1, Math.max(-1, v)) : v;
  }
  return x0;
}

// DDIM (Song et al. 2020, eq. 12), chain step k → k−1; z: N(0, I) noise or null (η = 0 or k = 1).
// ε̂ = (x_t − √a x̂_0)/√(1−a), σ² = η² (1−ap)/(1−a) (1 − a/ap), x' = √ap x̂_0 + √(1−ap−σ²) ε̂ + σ z.
export function ddimStep(chain, k, x, out, meanType, eta, z, clip = true) {
  const a = chain.alphaBar[k], ap = chain.alphaBar[k - 1];
  const x0 = predictX0(out, x, meanType, a, chain.base, chain.t[k], clip);
  const sigma2 = eta * eta * (1 - ap) / (1 - a) * (1 - a / ap);
  const cEps = Math.sqrt(Math.max(0, 1 - ap - sigma2)), sigma = Math.sqrt(sigma2);
  const next = new Float32Array(x.length);
  for (let i = 0; i < x.length; i++) {
    const eps = (x[i] - Math.sqrt(a) * x0[i]) / Math.sqrt(1 - a);
    next[i] = Math.sqrt(ap) * x0[i] + cEps * eps + (z ? sigma * z[i] : 0);
  }
  return { x: next, x0 };
}

// DDPM ancestral step (Ho et al. 2020, Alg. 2) on the chain: β = 1 − a/ap, posterior mean
// μ = β√ap/(1−a) x̂_0 + √(1−β)(1−ap)/(1−a) x_t, σ² = β̃ = β(1−ap)/(1−a) ("fixed_small") or β
// ("fixed_large"); no noise at k = 1.
export function ddpmStep(chain, k, x, out, meanType, varType, z, clip = true) {
  const a = chain.alphaBar[k], ap = chain.alphaBar[k - 1], beta = 1 - a / ap;
  const x0 = predictX0(out, x, meanType, a, chain.base, chain.t[k], clip);
  const c1 = beta * Math.sqrt(ap) / (1 - a), c2 = Math.sqrt(1 - beta) * (1 - ap) / (1 - a);
  const sigma = k > 1 ? Math.sqrt(varType === "fixed_large" ? beta : beta * (1 - ap) / (1 - a)) : 0;
  const next = new Float32Array(x.length);
  for (let i = 0; i < x.length; i++) next[i] = c1 * x0[i] + c2 * x[i] + (k > 1 ? sigma * z[i] : 0);
  return { x: next, x0 };
}

// Classifier-free guidance, ddpm_edu.reverse.guided_eps: the network ran ONCE on the doubled batch
// [x; x] with labels [y; ∅] (as ddpm_edu.chain.guided_model does), so out holds the conditional
// half first. Returns (1 + w)·out_cond − w·out_uncond. Any mean type: the weights add up to 1.
export function guidedOutput(out, w) {
  const half = out.length / 2, g = new Float32Array(half);
  for (let i = 0; i < half; i++) g[i] = (1 + w) * out[i] - w * out[half + i];
  return g;
}

// The labels of one network call for a class-conditional model (cond: the manifest's
// "conditional"): digit "any" → ∅ for all n (the unconditional model, no guidance); digit y with
// w = 0 → y for all n; w > 0 → [y × n; ∅ × n] for the doubled batch. BigInt64Array (ONNX int64).
export function callLabels(cond, digit, w, n) {
  const any = digit === "any", doubled = !any && w > 0, y = any ? cond.null_label : Number(digit);
  if (!any && !(Number.isInteger(y) && y >= 0 && y < cond.num_classes)) {
    throw new Error(`digit must be 0..${cond.num_classes - 1} or "any", got ${digit}`);
  }
  const labels = new BigInt64Array(doubled ? 2 * n : n).fill(BigInt(y));
  if (doubled) labels.fill(BigInt(cond.null_label), n);
  return { labels, doubled };
}

// Does the step k → k−1 draw noise? (DDPM: every step but the last; DDIM: only with η > 0.)
export function needsNoise(sampler, eta, k) {
  return k > 1 && (sampler === "ddpm" || eta > 0);
}

// Seeded N(0, 1) numbers: mulberry32 (a 32-bit PRNG) and the Box–Muller transform. Not torch's
// generator: a seed here gives other images than `ddpm-edu sample --seed` (pass a noise file for that).
export function uniformSource(seed) {
  let s = seed >>> 0;
  return () => {  // (0, 1]
    s = (s + 0x6d2b79f5) >>> 0;
    let r = Math.imul(s ^ (s >>> 15), 1 | s);
    r = (r + Math.imul(r ^ (r >>> 7), 61 | r)) ^ r;
    return (((r ^ (r >>> 14)) >>> 0) + 1) / 4294967296;
  };
}

export function gaussianSource(seed) {
  const uniform = uniformSource(seed);
  let spare = null;
  const normal = () => {
    if (spare !== null) { const v = spare; spare = null; return v; }
    const rad = Math.sqrt(-2 * Math.log(uniform())), ang = 2 * Math.PI * uniform();
    spare = rad * Math.sin(ang);
    return rad * Math.cos(ang);
  };
  return { take: (n) => Float32Array.from({ length: n }, normal), normal };
}

// Noise read from a file of float32 values (x_T first, then each step's z in the order drawn).
export function fileSource(values) {
  let pos = 0;
  return {
    take(n) {
      if (pos + n > values.length) {
        throw new Error(`the noise file holds ${values.length} numbers; this run needs more ` +
          `(x_T and one z per noisy step, ${n} each): write it with ddpm_edu.web.write_noise_file`);
      }
      pos += n;
      return values.subarray(pos - n, pos);
    },
  };
}
