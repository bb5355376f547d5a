// The "Digit / Number" switch: which shape the pad has and what the page asks the server.
// The choice is remembered across visits.

import { NUMBER_ASPECT } from "./numbers.js";

const KEY = "nv.mode";
const ASPECTS = { digit: 1, number: NUMBER_ASPECT };

/** Dispatches "change" when the user picks the other mode. */
export class ModeSwitch extends EventTarget {
  #inputs;
  #pad;
  #mode = "digit";

  constructor(group, pad) {
    super();
    this.#inputs = [...group.querySelectorAll('input[name="mode"]')];
    this.#pad = pad;
    let saved = null;
    try {
      saved = localStorage.getItem(KEY);
    } catch {
      // storage blocked: start in digit mode every time
    }
    this.#apply(saved in ASPECTS ? saved : "digit");
    for (const input of this.#inputs) {
      input.addEventListener("change", () => input.checked && this.#apply(input.value));
    }
  }

  get mode() {
    return this.#mode;
  }

  /** Pick a mode as if the user had clicked it (the advice's "Read it as a number"). */
  select(mode) {
    this.#apply(mode);
  }

  #apply(mode) {
    const changed = mode !== this.#mode;
    this.#mode = mode;
    for (const input of this.#inputs) input.checked = input.value === mode;
    // The body's mode styles the pad and the texts before the pad announces its new shape.
    document.body.dataset.mode = mode;
    try {
      localStorage.setItem(KEY, mode);
    } catch {
      // not remembered, still applied
    }
    this.#pad.setAspect(ASPECTS[mode]);
    if (changed) this.dispatchEvent(new Event("change"));
  }
}
