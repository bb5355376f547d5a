// "Right" / "Wrong? It was ...": one tap after an answer sends the drawing and the true
// label to POST /feedback (through the outbox, which keeps it while offline), says thank
// you and gets out of the way. Hidden when the server does not collect feedback.

import { dataUrl } from "./client.js";
import { MAX_DIGITS } from "./contract.js";
import { queueFeedback } from "./outbox.js";

/** How long the thank-you stays before the control waits for the next answer. */
const THANKS_MS = 2500;

/** The answer as POST /feedback takes it: the digit or number shown, or null. */
function shownAnswer(result) {
  if (Array.isArray(result.digits)) return result.number ?? null;
  return result.digit === null || result.digit === undefined ? null : String(result.digit);
}

/** Dispatches "sent" (detail: {id, label, status}) after each confirmation or correction. */
export class FeedbackControl extends EventTarget {
  #root;
  #thanks;
  #input;
  #current = null; // {id, result, png, mode} of the answer on show
  #enabled = true;
  #timer = 0;

  constructor(root) {
    super();
    this.#root = root;
    this.#thanks = root.querySelector("#feedback-thanks");
    this.#input = root.querySelector("#feedback-number");
    this.#input.maxLength = MAX_DIGITS; // the longest number this server takes
    root.querySelector("#feedback-right").addEventListener("click", () => this.#confirm());
    root.querySelectorAll("button[data-label]").forEach((button) => {
      button.addEventListener("click", () => this.#send(button.dataset.label));
    });
    root.querySelector("#feedback-form").addEventListener("submit", (e) => {
      e.preventDefault();
      this.#sendNumber();
    });
    // The page's own message, not the browser's, and only until the text changes.
    this.#input.addEventListener("input", () => this.#input.setCustomValidity(""));
    this.hide();
  }

  /** The server does not collect feedback: never offer it. */
  disable() {
    this.#enabled = false;
    this.#root.dataset.disabled = ""; // no space kept for it either
    this.hide();
  }

  /** Offer the control for this answer (of drawing `id`). */
  offer(id, answer) {
    if (!this.#enabled) return;
    const result = answer.result;
    if (result.reason === "blank" || (Array.isArray(result.digits) && result.digits.length === 0)) {
      this.hide();
      return;
    }
    clearTimeout(this.#timer);
    const sameDrawing = this.#current?.id === id;
    this.#current = { id, ...answer };
    this.#thanks.textContent = ""; // a thank-you was for the previous answer, not this one
    this.#root.hidden = false;
    this.#root.dataset.state = "asking";
    if (!sameDrawing) this.#input.value = "";
    // "Right" about a non-answer has no label to learn from; only a correction helps then.
    this.#root.querySelector("#feedback-right").hidden = shownAnswer(result) === null;
  }

  hide() {
    clearTimeout(this.#timer);
    this.#current = null;
    this.#root.hidden = true;
    this.#root.dataset.state = "idle";
  }

  #confirm() {
    const label = this.#current && shownAnswer(this.#current.result);
    if (label !== null && label !== undefined) this.#send(label);
  }

  #sendNumber() {
    const label = this.#input.value.replace(/\s+/g, "");
    if (!new RegExp(`^[0-9]{1,${MAX_DIGITS}}$`).test(label)) {
      this.#input.setCustomValidity(`Type the right number with digits only, 1 to ${MAX_DIGITS} of them.`);
      this.#input.reportValidity();
      return;
    }
    this.#input.setCustomValidity("");
    this.#send(label);
  }

  async #send(label) {
    const current = this.#current;
    if (!current) return;
    const { result, png, mode, id } = current;
    const right = label === shownAnswer(result);
    this.#thank(right ? "Thanks! Glad it was right." : `Thanks! Noted: it was ${label}.`);
    const payload = {
      image: await dataUrl(png),
      label,
      answer: shownAnswer(result),
      model_version: result.model_version ?? null,
      mode,
      ...(result.request_id ? { answer_request_id: result.request_id } : {}),
    };
    try {
      const outcome = await queueFeedback(payload);
      if (outcome.status === "queued" && this.#root.dataset.state === "thanked") {
        this.#thank("Thanks! It will be sent when the server can be reached again.");
      }
      this.dispatchEvent(new CustomEvent("sent", { detail: { id, label, status: outcome.status } }));
    } catch (error) {
      if (error.status === 404 || error.status === 403) {
        this.disable(); // collection is switched off on this server
      } else {
        this.#thank(`Could not send it: ${error.message}.`);
      }
    }
  }

  /** Say thank you in the live region, then wait for the next answer. */
  #thank(text) {
    this.#root.dataset.state = "thanked";
    this.#thanks.textContent = text;
    clearTimeout(this.#timer);
    this.#timer = setTimeout(() => {
      if (this.#root.dataset.state === "thanked") {
        this.#thanks.textContent = "";
        this.#root.hidden = true;
      }
    }, THANKS_MS);
  }
}
