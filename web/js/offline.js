// Recognition on this device, for when the server cannot be reached: the same ONNX model run
// by onnxruntime-web (WebAssembly, one thread), on the same 28x28 input (preprocess.js), with
// the same decision and answer shape as recognizer/answers.py. The page imports this module only
// after a request to the server has failed, so none of it costs anything on the first paint;
// the service worker has cached the runtime and the model by then (sw.js).

import {
  BLOB_DIGIT_CONFIDENCE,
  BLOB_THICKNESS,
  DIGIT_CLASSES,
  IMAGE_SIZE,
  INPUT_NAME,
  MESSAGES,
  NOT_A_DIGIT,
  NOT_A_DIGIT_THRESHOLD,
  OUTPUT_NAME,
} from "./contract.js";
import { canvasPixels, drawingCanvas } from "./pad.js";
import { canvasToInput, roundHalfEven } from "./preprocess.js";

const RUNTIME = new URL("../vendor/onnxruntime-web/ort.wasm.min.mjs", import.meta.url).href;
const MODEL = "model.onnx";
const SHA_HEADER = "X-Model-SHA256";
const VERSION_HEADER = "X-Model-Version";

let loading = null;

/** The model, loaded once: its bytes checked against the sha256 the server announced. */
function model() {
  loading ??= load().catch((error) => {
    loading = null; // try again next time: the cache may be filled by then
    throw error;
  });
  return loading;
}

async function load() {
  if (!crypto.subtle) throw new Error("recognition on this device needs HTTPS (or localhost)");
  const response = await fetch(MODEL);
  if (!response.ok) throw new Error(`the model is not available on this device (${response.status})`);
  const bytes = await response.arrayBuffer();
  const announced = response.headers.get(SHA_HEADER);
  const digest = await sha256(bytes);
  if (!announced || digest !== announced) {
    throw new Error(`the stored model does not match its sha256 (${digest.slice(0, 12)}...)`);
  }
  const ort = await import(RUNTIME);
  ort.env.logLevel = "error"; // its graph-optimisation notes are not the user's business
  ort.env.wasm.numThreads = 1; // no SharedArrayBuffer needed, no worker, no extra headers
  ort.env.wasm.proxy = false;
  const session = await ort.InferenceSession.create(new Uint8Array(bytes), {
    executionProviders: ["wasm"],
    logSeverityLevel: 3, // errors only
  });
  return { ort, session, version: response.headers.get(VERSION_HEADER) ?? "on this device" };
}

/**
 * Recognize the pad's drawing here. Resolves to the answer /predict?include_input=true would
 * give, plus source: "device".
 */
export async function recognizeOnDevice(pad) {
  return (await recognizeMany([canvasPixels(drawingCanvas(pad.strokes, pad.aspect))]))[0];
}

/** Several drawings (ImageData each) in one run of the model, as POST /predict's batch
 * {"images": [...]} answers them: one answer per drawing, in order. */
export async function recognizeMany(imageDatas) {
  const images = imageDatas.map(canvasToInput);
  const { ort, session, version } = await model();
  const inked = images.filter((image) => image !== null);
  const size = IMAGE_SIZE * IMAGE_SIZE;
  let probabilities = new Float32Array(0);
  if (inked.length) {
    const batch = new Float32Array(inked.length * size);
    inked.forEach((image, i) => batch.set(image, i * size));
    const feeds = { [INPUT_NAME]: new ort.Tensor("float32", batch, [inked.length, IMAGE_SIZE, IMAGE_SIZE, 1]) };
    probabilities = (await session.run(feeds))[OUTPUT_NAME].data;
  }
  const classes = probabilities.length / Math.max(1, inked.length);
  let k = 0;
  return images.map((image) => {
    if (image === null) return { ...rejected("blank", version, null), source: "device" };
    const own = probabilities.subarray(k * classes, (k + 1) * classes);
    k += 1;
    const reason = judge(image, own);
    const answer = reason ? rejected(reason, version, own) : digitAnswer(own, version);
    return { ...answer, input: rows(image), source: "device" };
  });
}

/** recognizer/answers.py judge(): why this input is not a digit, or null. */
function judge(image, probabilities) {
  if (probabilities.length > NOT_A_DIGIT && probabilities[NOT_A_DIGIT] >= NOT_A_DIGIT_THRESHOLD) {
    return "not_a_digit";
  }
  const unsure = Math.max(...probabilities.slice(0, DIGIT_CLASSES)) < BLOB_DIGIT_CONFIDENCE;
  return unsure && isBlob(image) ? "not_a_digit" : null;
}

/** One compact mark, as thick across as it is long (answers.py is_blob). */
function isBlob(image) {
  const across = [];
  const down = [];
  for (let i = 0; i < IMAGE_SIZE; i += 1) {
    across.push(...runs((j) => image[i * IMAGE_SIZE + j]));
    down.push(...runs((j) => image[j * IMAGE_SIZE + i]));
  }
  if (across.length === 0) return true;
  return Math.min(median(across), median(down)) >= BLOB_THICKNESS;
}

/** Lengths of the runs of ink (>= 0.5) along one line. */
function runs(at) {
  const lengths = [];
  let run = 0;
  for (let j = 0; j <= IMAGE_SIZE; j += 1) {
    if (j < IMAGE_SIZE && at(j) >= 0.5) run += 1;
    else if (run > 0) {
      lengths.push(run);
      run = 0;
    }
  }
  return lengths;
}

function median(values) {
  const sorted = [...values].sort((a, b) => a - b);
  const mid = sorted.length >> 1;
  return sorted.length % 2 ? sorted[mid] : (sorted[mid - 1] + sorted[mid]) / 2;
}

/** The ten digits' probabilities, rounded to 4 places as the server rounds them. */
function digitProbabilities(probabilities) {
  const named = {};
  for (let d = 0; d < DIGIT_CLASSES; d += 1) named[String(d)] = roundTo(probabilities[d], 4);
  return named;
}

function digitAnswer(probabilities, version) {
  let digit = 0;
  for (let d = 1; d < DIGIT_CLASSES; d += 1) if (probabilities[d] > probabilities[digit]) digit = d;
  const named = digitProbabilities(probabilities);
  return { digit, confidence: named[digit], probabilities: named, blank: false, model_version: version };
}

function rejected(reason, version, probabilities) {
  const named = probabilities
    ? digitProbabilities(probabilities)
    : Object.fromEntries(Array.from({ length: DIGIT_CLASSES }, (_, d) => [String(d), 0]));
  return {
    digit: null,
    confidence: 0,
    probabilities: named,
    blank: reason === "blank",
    reason,
    message: MESSAGES[reason],
    model_version: version,
  };
}

/** 28 rows of 28 numbers rounded to 3 places, as include_input returns them. */
function rows(image) {
  return Array.from({ length: IMAGE_SIZE }, (_, y) =>
    Array.from(image.subarray(y * IMAGE_SIZE, (y + 1) * IMAGE_SIZE), (v) => roundTo(v, 3)),
  );
}

function roundTo(value, places) {
  const scale = 10 ** places;
  return roundHalfEven(value * scale) / scale;
}

async function sha256(bytes) {
  const digest = new Uint8Array(await crypto.subtle.digest("SHA-256", bytes));
  return Array.from(digest, (b) => b.toString(16).padStart(2, "0")).join("");
}
