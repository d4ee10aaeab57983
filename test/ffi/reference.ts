/**
 * Plain TypeScript float64 references for the MLX kernels the decoder uses. Row-major arrays; shapes in comments.
 */

/** Deterministic uniform values in [-1, 1) (mulberry32). */
export function randomArray(n: number, seed: number): Float32Array {
  let a = seed >>> 0;
  const out = new Float32Array(n);
  for (let i = 0; i < n; i++) {
    a = (a + 0x6d2b79f5) >>> 0;
    let t = a;
    t = Math.imul(t ^ (t >>> 15), t | 1);
    t ^= t + Math.imul(t ^ (t >>> 7), t | 61);
    out[i] = (((t ^ (t >>> 14)) >>> 0) / 4294967296) * 2 - 1;
  }
  return out;
}

/** `[m, k] @ [k, n] -> [m, n]`. */
export function matmulRef(a: ArrayLike<number>, b: ArrayLike<number>, m: number, k: number, n: number): Float64Array {
  const out = new Float64Array(m * n);
  for (let i = 0; i < m; i++)
    for (let j = 0; j < n; j++) {
      let s = 0;
      for (let p = 0; p < k; p++) s += a[i * k + p]! * b[p * n + j]!;
      out[i * n + j] = s;
    }
  return out;
}

/** RMSNorm over rows of length `d`: `x / sqrt(mean(x²) + eps) * w`. */
export function rmsNormRef(x: ArrayLike<number>, w: ArrayLike<number>, d: number, eps: number): Float64Array {
  const out = new Float64Array(x.length);
  for (let r = 0; r < x.length / d; r++) {
    let ss = 0;
    for (let i = 0; i < d; i++) ss += x[r * d + i]! ** 2;
    const inv = 1 / Math.sqrt(ss / d + eps);
    for (let i = 0; i < d; i++) out[r * d + i] = x[r * d + i]! * inv * w[i]!;
  }
  return out;
}

/** Softmax over rows of length `d`. */
export function softmaxRef(x: ArrayLike<number>, d: number): Float64Array {
  const out = new Float64Array(x.length);
  for (let r = 0; r < x.length / d; r++) {
    let max = -Infinity;
    for (let i = 0; i < d; i++) max = Math.max(max, x[r * d + i]!);
    let sum = 0;
    for (let i = 0; i < d; i++) sum += out[r * d + i] = Math.exp(x[r * d + i]! - max);
    for (let i = 0; i < d; i++) out[r * d + i]! /= sum;
  }
  return out;
}

/**
 * Non-traditional RoPE (GPT-NeoX style, as `mx.fast.rope(traditional=False)`): for rows `[..., L, d]` at positions
 * `offset + l`, pairs (i, i + d/2) rotate by angle `pos * base^(-2i/d)`.
 */
export function ropeRef(x: ArrayLike<number>, L: number, d: number, base: number, offset: number): Float64Array {
  const out = new Float64Array(x.length);
  const half = d / 2;
  for (let r = 0; r < x.length / d; r++) {
    const pos = offset + (r % L);
    for (let i = 0; i < half; i++) {
      const theta = pos * base ** (-(2 * i) / d);
      const c = Math.cos(theta);
      const s = Math.sin(theta);
      const a = x[r * d + i]!;
      const b = x[r * d + i + half]!;
      out[r * d + i] = a * c - b * s;
      out[r * d + i + half] = a * s + b * c;
    }
  }
  return out;
}

/**
 * Attention for one head group: `q: [H, Lq, d]`, `k, v: [Hkv, Lk, d]` (GQA: head h uses kv head `h / (H/Hkv)`),
 * causal mask aligned bottom-right (query i sees keys ≤ i + Lk − Lq).
 */
export function sdpaRef(
  q: ArrayLike<number>,
  k: ArrayLike<number>,
  v: ArrayLike<number>,
  H: number,
  Hkv: number,
  Lq: number,
  Lk: number,
  d: number,
  scale: number,
  causal: boolean,
): Float64Array {
  const out = new Float64Array(H * Lq * d);
  const groups = H / Hkv;
  for (let h = 0; h < H; h++) {
    const kh = Math.floor(h / groups);
    for (let i = 0; i < Lq; i++) {
      const scores = new Float64Array(Lk);
      let max = -Infinity;
      for (let j = 0; j < Lk; j++) {
        if (causal && j > i + Lk - Lq) {
          scores[j] = -Infinity;
          continue;
        }
        let s = 0;
        for (let p = 0; p < d; p++) s += q[(h * Lq + i) * d + p]! * k[(kh * Lk + j) * d + p]!;
        scores[j] = s * scale;
        max = Math.max(max, scores[j]!);
      }
      let sum = 0;
      for (let j = 0; j < Lk; j++) sum += scores[j] = Math.exp(scores[j]! - max);
      for (let p = 0; p < d; p++) {
        let acc = 0;
        for (let j = 0; j < Lk; j++) acc += (scores[j]! / sum) * v[(kh * Lk + j) * d + p]!;
        out[(h * Lq + i) * d + p] = acc;
      }
    }
  }
  return out;
}

/** Largest absolute difference between two arrays of equal length. */
export function maxAbsDiff(a: ArrayLike<number>, b: ArrayLike<number>): number {
  if (a.length !== b.length) throw new Error(`length ${a.length} != ${b.length}`);
  let m = 0;
  for (let i = 0; i < a.length; i++) m = Math.max(m, Math.abs(a[i]! - b[i]!));
  return m;
}
