// The browser's twin of recognizer/preprocess.py: a canvas's RGBA pixels to the model's 28x28
// input, so that the model on this device sees what it would see on the server. Every step
// mirrors the Python one, down to Pillow's integer rounding and its Lanczos coefficients;
// tests/test_preprocess_parity.py runs both on thousands of canvases and compares them. The
// constants are the Python ones, served by the server as contract.js.

import { DIGIT_BOX, IMAGE_SIZE, INK_THRESHOLD, LANCZOS_SUPPORT, MNIST_CENTRE, WORKING_SIDE } from "./contract.js";

const f32 = Math.fround;

/**
 * The whole recipe, like canvas_to_input: {width, height, data: RGBA bytes} (an ImageData)
 * to a Float32Array of 28*28 ink values in [0, 1], row by row, or null if there is no ink.
 */
export function canvasToInput(imageData) {
  const ink = inkImage(imageData);
  return normalizeDigit(ink.values, ink.width, ink.height);
}

/** Grey levels as ink strength (0 background, 1 full ink), whatever the polarity. */
export function inkImage({ width, height, data }) {
  // Python box-reduces a transparent picture before compositing it (premultiplied); the page
  // only draws opaque canvases, so here transparency is composited first, then reduced.
  const rgba = { width, height, data };
  let grey = luminance(hasTransparency(data) ? flattenAlpha(rgba) : rgba);
  if (Math.max(width, height) > WORKING_SIDE) {
    ({ grey, width, height } = reduce(grey, width, height, Math.floor(Math.max(width, height) / WORKING_SIDE)));
  }

  const border = [];
  for (let x = 0; x < width; x += 1) border.push(grey[x], grey[(height - 1) * width + x]);
  for (let y = 1; y < height - 1; y += 1) border.push(grey[y * width], grey[y * width + width - 1]);
  let median = medianOf(border);
  if (median > 127) {
    // dark ink on light paper: invert in integers, as Python does
    for (let i = 0; i < grey.length; i += 1) grey[i] = 255 - grey[i];
    median = 255 - median;
  }
  // NumPy computes in float32 (a Python float meets a float32 array as float32).
  const background = f32(median / 255);
  const range = f32(Math.max(1.0 - median / 255, 1e-6));
  const values = new Float32Array(grey.length);
  for (let i = 0; i < grey.length; i += 1) {
    const level = f32(grey[i] / 255);
    const ink = f32(f32(level - background) / range);
    values[i] = Math.min(Math.max(ink, 0), 1);
  }
  return { values, width, height };
}

/** Crop to the ink, fit the longer side to 20 px (Lanczos) and centre by mass in 28x28. */
export function normalizeDigit(values, width, height) {
  const threshold = f32(INK_THRESHOLD);
  const ink = values.map((v) => (v >= threshold ? v : 0));
  let top = height;
  let bottom = -1;
  let left = width;
  let right = -1;
  for (let y = 0; y < height; y += 1) {
    for (let x = 0; x < width; x += 1) {
      if (ink[y * width + x] !== 0) {
        top = Math.min(top, y);
        bottom = Math.max(bottom, y);
        left = Math.min(left, x);
        right = Math.max(right, x);
      }
    }
  }
  if (bottom < 0) return null;
  const cropW = right - left + 1;
  const cropH = bottom - top + 1;
  const digit = new Float32Array(cropW * cropH);
  for (let y = 0; y < cropH; y += 1) {
    digit.set(ink.subarray((top + y) * width + left, (top + y) * width + left + cropW), y * cropW);
  }

  const scale = DIGIT_BOX / Math.max(cropH, cropW);
  const outW = Math.max(1, roundHalfEven(cropW * scale));
  const outH = Math.max(1, roundHalfEven(cropH * scale));
  const fitted = resizeLanczos(digit, cropW, cropH, outW, outH);
  let peak = 0;
  for (let i = 0; i < fitted.length; i += 1) {
    fitted[i] = Math.max(fitted[i], 0);
    peak = Math.max(peak, fitted[i]);
  }
  if (peak <= 0) return null;
  for (let i = 0; i < fitted.length; i += 1) fitted[i] = f32(fitted[i] / peak);
  return centreByMass(fitted, outW, outH);
}

/** Place the digit so that its centre of mass sits where MNIST puts it. */
function centreByMass(fitted, width, height) {
  let total = 0;
  let rowMoment = 0;
  let colMoment = 0;
  for (let y = 0; y < height; y += 1) {
    for (let x = 0; x < width; x += 1) {
      const v = fitted[y * width + x];
      total += v;
      rowMoment += y * v;
      colMoment += x * v;
    }
  }
  const clamp = (v, hi) => Math.min(Math.max(v, 0), hi);
  const top = clamp(roundHalfEven(MNIST_CENTRE[0] - rowMoment / total), IMAGE_SIZE - height);
  const left = clamp(roundHalfEven(MNIST_CENTRE[1] - colMoment / total), IMAGE_SIZE - width);
  const field = new Float32Array(IMAGE_SIZE * IMAGE_SIZE);
  for (let y = 0; y < height; y += 1) {
    field.set(fitted.subarray(y * width, (y + 1) * width), (top + y) * IMAGE_SIZE + left);
  }
  return field;
}

/** Pillow's resize(LANCZOS) of a float ("F") image: separable, horizontal pass first,
 * float64 sums of float32 pixels, each pass stored as float32 (libImaging/Resample.c). */
export function resizeLanczos(pixels, width, height, outW, outH) {
  let image = pixels;
  if (outW !== width) {
    const { bounds, kernels, ksize } = coefficients(width, outW);
    const out = new Float32Array(outW * height);
    for (let y = 0; y < height; y += 1) {
      for (let xx = 0; xx < outW; xx += 1) {
        const [xmin, count] = [bounds[2 * xx], bounds[2 * xx + 1]];
        let sum = 0;
        for (let x = 0; x < count; x += 1) sum += image[y * width + xmin + x] * kernels[xx * ksize + x];
        out[y * outW + xx] = sum;
      }
    }
    image = out;
  }
  if (outH !== height) {
    const { bounds, kernels, ksize } = coefficients(height, outH);
    const out = new Float32Array(outW * outH);
    for (let yy = 0; yy < outH; yy += 1) {
      const [ymin, count] = [bounds[2 * yy], bounds[2 * yy + 1]];
      for (let x = 0; x < outW; x += 1) {
        let sum = 0;
        for (let y = 0; y < count; y += 1) sum += image[(ymin + y) * outW + x] * kernels[yy * ksize + y];
        out[yy * outW + x] = sum;
      }
    }
    image = out;
  }
  return image === pixels ? Float32Array.from(pixels) : image;
}

/** precompute_coeffs in Pillow's Resample.c, for the whole input (box 0..inSize). */
function coefficients(inSize, outSize) {
  const scale = inSize / outSize;
  const filterScale = Math.max(scale, 1.0);
  const support = LANCZOS_SUPPORT * filterScale;
  const ksize = Math.ceil(support) * 2 + 1;
  const kernels = new Float64Array(outSize * ksize);
  const bounds = new Int32Array(outSize * 2);
  for (let xx = 0; xx < outSize; xx += 1) {
    const centre = (xx + 0.5) * scale;
    const xmin = Math.max(Math.trunc(centre - support + 0.5), 0);
    const count = Math.min(Math.trunc(centre + support + 0.5), inSize) - xmin;
    let total = 0;
    for (let x = 0; x < count; x += 1) {
      const w = lanczos((x + xmin - centre + 0.5) / filterScale);
      kernels[xx * ksize + x] = w;
      total += w;
    }
    if (total !== 0) for (let x = 0; x < count; x += 1) kernels[xx * ksize + x] /= total;
    bounds[2 * xx] = xmin;
    bounds[2 * xx + 1] = count;
  }
  return { bounds, kernels, ksize };
}

function sinc(x) {
  if (x === 0) return 1.0;
  const px = x * Math.PI;
  return Math.sin(px) / px;
}

function lanczos(x) {
  return x >= -LANCZOS_SUPPORT && x < LANCZOS_SUPPORT ? sinc(x) * sinc(x / 3) : 0.0;
}

/** Python's round(): halves go to the even neighbour. */
export function roundHalfEven(v) {
  const floor = Math.floor(v);
  const diff = v - floor;
  if (diff > 0.5) return floor + 1;
  if (diff < 0.5) return floor;
  return floor % 2 === 0 ? floor : floor + 1;
}

function medianOf(values) {
  const sorted = Float64Array.from(values).sort();
  const mid = sorted.length >> 1;
  return sorted.length % 2 ? sorted[mid] : (sorted[mid - 1] + sorted[mid]) / 2;
}

function hasTransparency(data) {
  for (let i = 3; i < data.length; i += 4) if (data[i] < 255) return true;
  return false;
}

/** Pillow's convert("L"): ITU-R 601-2 luma in 16-bit fixed point. */
function luminance({ data }) {
  const grey = new Uint8Array(data.length / 4);
  for (let i = 0; i < grey.length; i += 1) {
    const p = 4 * i;
    grey[i] = (data[p] * 19595 + data[p + 1] * 38470 + data[p + 2] * 7471 + 0x8000) >>> 16;
  }
  return grey;
}

/** Pillow's Image.reduce(factor) on an "L" image: the mean of each factor x factor box (the
 * last partial boxes over what they hold), in Pillow's fixed-point rounding (Reduce.c). */
function reduce(grey, width, height, factor) {
  const outW = Math.ceil(width / factor);
  const outH = Math.ceil(height / factor);
  const out = new Uint8Array(outW * outH);
  for (let yy = 0; yy < outH; yy += 1) {
    const rows = Math.min(factor, height - yy * factor);
    for (let xx = 0; xx < outW; xx += 1) {
      const cols = Math.min(factor, width - xx * factor);
      const count = rows * cols;
      // division_UINT32(count, 8): the float32 quotient 2^32 / (256 * count), truncated
      const multiplier = Math.trunc(f32(2 ** 32 / f32(256 * count)));
      let sum = Math.floor(count / 2);
      for (let y = 0; y < rows; y += 1) {
        for (let x = 0; x < cols; x += 1) sum += grey[(yy * factor + y) * width + xx * factor + x];
      }
      out[yy * outW + xx] = Math.floor((sum * multiplier) / 2 ** 24);
    }
  }
  return { grey: out, width: outW, height: outH };
}

/** Composite on white for dark ink and on black for light ink (Pillow's alpha_composite). */
function flattenAlpha({ width, height, data }) {
  let weighted = 0;
  let alphaSum = 0;
  for (let i = 0; i < data.length; i += 4) {
    const luma = f32(f32(f32(data[i] * f32(0.299)) + f32(data[i + 1] * f32(0.587))) + f32(data[i + 2] * f32(0.114)));
    weighted += luma * data[i + 3];
    alphaSum += data[i + 3];
  }
  const out = new Uint8ClampedArray(data.length);
  if (alphaSum === 0) {
    out.fill(255);
    return { width, height, data: out };
  }
  const paper = weighted / alphaSum > 127.5 ? 0 : 255;
  const div255 = (a) => ((a >> 8) + a) >> 8;
  for (let i = 0; i < data.length; i += 4) {
    const a = data[i + 3];
    out[i + 3] = 255;
    if (a === 0) {
      out[i] = out[i + 1] = out[i + 2] = paper;
      continue;
    }
    // AlphaComposite.c with PRECISIONBITS = 7, over an opaque background.
    const outa255 = a * 255 + 255 * (255 - a);
    const coef1 = Math.floor((a * 255 * 255 * 128) / outa255);
    const coef2 = 255 * 128 - coef1;
    for (let c = 0; c < 3; c += 1) {
      const tmp = data[i + c] * coef1 + paper * coef2;
      out[i + c] = div255(tmp + (0x80 << 7)) >> 7;
    }
  }
  return { width, height, data: out };
}
