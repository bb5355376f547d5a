// Wires the page together: pad, live recognition, result view, buttons and keys.

import { health } from "./client.js";
import { LiveRecognition } from "./live.js";
import { Pad } from "./pad.js";
import { ResultView } from "./view.js";

const pad = new Pad(document.getElementById("pad"));
const view = new ResultView(document.getElementById("result"));
const live = new LiveRecognition(pad, view);

document.getElementById("undo").addEventListener("click", () => pad.undo());
document.getElementById("clear").addEventListener("click", () => pad.clear());
document.getElementById("recognize").addEventListener("click", () => live.now());

/** Enter on a button already presses that button; elsewhere it means "recognize". */
function isActivatable(target) {
  return target instanceof Element && target.closest("button, a, input, select, textarea") !== null;
}

document.addEventListener("keydown", (e) => {
  if (e.defaultPrevented || e.isComposing || e.altKey) return;
  const command = e.ctrlKey || e.metaKey;
  if (command && !e.shiftKey && e.key.toLowerCase() === "z") {
    e.preventDefault();
    pad.undo();
  } else if (!command && e.key === "Escape") {
    pad.clear();
  } else if (!command && e.key === "Enter" && !isActivatable(e.target)) {
    e.preventDefault();
    live.now();
  }
});

health().then((info) => {
  if (info && info.model_version) {
    document.getElementById("model-info").textContent =
      `Model ${info.model_version}, a small CNN trained on MNIST, run by this server. Your drawing goes nowhere else.`;
  }
});
