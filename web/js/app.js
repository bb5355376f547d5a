// Wires the page together: pad, mode, live recognition, result view, history, feedback,
// buttons and keys.

import { health } from "./client.js";
import { MAX_DIGITS } from "./contract.js";
import { FeedbackControl } from "./feedback.js";
import { entryFor, History, HistoryView } from "./history.js";
import { installServiceWorker } from "./install.js";
import { flushOutbox } from "./outbox.js";
import { LiveRecognition, readDigit } from "./live.js";
import { ModeSwitch } from "./mode.js";
import { NumberReader } from "./numbers.js";
import { Pad } from "./pad.js";
import { ResultView } from "./view.js";

/** Height of the history's thumbnails, in pixels. */
const THUMB_HEIGHT = 48;

document.getElementById("max-digits").textContent = String(MAX_DIGITS);
const pad = new Pad(document.getElementById("pad"));
const numbers = new NumberReader(document.getElementById("boxes"), document.getElementById("split"), pad);
const modes = new ModeSwitch(document.getElementById("mode"), pad);
const view = new ResultView(document.getElementById("result"));
const live = new LiveRecognition(pad, view, (drawing, signal) =>
  modes.mode === "number"
    ? numbers.recognize(drawing, signal).then((answer) => ({ ...answer, mode: "number" }))
    : readDigit(drawing, signal),
);
const history = new History();
new HistoryView(document.getElementById("history"), history);
const feedback = new FeedbackControl(document.getElementById("feedback"));
installServiceWorker(document.getElementById("app-update"));

// One history row per drawing: a drawing starts with the first stroke on an empty pad.
let drawingId = null;
pad.addEventListener("strokestart", () => {
  if (pad.strokeCount === 1 || drawingId === null) drawingId = newId();
});
pad.addEventListener("change", () => {
  if (pad.isEmpty) drawingId = null;
});
// The drawing read in the other mode is another answer: a row of its own, so the row (and
// any correction) of the first mode's answer stays as it was.
modes.addEventListener("change", () => {
  if (!pad.isEmpty) drawingId = newId();
});
live.addEventListener("empty", () => feedback.hide());
// The server answers again: whatever feedback waited for it can go now.
live.addEventListener("answer", (e) => e.detail.result.source !== "device" && flushOutbox());
// The row is stored in the same task that shows the answer, before feedback is offered: a
// reload (or the app closed) right after an answer keeps it, and feedback always finds its row.
live.addEventListener("answer", (e) => {
  const answer = e.detail;
  if (answer.mode === "number") numbers.show(answer.result, answer.groups, answer.extents, pad.aspect);
  if (!answer.settled || drawingId === null || answer.result.reason === "blank") return;
  history.record(entryFor(drawingId, answer.mode, answer.result, pad.toDataUrl(THUMB_HEIGHT)));
  feedback.offer(drawingId, answer);
});
feedback.addEventListener("sent", (e) => {
  history.note(e.detail.id, { label: e.detail.label, status: e.detail.status });
});
// A new mode reshapes the pad, and the pad's "change" asks again.
numbers.addEventListener("regroup", () => live.now());

function newId() {
  return `${Date.now().toString(36)}-${Math.random().toString(36).slice(2, 8)}`;
}

document.getElementById("undo").addEventListener("click", () => pad.undo());
document.getElementById("clear").addEventListener("click", () => pad.clear());
document.getElementById("recognize").addEventListener("click", () => live.now());
document.getElementById("switch-to-number").addEventListener("click", () => modes.select("number"));

/** Enter on a button already presses that button; elsewhere it means "recognize". */
function isActivatable(target) {
  return target instanceof Element && target.closest("button, a, input, select, textarea") !== null;
}

/** Keys typed into a text field (the right number, in number mode) are the field's. */
function isTextField(target) {
  return target instanceof Element && target.closest("input[type=text], textarea") !== null;
}

document.addEventListener("keydown", (e) => {
  if (e.defaultPrevented || e.isComposing || e.altKey || isTextField(e.target)) return;
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

// The keyboard hint is for a keyboard: hidden while the last input was a finger. A phone
// hides it by its coarse pointer (style.css); a laptop with a touch screen says its pointer
// is fine (the touchpad), and is drawn on with a finger as often.
for (const type of ["pointerdown", "keydown"]) {
  document.addEventListener(
    type,
    (e) => {
      document.body.dataset.input = e.type === "keydown" ? "keyboard" : e.pointerType;
    },
    { capture: true, passive: true },
  );
}

health().then((info) => {
  // A server that says it collects no feedback gets no feedback control.
  if (info && (info.feedback === false || info.feedback === "off")) feedback.disable();
  if (info && info.model_version) {
    document.getElementById("model-info").textContent =
      `Model ${info.model_version}, a small CNN trained on MNIST, run by this server. It keeps no drawing unless you send feedback.`;
  }
});
