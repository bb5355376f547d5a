// Talking to the server: POST /predict and GET /health/ready (see the HTTP contract).
// URLs are relative, so the page also works behind a path prefix.

import { REQUEST_ID_HEADER } from "./contract.js";

/** The server answered, but not with a prediction. `status` says how it failed. */
export class ServerError extends Error {
  constructor(message, status) {
    super(message);
    this.name = "ServerError";
    this.status = status;
  }

  /** 4xx (except timeouts and rate limits) means the request itself was wrong: retrying won't help. */
  get isClientError() {
    return this.status >= 400 && this.status < 500 && this.status !== 408 && this.status !== 429;
  }
}

/**
 * Send a PNG of the drawing; resolve to the contract's result, with the 28x28 input included.
 * With `fields` (say {mode: "number", strokes: [...]}) the PNG goes as JSON with them.
 */
export async function predict(png, signal, fields = null) {
  if (fields === null) return post("predict?include_input=true", "image/png", png, signal);
  const body = JSON.stringify({ image: await dataUrl(png), include_input: true, ...fields });
  return post("predict", "application/json", body, signal);
}

/** Paper left around the ink when cropping, in pixels. */
const CROP_MARGIN = 2;

/**
 * The part of an opaque white canvas that holds ink, with CROP_MARGIN pixels of white paper
 * around it, as a new canvas (issue 14). The server crops to the ink and centres it anyway,
 * so the answer is the same, bit for bit: the pixels are copied, not resampled, and the
 * border the server reads the paper from is white in both. The server decodes a third of
 * the pixels. The canvas itself is returned when there is no ink, when the ink comes within
 * CROP_MARGIN of an edge (the border would change), or when the crop would save little.
 *
 * All of it runs now, on the page's own canvases: the caller encodes the result once with
 * HTMLCanvasElement.toBlob (about 17 ms). An OffscreenCanvas's convertToBlob is left to the
 * browser's idle time, which on a phone after a finger lifts cost about a second.
 */
export function cropToInk(canvas) {
  const { width, height } = canvas;
  const pixels = canvas.getContext("2d").getImageData(0, 0, width, height).data;
  const words = new Uint32Array(pixels.buffer);
  let top = height;
  let bottom = -1;
  let left = width;
  let right = -1;
  for (let y = 0; y < height; y += 1) {
    const row = y * width;
    for (let x = 0; x < width; x += 1) {
      if (words[row + x] !== 0xffffffff) {
        if (y < top) top = y;
        bottom = y;
        if (x < left) left = x;
        if (x > right) right = x;
      }
    }
  }
  const m = CROP_MARGIN;
  if (bottom < 0 || top < m || left < m || bottom >= height - m || right >= width - m) return canvas;
  const w = right - left + 1 + 2 * m;
  const h = bottom - top + 1 + 2 * m;
  if (w * h > 0.8 * width * height) return canvas;
  const crop = document.createElement("canvas");
  crop.width = w;
  crop.height = h;
  crop.getContext("2d").drawImage(canvas, left - m, top - m, w, h, 0, 0, w, h);
  return crop;
}

/** Several PNGs in one batch request; resolve to their results, in order. */
export async function predictMany(pngs, signal) {
  const images = await Promise.all(pngs.map(dataUrl));
  const body = JSON.stringify({ images, include_input: true });
  const answer = await post("predict", "application/json", body, signal);
  if (!Array.isArray(answer.predictions)) throw new ServerError("the server sent no predictions", 502);
  return answer.predictions.map((result) => ({ request_id: answer.request_id, ...result }));
}

async function post(url, type, body, signal) {
  const response = await fetch(url, {
    method: "POST",
    headers: { "Content-Type": type, Accept: "application/json" },
    body,
    signal,
    cache: "no-store",
  });
  let answer = null;
  try {
    answer = await response.json();
  } catch {
    // Not JSON (a proxy's error page, say): the status is all we know.
  }
  if (!response.ok || answer === null) {
    const reason = answer && answer.error ? answer.error : `the server answered ${response.status}`;
    throw new ServerError(reason, response.status);
  }
  // The id that also appears in the server's log line for this request, when it says one.
  answer.request_id ??= response.headers.get(REQUEST_ID_HEADER) ?? undefined;
  return answer;
}

/** A Blob as a data: URL (base64), as the JSON API and thumbnails take it. */
export function dataUrl(blob) {
  return new Promise((resolve, reject) => {
    const reader = new FileReader();
    reader.onload = () => resolve(reader.result);
    reader.onerror = () => reject(reader.error);
    reader.readAsDataURL(blob);
  });
}

/** True when the server says it can answer predictions (model loaded and warmed up). */
export async function isReady() {
  try {
    const response = await fetch("health/ready", { cache: "no-store" });
    return response.ok;
  } catch {
    return false;
  }
}

/** Model details for the footer, or null if the server does not say. */
export async function health() {
  try {
    const response = await fetch("health", { cache: "no-store" });
    return response.ok ? await response.json() : null;
  } catch {
    return null;
  }
}
