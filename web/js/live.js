// Real-time recognition: when to ask the server, which answer wins, and recovering
// from a server that is down. Every answer shown is also dispatched as an "answer" event
// (detail: what the recognizer returned, plus `settled`) for the history, the feedback
// control and the number's boxes.

import { cropToInk, isReady, predict, ServerError } from "./client.js";
import { serverOrDevice } from "./fallback.js";
import { drawingCanvas, pngBlob } from "./pad.js";

/** Ask this long after the last pen movement... */
const DEBOUNCE_MS = 150;
/** ...but at least this often while the pen keeps moving, so the answer follows the drawing. */
const MAX_WAIT_MS = 400;
/** Health checks while the server is down: first after RETRY_FIRST_MS, doubling up to RETRY_MAX_MS. */
const RETRY_FIRST_MS = 500;
const RETRY_MAX_MS = 4000;

const DOWN_MESSAGE = "Can't reach the server right now. Retrying by itself; your drawing is kept.";

export class LiveRecognition extends EventTarget {
  #pad;
  #view;
  #recognize;
  #seq = 0;
  #controller = null;
  #timer = 0;
  #pendingSince = null;
  #retryTimer = 0;
  #retryDelay = RETRY_FIRST_MS;

  /** `recognize(pad, signal)` asks the server in the current mode and resolves to
   * {result, png, mode, ...}; the default reads one digit. */
  constructor(pad, view, recognize = readDigit) {
    super();
    this.#pad = pad;
    this.#view = view;
    this.#recognize = recognize;
    pad.addEventListener("strokemove", () => this.schedule());
    pad.addEventListener("strokeend", () => this.now());
    pad.addEventListener("change", () => this.now());
  }

  /** Debounced request while drawing (with a maximum wait). */
  schedule() {
    const now = performance.now();
    this.#pendingSince ??= now;
    clearTimeout(this.#timer);
    const wait = Math.min(DEBOUNCE_MS, Math.max(0, this.#pendingSince + MAX_WAIT_MS - now));
    this.#timer = setTimeout(() => this.now(), wait);
  }

  /** Recognize the drawing as it is now. */
  now() {
    clearTimeout(this.#timer);
    this.#pendingSince = null;
    this.#run();
  }

  async #run() {
    // A newer request makes every older one moot: cancel it, and ignore it if it still answers.
    const seq = ++this.#seq;
    this.#controller?.abort();
    this.#controller = null;
    if (this.#pad.isEmpty) {
      this.#view.setBusy(false);
      this.#view.showEmpty();
      this.dispatchEvent(new Event("empty"));
      return;
    }
    const controller = new AbortController();
    this.#controller = controller;
    this.#view.setBusy(true);
    // An answer asked for while the pen is up is the drawing's answer (for the history and
    // feedback); one asked for mid-stroke is only a preview.
    const settled = !this.#pad.isDrawing;
    try {
      const answer = await this.#recognize(this.#pad, controller.signal);
      if (seq !== this.#seq) return;
      if (answer.result.source === "device") {
        // Answered offline: say so in the result, and go back to the server once it answers.
        this.#view.clearNotice();
        this.#pollUntilReady();
      } else {
        this.#recovered();
      }
      this.#view.showResult(answer.result);
      this.dispatchEvent(new CustomEvent("answer", { detail: { ...answer, settled } }));
    } catch (error) {
      if (error.name === "AbortError" || seq !== this.#seq) return;
      this.#failed(error);
    } finally {
      if (seq === this.#seq) {
        this.#controller = null;
        this.#view.setBusy(false);
      }
    }
  }

  #failed(error) {
    if (error instanceof ServerError && error.isClientError) {
      this.#view.showNotice(`The server could not use this drawing: ${error.message}.`);
      return;
    }
    this.#view.showNotice(DOWN_MESSAGE);
    this.#pollUntilReady();
  }

  #recovered() {
    clearTimeout(this.#retryTimer);
    this.#retryTimer = 0;
    this.#retryDelay = RETRY_FIRST_MS;
    this.#view.clearNotice();
  }

  /** Poll /health/ready with backoff; when the server is back, recognize again. */
  #pollUntilReady() {
    if (this.#retryTimer) return;
    this.#retryTimer = setTimeout(async () => {
      if (await isReady()) {
        this.#recovered();
        this.now();
        return;
      }
      this.#retryTimer = 0;
      this.#retryDelay = Math.min(this.#retryDelay * 2, RETRY_MAX_MS);
      this.#pollUntilReady();
    }, this.#retryDelay);
  }
}

/** One digit: the drawing as a PNG cropped to its ink, encoded once; recognized on this
 * device (offline.js, loaded only now) when the server cannot be reached. */
export async function readDigit(pad, signal) {
  const png = await pngBlob(cropToInk(drawingCanvas(pad.strokes, pad.aspect)));
  const result = await serverOrDevice(
    () => predict(png, signal),
    (offline) => offline.recognizeOnDevice(pad),
    signal,
  );
  return { result, png, mode: "digit" };
}
