// The result panel: the big digit, confidence, ten bars, the 28x28 input and notices.
// It only displays; deciding what to show is the caller's job.

/** Below this confidence the page says it is unsure and suggests how to draw better. */
export const LOW_CONFIDENCE = 0.6;

const DIGITS = Array.from({ length: 10 }, (_, d) => String(d));

function percent(p) {
  if (p > 0 && p < 0.005) return "<1%";
  return `${Math.round(p * 100)}%`;
}

export class ResultView {
  #root;
  #digit;
  #summary;
  #advice;
  #notice;
  #seen;
  #rows = [];

  constructor(root) {
    this.#root = root;
    this.#digit = root.querySelector("#digit");
    this.#summary = root.querySelector("#summary");
    this.#advice = root.querySelector("#advice");
    this.#notice = root.querySelector("#notice");
    this.#seen = root.querySelector("#seen");
    this.#buildBars(root.querySelector("#bars"));
    this.showEmpty();
  }

  /** Nothing drawn: invite the user, show no guess. */
  showEmpty(message = "Draw a digit") {
    this.#root.dataset.state = "empty";
    this.#digit.textContent = "?";
    this.#summary.textContent = message;
    this.#advice.hidden = true;
    this.#setBars(null);
    this.#drawSeen(null);
  }

  /** A prediction from POST /predict. */
  showResult(result) {
    if (result.blank || result.digit === null) {
      this.showEmpty(result.message || "Draw a digit");
      return;
    }
    const ranked = DIGITS.map((d) => [d, result.probabilities[d] ?? 0]).sort((a, b) => b[1] - a[1]);
    const low = result.confidence < LOW_CONFIDENCE;
    this.#root.dataset.state = low ? "unsure" : "sure";
    this.#digit.textContent = String(result.digit);
    this.#summary.textContent = low
      ? `Maybe ${result.digit}? Only ${percent(result.confidence)} sure.`
      : `It's a ${result.digit}, ${percent(result.confidence)} sure.`;
    this.#advice.hidden = !low;
    this.#advice.textContent = low
      ? `It could also be a ${ranked[1][0]}. Draw one digit, large and in the middle of the pad.`
      : "";
    this.#setBars(result.probabilities, String(result.digit));
    this.#drawSeen(result.input);
  }

  /** A plain-words problem (server down, request refused). The last result stays, dimmed. */
  showNotice(message) {
    this.#notice.textContent = message;
    this.#notice.hidden = false;
    this.#root.dataset.stale = "true";
  }

  clearNotice() {
    this.#notice.hidden = true;
    this.#notice.textContent = "";
    delete this.#root.dataset.stale;
  }

  setBusy(busy) {
    this.#root.setAttribute("aria-busy", String(busy));
  }

  #buildBars(list) {
    for (const d of DIGITS) {
      const row = document.createElement("li");
      row.className = "bar";
      row.dataset.digit = d;
      const label = document.createElement("span");
      label.className = "bar-label";
      label.textContent = d;
      const track = document.createElement("span");
      track.className = "bar-track";
      track.setAttribute("aria-hidden", "true");
      const fill = document.createElement("span");
      fill.className = "bar-fill";
      track.append(fill);
      const value = document.createElement("span");
      value.className = "bar-value";
      row.append(label, track, value);
      list.append(row);
      this.#rows.push({ row, fill, value });
    }
  }

  #setBars(probabilities, top = null) {
    this.#rows.forEach(({ row, fill, value }, d) => {
      const p = probabilities ? Number(probabilities[DIGITS[d]] ?? 0) : 0;
      // CSSOM custom property: allowed under a CSP that forbids style attributes.
      fill.style.setProperty("--p", String(Math.min(1, Math.max(0, p))));
      value.textContent = probabilities ? percent(p) : "–";
      row.classList.toggle("top", DIGITS[d] === top);
      row.dataset.p = String(p);
    });
  }

  /** The model's input is white ink on black, 0..1; show it exactly so. */
  #drawSeen(input) {
    const ctx = this.#seen.getContext("2d");
    const image = ctx.createImageData(28, 28);
    if (Array.isArray(input) && input.length === 28) {
      input.forEach((row, y) => {
        row.forEach((v, x) => {
          const grey = Math.round(Math.min(1, Math.max(0, v)) * 255);
          image.data.set([grey, grey, grey, 255], (y * 28 + x) * 4);
        });
      });
    } else {
      for (let i = 3; i < image.data.length; i += 4) image.data[i] = 255;
    }
    ctx.putImageData(image, 0, 0);
    this.#seen.dataset.filled = String(Array.isArray(input));
  }
}
