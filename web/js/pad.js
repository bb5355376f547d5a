// The drawing pad: pointer input (mouse, touch, pen), strokes, and painting them.
//
// Strokes are kept in units of the pad's height (y in 0..1, x in 0..aspect), so the same
// drawing can be painted crisply at any display size and devicePixelRatio, again onto a
// fixed-size canvas for the server, and kept when the pad widens for a number.

/** Ink width as a fraction of the pad's height. A digit that fills most of the pad is
 * scaled to a 20 px box by the server; at 1/13 its strokes end up about 2 px wide, as in MNIST. */
export const INK_WIDTH = 1 / 13;

/** Height of the PNG sent to the server (its width follows the pad's aspect): enough
 * detail, a few kilobytes. */
export const EXPORT_SIDE = 280;

/** Samples closer than this (in pad units) to the previous one add nothing but noise. */
const MIN_STEP = 0.0025;

/** Fill the canvas with white paper and draw the strokes in black ink, `side` pixels per
 * pad unit (the canvas height). */
export function paint(ctx, side, strokes, width = side) {
  ctx.fillStyle = "#fff";
  ctx.fillRect(0, 0, width, side);
  ctx.strokeStyle = "#000";
  ctx.fillStyle = "#000";
  ctx.lineWidth = INK_WIDTH * side;
  ctx.lineCap = "round";
  ctx.lineJoin = "round";
  for (const stroke of strokes) {
    trace(ctx, stroke, side);
  }
}

/** A new canvas with the drawing on white, `height` pixels high and as wide as `aspect`. */
export function drawingCanvas(strokes, aspect, height = EXPORT_SIDE) {
  const canvas = document.createElement("canvas");
  canvas.width = Math.round(height * aspect);
  canvas.height = height;
  paint(canvas.getContext("2d"), height, strokes, canvas.width);
  return canvas;
}

/** The drawing as a PNG on white, `height` pixels high and as wide as the pad's aspect. */
export function drawingBlob(strokes, aspect, height = EXPORT_SIDE) {
  return pngBlob(drawingCanvas(strokes, aspect, height));
}

/** A canvas as a PNG blob. */
export function pngBlob(canvas) {
  return new Promise((resolve, reject) => {
    canvas.toBlob((blob) => (blob ? resolve(blob) : reject(new Error("PNG export failed"))), "image/png");
  });
}

/** A canvas's RGBA pixels, as the preprocessing reads them. */
export function canvasPixels(canvas) {
  return canvas.getContext("2d").getImageData(0, 0, canvas.width, canvas.height);
}

/** One stroke as quadratic curves through the midpoints of its samples: smooth, no corners. */
function trace(ctx, points, side) {
  const [x0, y0] = points[0];
  if (points.length === 1) {
    ctx.beginPath();
    ctx.arc(x0 * side, y0 * side, ctx.lineWidth / 2, 0, 2 * Math.PI);
    ctx.fill();
    return;
  }
  ctx.beginPath();
  ctx.moveTo(x0 * side, y0 * side);
  for (let i = 1; i < points.length - 1; i += 1) {
    const [x, y] = points[i];
    const [nx, ny] = points[i + 1];
    ctx.quadraticCurveTo(x * side, y * side, ((x + nx) / 2) * side, ((y + ny) / 2) * side);
  }
  const [xn, yn] = points[points.length - 1];
  ctx.lineTo(xn * side, yn * side);
  ctx.stroke();
}

/**
 * A canvas to draw on, square or wide (see setAspect). Dispatches "strokestart",
 * "strokemove", "strokeend" while drawing and "change" after undo, clear or a new shape.
 */
export class Pad extends EventTarget {
  #canvas;
  #ctx;
  #strokes = [];
  #active = null;
  #pointerId = null;
  #frame = 0;
  #aspect = 1;

  constructor(canvas) {
    super();
    this.#canvas = canvas;
    this.#ctx = canvas.getContext("2d");
    canvas.addEventListener("pointerdown", (e) => this.#down(e));
    canvas.addEventListener("pointermove", (e) => this.#move(e));
    canvas.addEventListener("pointerup", (e) => this.#up(e));
    canvas.addEventListener("pointercancel", (e) => this.#up(e));
    canvas.addEventListener("lostpointercapture", (e) => this.#up(e));
    // A long press must not open a menu in the middle of a stroke.
    canvas.addEventListener("contextmenu", (e) => e.preventDefault());
    new ResizeObserver(() => this.#resize()).observe(canvas);
    this.#watchPixelRatio();
    this.#resize();
  }

  /** True when there is nothing to recognize. */
  get isEmpty() {
    return this.#strokes.length === 0;
  }

  get strokeCount() {
    return this.#strokes.length;
  }

  /** Width over height of the drawing surface (and of the PNG sent to the server). */
  get aspect() {
    return this.#aspect;
  }

  /** A copy of the strokes, in pad units (the pad's height is 1). */
  get strokes() {
    return this.#strokes.map((stroke) => stroke.map(([x, y]) => [x, y]));
  }

  /**
   * Change the pad's shape; the page's CSS sizes the canvas to match (see .pad-frame).
   * Widening keeps the drawing; narrowing clears it if any ink would fall outside.
   */
  setAspect(aspect) {
    if (aspect === this.#aspect) return;
    this.#aspect = aspect;
    const outside = this.#strokes.some((stroke) => stroke.some(([x]) => x > aspect));
    if (outside) this.#strokes = [];
    this.#canvas.dataset.aspect = String(aspect);
    this.#resize();
    this.#changed();
  }

  /** True while a pointer is down on the pad. */
  get isDrawing() {
    return this.#active !== null;
  }

  undo() {
    if (this.#active || this.#strokes.length === 0) return;
    this.#strokes.pop();
    this.#changed();
  }

  clear() {
    this.#active = null;
    this.#pointerId = null;
    this.#strokes = [];
    this.#changed();
  }

  /** The drawing as a PNG on white, EXPORT_SIDE pixels high, whatever the display size. */
  toBlob(height = EXPORT_SIDE) {
    return drawingBlob(this.#strokes, this.#aspect, height);
  }

  /** The drawing as a PNG `data:` URL, made at once: a caller that must store it before the
   * page can go away (a reload right after an answer) cannot wait for toBlob's encoder. */
  toDataUrl(height) {
    return drawingCanvas(this.#strokes, this.#aspect, height).toDataURL("image/png");
  }

  #changed() {
    this.#render();
    this.dispatchEvent(new Event("change"));
  }

  /** A pointer position in pad units; the border is outside the drawing surface. */
  #point(e) {
    const canvas = this.#canvas;
    const rect = canvas.getBoundingClientRect();
    const unit = canvas.clientHeight || 1;
    return [
      ((e.clientX - rect.left - canvas.clientLeft) / (canvas.clientWidth || 1)) * this.#aspect,
      (e.clientY - rect.top - canvas.clientTop) / unit,
    ];
  }

  #down(e) {
    if (this.#active || (e.pointerType === "mouse" && e.button !== 0)) return;
    e.preventDefault();
    this.#canvas.setPointerCapture(e.pointerId);
    this.#pointerId = e.pointerId;
    this.#active = [this.#point(e)];
    this.#strokes.push(this.#active);
    this.#scheduleRender();
    this.dispatchEvent(new Event("strokestart"));
  }

  #move(e) {
    if (e.pointerId !== this.#pointerId || !this.#active) return;
    e.preventDefault();
    // Coalesced events carry the samples the browser merged between frames: smoother curves.
    const samples = e.getCoalescedEvents ? e.getCoalescedEvents() : [];
    for (const sample of samples.length ? samples : [e]) {
      const [x, y] = this.#point(sample);
      const [px, py] = this.#active[this.#active.length - 1];
      if (Math.hypot(x - px, y - py) >= MIN_STEP) this.#active.push([x, y]);
    }
    this.#scheduleRender();
    this.dispatchEvent(new Event("strokemove"));
  }

  #up(e) {
    if (e.pointerId !== this.#pointerId || !this.#active) return;
    const [x, y] = this.#point(e);
    const [px, py] = this.#active[this.#active.length - 1];
    if (e.type === "pointerup" && Math.hypot(x - px, y - py) >= MIN_STEP) this.#active.push([x, y]);
    this.#active = null;
    this.#pointerId = null;
    this.#render();
    this.dispatchEvent(new Event("strokeend"));
  }

  /** Backing store = content box x devicePixelRatio, so ink stays sharp on high-DPI screens. */
  #resize() {
    const height = Math.max(1, Math.round(this.#canvas.clientHeight * (window.devicePixelRatio || 1)));
    const width = Math.round(height * this.#aspect);
    if (this.#canvas.width !== width || this.#canvas.height !== height) {
      this.#canvas.width = width;
      this.#canvas.height = height;
    }
    this.#render();
  }

  #watchPixelRatio() {
    const query = matchMedia(`(resolution: ${window.devicePixelRatio || 1}dppx)`);
    query.addEventListener("change", () => {
      this.#resize();
      this.#watchPixelRatio();
    }, { once: true });
  }

  #scheduleRender() {
    if (this.#frame) return;
    this.#frame = requestAnimationFrame(() => {
      this.#frame = 0;
      this.#render();
    });
  }

  #render() {
    paint(this.#ctx, this.#canvas.height, this.#strokes, this.#canvas.width);
  }
}
