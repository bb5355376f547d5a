// The result panel: the big answer (a digit or a number), confidence, ten bars or the
// number's parts, the 28x28 inputs and notices. It only displays; deciding what to show is
// the caller's job.

import { DIGIT_CLASSES, IMAGE_SIZE } from "./contract.js";

/** Below this confidence the page says it is unsure and suggests how to draw better. */
export const LOW_CONFIDENCE = 0.6;

/** What the page says when the server names no digit, by the answer's reason (the server's
 * own message is shown too, when it sends one); the history and a number's parts use the
 * same words in lower case. */
const REJECTED = {
  not_a_digit: "Not a digit",
  several_digits: "Several digits, not one",
};

/** The advice when the server sends no message of its own. */
const DRAW_ONE = "Draw one digit, 0 to 9, large and in the middle of the pad.";
const WRITE_NUMBER = "Write the digits side by side, each one large, with a small gap between them.";

/** What a number read on this device cannot do (numbers.js deviceGroups). */
const DEVICE_SPLIT = "Each group of strokes is read as one digit; digits that touch need the server.";

const DIGITS = Array.from({ length: DIGIT_CLASSES }, (_, d) => String(d));

export function percent(p) {
  if (p > 0 && p < 0.005) return "<1%";
  return `${Math.round(p * 100)}%`;
}

/** True for an answer in number mode (it has parts, not one digit). */
export function isNumberAnswer(result) {
  return Array.isArray(result.digits);
}

/** True when the answer names a digit (or, in number mode, a number). */
export function isNamed(result) {
  const value = isNumberAnswer(result) ? result.number : result.digit;
  return value !== null && value !== undefined;
}

/** What an answer that names no digit is, in words: "not a digit", "several digits, not one". */
function rejectedText(result) {
  return (REJECTED[result.reason] ?? REJECTED.not_a_digit).toLowerCase();
}

/** The answer as one short text: "7", "2026", "not a number", "not a digit" or "several
 * digits, not one" (for the history and feedback). */
export function answerText(result) {
  if (isNumberAnswer(result)) return result.number ?? "not a number";
  return isNamed(result) ? String(result.digit) : rejectedText(result);
}

/** "a 7", "an 8": the article a digit takes when it is read aloud. */
export function withArticle(digit) {
  return `${String(digit) === "8" ? "an" : "a"} ${digit}`;
}

export class ResultView {
  #root;
  #digit;
  #summary;
  #advice;
  #answeredBy;
  #notice;
  #switchToNumber;
  #seen;
  #chart;
  #parts;
  #rows = [];

  constructor(root) {
    this.#root = root;
    this.#digit = root.querySelector("#digit");
    this.#summary = root.querySelector("#summary");
    this.#advice = root.querySelector("#advice");
    this.#answeredBy = root.querySelector("#answered-by");
    this.#notice = root.querySelector("#notice");
    this.#switchToNumber = root.querySelector("#switch-to-number");
    this.#seen = root.querySelector("#seen");
    this.#chart = root.querySelector(".chart");
    this.#parts = root.querySelector("#parts");
    this.#buildBars(root.querySelector("#bars"));
    this.showEmpty();
  }

  /** Nothing drawn: invite the user, show no guess. */
  showEmpty(message = null) {
    const number = document.body.dataset.mode === "number";
    this.#root.dataset.state = "empty";
    this.#root.dataset.kind = number ? "number" : "digit";
    this.#digit.textContent = "?";
    this.#summary.textContent = message ?? (number ? "Draw a number" : "Draw a digit");
    this.#setAdvice("");
    this.#answeredBy.hidden = true;
    this.#setBars(null);
    this.#setParts([]);
    this.#drawSeen([]);
  }

  /** A prediction from POST /predict: one digit, "not a digit", or a number. */
  showResult(result) {
    // Answers from the model on this device (offline.js) say so; the server's are the default.
    this.#answeredBy.hidden = false;
    this.#answeredBy.dataset.source = result.source ?? "server";
    this.#answeredBy.textContent = result.source !== "device"
      ? "Answered by the server."
      : isNumberAnswer(result)
        ? `Answered on this device: the server can't be reached. ${DEVICE_SPLIT}`
        : "Answered on this device: the server can't be reached.";
    if (isNumberAnswer(result)) {
      this.#showNumber(result);
    } else if (result.reason === "blank" || (result.blank && result.digit === null)) {
      this.showEmpty(result.message ?? null);
    } else if (result.digit === null || result.digit === undefined) {
      this.#showRejected(result);
    } else {
      this.#showDigit(result);
    }
  }

  #showDigit(result) {
    const ranked = DIGITS.map((d) => [d, result.probabilities[d] ?? 0]).sort((a, b) => b[1] - a[1]);
    const low = result.confidence < LOW_CONFIDENCE;
    this.#root.dataset.state = low ? "unsure" : "sure";
    this.#root.dataset.kind = "digit";
    this.#digit.textContent = String(result.digit);
    this.#summary.textContent = low
      ? `Maybe ${result.digit}? Only ${percent(result.confidence)} sure.`
      : `It's ${withArticle(result.digit)}, ${percent(result.confidence)} sure.`;
    this.#setAdvice(low ? `It could also be ${withArticle(ranked[1][0])}. ${DRAW_ONE}` : "");
    this.#setBars(result.probabilities, String(result.digit));
    this.#setParts([]);
    this.#drawSeen(result.input ? [result.input] : []);
  }

  /** The server found no single digit: say so plainly, and highlight no bar. Several digits
   * get a button that reads them as a number, as the advice suggests. */
  #showRejected(result) {
    this.#root.dataset.state = "rejected";
    this.#root.dataset.kind = "digit";
    this.#digit.textContent = "?";
    this.#summary.textContent = REJECTED[result.reason] ?? REJECTED.not_a_digit;
    this.#setAdvice(result.message || DRAW_ONE, result.reason === "several_digits");
    this.#setBars(result.probabilities ?? null, null);
    this.#setParts([]);
    this.#drawSeen(result.input ? [result.input] : []);
  }

  #showNumber(result) {
    const parts = result.digits;
    this.#root.dataset.kind = "number";
    this.#setBars(null);
    this.#setParts(parts);
    this.#drawSeen(parts.map((part) => part.input).filter(Array.isArray));
    if (parts.length === 0) {
      this.showEmpty(result.message || null);
      return;
    }
    if (!isNamed(result)) {
      const bad = parts.findIndex((part) => !isNamed(part));
      this.#root.dataset.state = "rejected";
      this.#digit.textContent = parts.map((part) => (part.digit ?? "?")).join("");
      this.#summary.textContent = numberRejection(result, parts, bad);
      this.#setAdvice(result.message || parts[bad]?.message || WRITE_NUMBER);
      return;
    }
    const low = result.confidence < LOW_CONFIDENCE;
    this.#root.dataset.state = low ? "unsure" : "sure";
    this.#digit.textContent = result.number;
    this.#summary.textContent = low
      ? `Maybe ${result.number}? Only ${percent(result.confidence)} sure.`
      : `It's ${result.number}, ${percent(result.confidence)} sure.`;
    this.#setAdvice(low ? `${WRITE_NUMBER} Boxes on the pad show how the drawing was split.` : "");
  }

  /** A plain-words problem (server down, request refused). The last result stays, dimmed;
   * a drawing that never got an answer says so instead of inviting one. */
  showNotice(message) {
    if (this.#root.dataset.state === "empty") {
      this.#root.dataset.state = "unanswered";
      this.#summary.textContent = "No answer yet";
    }
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

  #setAdvice(text, offerNumberMode = false) {
    this.#advice.hidden = !text;
    this.#advice.textContent = text;
    this.#switchToNumber.hidden = !offerNumberMode;
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

  /** The number's parts, left to right, in words a screen reader reads well. */
  #setParts(parts) {
    this.#parts.replaceChildren(
      ...parts.map((part, i) => {
        const item = document.createElement("li");
        item.className = "part";
        const named = isNamed(part);
        item.dataset.digit = named ? String(part.digit) : "";
        item.textContent = named ? `${part.digit}, ${percent(part.confidence)} sure` : rejectedText(part);
        item.setAttribute("aria-label", `Part ${i + 1}: ${item.textContent}`);
        return item;
      }),
    );
    this.#chart.hidden = this.#root.dataset.kind === "number";
  }

  /** The model's inputs are white ink on black, 0..1; show them exactly so, side by side. */
  #drawSeen(inputs) {
    const valid = inputs.filter((input) => Array.isArray(input) && input.length === IMAGE_SIZE);
    const count = Math.max(1, valid.length);
    this.#seen.width = IMAGE_SIZE * count;
    this.#seen.style.setProperty("--n", String(count));
    const ctx = this.#seen.getContext("2d");
    const image = ctx.createImageData(IMAGE_SIZE * count, IMAGE_SIZE);
    for (let i = 3; i < image.data.length; i += 4) image.data[i] = 255;
    valid.forEach((input, k) => {
      input.forEach((row, y) => {
        row.forEach((v, x) => {
          const grey = Math.round(Math.min(1, Math.max(0, v)) * 255);
          image.data.set([grey, grey, grey, 255], (y * IMAGE_SIZE * count + k * IMAGE_SIZE + x) * 4);
        });
      });
    });
    ctx.putImageData(image, 0, 0);
    this.#seen.dataset.filled = String(valid.length > 0);
  }
}

/** The summary of a number that is not claimed: the drawing as a whole, or the part that
 * is not a digit ("part N" only when there are several). */
function numberRejection(result, parts, bad) {
  if (result.reason === "not_a_number" || bad < 0) return "This doesn't look like a number";
  const what = parts[bad].reason === "several_digits" ? "looks like several digits" : "is not a digit";
  return parts.length > 1 ? `Part ${bad + 1} ${what}` : `This ${what}`;
}
