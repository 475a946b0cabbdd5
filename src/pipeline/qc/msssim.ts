/**
 * MS-SSIM (Wang, Simoncelli and Bovik, 2003) on luma, computed here because Debian's FFmpeg 5.1
 * has no msssim filter. Five scales with the paper's weights, an 11-tap Gaussian window
 * (σ = 1.5) over the valid region, C1 = (0.01·255)², C2 = (0.03·255)², 2×2 average pooling
 * between scales. Negative contrast-structure terms are clamped to 0 before the weighted
 * product, as common implementations do, so a badly broken frame scores 0 rather than NaN.
 */
export const MS_SSIM_WEIGHTS = [0.0448, 0.2856, 0.3001, 0.2363, 0.1333] as const;
const WINDOW = 11;
const SIGMA = 1.5;
const C1 = (0.01 * 255) ** 2;
const C2 = (0.03 * 255) ** 2;

/** The smallest side the coarsest scale still fits the window on. */
export const MS_SSIM_MIN_SIDE = WINDOW * 2 ** (MS_SSIM_WEIGHTS.length - 1);

const KERNEL = (() => {
  const k = new Float64Array(WINDOW);
  let sum = 0;
  for (let i = 0; i < WINDOW; i++) {
    const x = i - (WINDOW - 1) / 2;
    k[i] = Math.exp(-(x * x) / (2 * SIGMA * SIGMA));
    sum += k[i]!;
  }
  for (let i = 0; i < WINDOW; i++) k[i]! /= sum;
  return k;
})();

/** Mean luminance and contrast-structure terms of SSIM over one scale. */
function components(x: Float64Array, y: Float64Array, w: number, h: number): { l: number; cs: number } {
  const ow = w - WINDOW + 1;
  const oh = h - WINDOW + 1;
  // Horizontal pass of the five moments, then vertical, over the valid region only.
  const hx = new Float64Array(ow * h);
  const hy = new Float64Array(ow * h);
  const hxx = new Float64Array(ow * h);
  const hyy = new Float64Array(ow * h);
  const hxy = new Float64Array(ow * h);
  for (let r = 0; r < h; r++) {
    const row = r * w;
    for (let c = 0; c < ow; c++) {
      let sx = 0, sy = 0, sxx = 0, syy = 0, sxy = 0;
      for (let k = 0; k < WINDOW; k++) {
        const g = KERNEL[k]!;
        const a = x[row + c + k]!;
        const b = y[row + c + k]!;
        sx += g * a;
        sy += g * b;
        sxx += g * a * a;
        syy += g * b * b;
        sxy += g * a * b;
      }
      const o = r * ow + c;
      hx[o] = sx; hy[o] = sy; hxx[o] = sxx; hyy[o] = syy; hxy[o] = sxy;
    }
  }
  let lSum = 0;
  let csSum = 0;
  for (let r = 0; r < oh; r++) {
    for (let c = 0; c < ow; c++) {
      let mx = 0, my = 0, mxx = 0, myy = 0, mxy = 0;
      for (let k = 0; k < WINDOW; k++) {
        const g = KERNEL[k]!;
        const o = (r + k) * ow + c;
        mx += g * hx[o]!;
        my += g * hy[o]!;
        mxx += g * hxx[o]!;
        myy += g * hyy[o]!;
        mxy += g * hxy[o]!;
      }
      const vx = mxx - mx * mx;
      const vy = myy - my * my;
      const cov = mxy - mx * my;
      lSum += (2 * mx * my + C1) / (mx * mx + my * my + C1);
      csSum += (2 * cov + C2) / (vx + vy + C2);
    }
  }
  const n = ow * oh;
  return { l: lSum / n, cs: csSum / n };
}

function halve(x: Float64Array, w: number, h: number): { data: Float64Array; w: number; h: number } {
  const nw = w >> 1;
  const nh = h >> 1;
  const out = new Float64Array(nw * nh);
  for (let r = 0; r < nh; r++) {
    for (let c = 0; c < nw; c++) {
      const i = 2 * r * w + 2 * c;
      out[r * nw + c] = (x[i]! + x[i + 1]! + x[i + w]! + x[i + w + 1]!) / 4;
    }
  }
  return { data: out, w: nw, h: nh };
}

/** MS-SSIM of one frame pair given as 8-bit luma planes of the same size. */
export function msSsim(distorted: Uint8Array, reference: Uint8Array, width: number, height: number): number {
  if (Math.min(width, height) < MS_SSIM_MIN_SIDE) throw new Error(`frames of ${width}x${height} are too small for 5 scales (each side needs ${MS_SSIM_MIN_SIDE} pixels)`);
  let x: Float64Array = Float64Array.from(distorted);
  let y: Float64Array = Float64Array.from(reference);
  let w = width;
  let h = height;
  let score = 1;
  const scales = MS_SSIM_WEIGHTS.length;
  for (let j = 0; j < scales; j++) {
    const { l, cs } = components(x, y, w, h);
    const weight = MS_SSIM_WEIGHTS[j]!;
    score *= j < scales - 1 ? Math.max(0, cs) ** weight : Math.max(0, l * cs) ** weight;
    if (j < scales - 1) {
      const a = halve(x, w, h);
      const b = halve(y, w, h);
      x = a.data;
      y = b.data;
      w = a.w;
      h = a.h;
    }
  }
  return score;
}
