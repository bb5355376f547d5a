// Number mode: ask the server to read a whole number, draw its boxes over the pad, and let
// the user correct the split. The page knows the strokes, so it sends their x-extents as a
// hint, and keeps one rule itself: strokes drawn far apart are always separate digits. When
// the user joins or splits parts, the page renders each group of strokes as its own image
// and reads them as a batch of single digits. When the server cannot be reached, the page
// splits the drawing by its strokes alone (inks that are apart are different digits) and
// reads the parts with the model on this device; cutting digits that touch is the server's.

import { predict, predictMany } from "./client.js";
import { serverOrDevice } from "./fallback.js";
import { canvasPixels, drawingCanvas, EXPORT_SIDE, INK_WIDTH, pngBlob } from "./pad.js";
import { isNamed, LOW_CONFIDENCE } from "./view.js";

/** Width over height of the pad in number mode: six digits fit comfortably side by side. */
export const NUMBER_ASPECT = 3;

/** Strokes whose inks are at least this far apart (in pad heights) are different digits:
 * 0.15 (twice the ink width) is wider than any gap inside a digit (a 5's loose bar, a 7's bar). */
export const FAR_GAP = 0.15;

/** Without the server, strokes whose inks are at least this far apart (in pad heights, an
 * eighth of the ink width: not touching) are different digits. */
export const APART_GAP = 0.01;

/** Without the server, a group of strokes at least this much wider than high is taken for
 * digits that touch, not read as one digit. On the stroke-drawn numbers of
 * tests/test_preprocess_parity.py, 1 of 759 single digits is this wide, and touching digits
 * left in one part pass for a single digit 8 times in 200 with the rule (model
 * 20261125.225646; 6 with 20261125.205311, which alone refused 95 % of them). */
export const TOUCHING_ASPECT = 1.3;

const TOUCHING = "These look like digits that touch: the server can cut them apart. Leave a gap between digits.";

/** Paper left and right of a group rendered on its own, in pad heights. */
const MARGIN = 0.15;

/** Each stroke's inked extent in pad units: {x0, x1, y0, y1}, ink width included. */
export function strokeExtents(strokes) {
  const half = INK_WIDTH / 2;
  return strokes.map((stroke) => {
    const xs = stroke.map(([x]) => x);
    const ys = stroke.map(([, y]) => y);
    return {
      x0: Math.min(...xs) - half,
      x1: Math.max(...xs) + half,
      y0: Math.min(...ys) - half,
      y1: Math.max(...ys) + half,
    };
  });
}

/** The hint sent with the drawing: each stroke's [x0, x1] in the posted image's pixels. */
export function strokeHint(extents) {
  return extents.map(({ x0, x1 }) => [Math.round(x0 * EXPORT_SIDE), Math.round(x1 * EXPORT_SIDE)]);
}

const centre = ({ x0, x1 }) => (x0 + x1) / 2;

/** Stroke indices grouped by the server's boxes (each stroke goes to the box nearest its
 * centre), left to right; boxes that got no stroke are dropped. */
export function groupsFromBoxes(extents, boxes) {
  if (boxes.length === 0) return extents.length ? [extents.map((_, i) => i)] : [];
  const groups = boxes.map(() => []);
  const distance = (box, x) => Math.abs((box[0] + box[2]) / 2 - x);
  extents.forEach((extent, i) => {
    const x = centre(extent) * EXPORT_SIDE;
    let best = boxes.findIndex((box) => box[0] <= x && x <= box[2]);
    if (best < 0) {
      best = boxes.reduce((b, box, k) => (distance(box, x) < distance(boxes[b], x) ? k : b), 0);
    }
    groups[best].push(i);
  });
  return sortGroups(groups.filter((group) => group.length), extents);
}

function sortGroups(groups, extents) {
  const left = (group) => Math.min(...group.map((i) => extents[i].x0));
  return groups.map((group) => [...group].sort((a, b) => a - b)).sort((a, b) => left(a) - left(b));
}

/** Cut each group wherever its strokes leave a gap of at least `gap`. */
export function separateFarApart(groups, extents, gap = FAR_GAP) {
  const out = [];
  for (const group of groups) {
    const sorted = [...group].sort((a, b) => extents[a].x0 - extents[b].x0);
    let current = [sorted[0]];
    let right = extents[sorted[0]].x1;
    for (const i of sorted.slice(1)) {
      if (extents[i].x0 - right >= gap) {
        out.push(current);
        current = [];
      }
      current.push(i);
      right = Math.max(right, extents[i].x1);
    }
    out.push(current);
  }
  return sortGroups(out, extents);
}

/** Split one group in two at the widest gap between its strokes' centres. */
export function splitGroup(groups, index, extents) {
  const sorted = [...groups[index]].sort((a, b) => centre(extents[a]) - centre(extents[b]));
  if (sorted.length < 2) return groups;
  let cut = 1;
  for (let k = 1; k < sorted.length; k += 1) {
    const gap = centre(extents[sorted[k]]) - centre(extents[sorted[k - 1]]);
    if (gap > centre(extents[sorted[cut]]) - centre(extents[sorted[cut - 1]])) cut = k;
  }
  const parts = [sorted.slice(0, cut), sorted.slice(cut)];
  return sortGroups([...groups.slice(0, index), ...parts, ...groups.slice(index + 1)], extents);
}

/** Join a group with the one to its right. */
export function joinGroups(groups, index, extents) {
  if (index + 1 >= groups.length) return groups;
  const joined = [...groups[index], ...groups[index + 1]];
  return sortGroups([...groups.slice(0, index), joined, ...groups.slice(index + 2)], extents);
}

/** The inked extent of a group, in pad units. */
function groupExtent(group, extents) {
  const members = group.map((i) => extents[i]);
  return {
    x0: Math.min(...members.map((e) => e.x0)),
    x1: Math.max(...members.map((e) => e.x1)),
    y0: Math.min(...members.map((e) => e.y0)),
    y1: Math.max(...members.map((e) => e.y1)),
  };
}

/** The split without the server: all strokes, cut wherever their inks are apart. */
export function deviceGroups(extents) {
  return separateFarApart([extents.map((_, i) => i)], extents, APART_GAP);
}

/** Each group of strokes drawn on a canvas of its own (MARGIN of paper left and right, the
 * pad's height), with its box in pad units. */
export function groupCanvases(strokes, extents, groups) {
  return groups.map((group) => {
    const box = groupExtent(group, extents);
    const shift = box.x0 - MARGIN;
    const moved = group.map((i) => strokes[i].map(([x, y]) => [x - shift, y]));
    return { canvas: drawingCanvas(moved, box.x1 - box.x0 + 2 * MARGIN), box };
  });
}

/** Read each group of strokes as one digit, in one batch: the server's, or this device's
 * model (`offline`, the offline.js module) when it is given. */
async function readGroups(strokes, extents, groups, signal, offline = null) {
  const parts = groupCanvases(strokes, extents, groups);
  const canvases = parts.map((part) => part.canvas);
  const answers = offline
    ? (await offline.recognizeMany(canvases.map(canvasPixels))).map((answer, g) =>
        isWide(parts[g].box) ? touching(answer) : answer,
      )
    : await predictMany(await Promise.all(canvases.map(pngBlob)), signal);
  return composeNumber(answers, parts.map((part) => part.box));
}

/** True for a group's box (pad units) as wide as digits that touch. */
export const isWide = ({ x0, x1, y0, y1 }) => x1 - x0 >= TOUCHING_ASPECT * (y1 - y0);

/** A part's answer when it is digits that touch: no digit claimed. */
function touching(answer) {
  return { ...answer, digit: null, confidence: 0, reason: "several_digits", message: TOUCHING };
}

/** The number the parts' answers make, with each part's box in the posted image's pixels;
 * no number is claimed unless every part is a digit. */
function composeNumber(answers, boxes) {
  const digits = answers.map((answer, g) => ({
    ...answer,
    box: [boxes[g].x0, boxes[g].y0, boxes[g].x1, boxes[g].y1].map((v) => Math.round(Math.max(0, v) * EXPORT_SIDE)),
  }));
  const named = digits.every((part) => part.digit !== null && part.digit !== undefined);
  return {
    number: named ? digits.map((part) => String(part.digit)).join("") : null,
    digits,
    confidence: named ? digits.reduce((p, part) => p * part.confidence, 1) : 0,
    model_version: answers[0]?.model_version,
    request_id: answers[0]?.request_id,
    split: "page",
    ...(answers[0]?.source ? { source: answers[0].source } : {}),
  };
}

/** Each group's name on its buttons: the digits read in it, as its boxes on the pad show
 * them (each part counted in the one group nearest its box), or "part N" when none is. */
export function groupNames(groups, extents, parts) {
  const names = groups.map(() => "");
  const middles = groups.map((group) => centre(groupExtent(group, extents)));
  for (const part of parts) {
    const x = (part.box[0] + part.box[2]) / 2 / EXPORT_SIDE;
    const nearest = middles.reduce((b, m, g) => (Math.abs(m - x) < Math.abs(middles[b] - x) ? g : b), 0);
    names[nearest] += isNamed(part) ? String(part.digit) : "?";
  }
  return names.map((name, g) => (name && name !== "?" ? name : `part ${g + 1}`));
}

/**
 * Number mode's recognition and its split controls. `recognize` is what LiveRecognition
 * calls; `show` draws the boxes and the join/split buttons for an answer. The buttons are
 * open under an unsure answer (or none), folded under a sure one, and one tap undoes a join
 * or split.
 */
export class NumberReader extends EventTarget {
  #overlay;
  #controls;
  #chosen = null; // the user's own grouping of the current drawing, if they changed it
  #undo = []; // before each of the user's joins and splits: {groups (null: the server's), text}
  #shown = ""; // the digits on show, "?" for a part that is not one

  constructor(overlay, controls, pad) {
    super();
    this.#overlay = overlay;
    this.#controls = controls;
    // Any change to the drawing starts again from the server's split.
    for (const type of ["strokestart", "change"]) {
      pad.addEventListener(type, () => {
        this.#chosen = null;
        this.#undo = [];
        this.clear();
      });
    }
  }

  /** Ask for the number in the pad's drawing; resolve to {result, png, groups, extents}.
   * The server reads it; when it cannot be reached, this device does (see deviceGroups). */
  async recognize(pad, signal) {
    const strokes = pad.strokes;
    const extents = strokeExtents(strokes);
    const png = await pad.toBlob();
    const chosen = this.#chosen;
    return serverOrDevice(
      async () => ({ ...(await this.#askServer(strokes, extents, png, chosen, signal)), png, extents }),
      async (offline) => {
        const groups = chosen ?? deviceGroups(extents);
        const result = await readGroups(strokes, extents, groups, signal, offline);
        return { result, png, groups, extents };
      },
      signal,
    );
  }

  /** The server's reading (or, for the user's own split, its batch of single digits). */
  async #askServer(strokes, extents, png, chosen, signal) {
    if (chosen !== null) return { result: await readGroups(strokes, extents, chosen, signal), groups: chosen };
    const result = await predict(png, signal, { mode: "number", strokes: strokeHint(extents) });
    const parts = Array.isArray(result.digits) ? result.digits : [];
    const groups = groupsFromBoxes(extents, parts.map((part) => part.box));
    const apart = separateFarApart(groups, extents);
    if (apart.length > groups.length) {
      return { result: await readGroups(strokes, extents, apart, signal), groups: apart };
    }
    return { result, groups };
  }

  /** Draw the answer's boxes over the pad and offer to join or split its parts. */
  show(result, groups, extents, aspect) {
    const parts = Array.isArray(result.digits) ? result.digits : [];
    this.#shown = parts.map((part) => (isNamed(part) ? String(part.digit) : "?")).join("");
    this.#overlay.replaceChildren(...parts.map((part, i) => box(part, i, aspect)));
    this.#overlay.hidden = parts.length === 0;
    this.#showControls(groups, extents, parts);
    this.#controls.open = !isNamed(result) || result.confidence < LOW_CONFIDENCE || this.#undo.length > 0;
  }

  clear() {
    this.#overlay.replaceChildren();
    this.#overlay.hidden = true;
    this.#controls.hidden = true;
    this.#controls.querySelector(".split-buttons").replaceChildren();
  }

  #showControls(groups, extents, parts) {
    const names = groupNames(groups, extents, parts);
    const buttons = [];
    if (this.#undo.length) {
      const { groups: before, text } = this.#undo[this.#undo.length - 1];
      buttons.push(button(`Back to ${text}`, "undo the last join or split", () => {
        this.#undo.pop();
        this.#chosen = before;
        this.dispatchEvent(new Event("regroup"));
      }));
    }
    groups.forEach((group, g) => {
      if (group.length > 1) {
        buttons.push(button(`Split ${names[g]}`, `part ${g + 1} into two digits`, () =>
          this.#regroup(splitGroup(groups, g, extents)),
        ));
      }
      if (g + 1 < groups.length) {
        buttons.push(button(`Join ${names[g]} + ${names[g + 1]}`, `parts ${g + 1} and ${g + 2} into one digit`, () =>
          this.#regroup(joinGroups(groups, g, extents)),
        ));
      }
    });
    this.#controls.querySelector(".split-buttons").replaceChildren(...buttons);
    this.#controls.hidden = buttons.length === 0;
  }

  #regroup(groups) {
    this.#undo.push({ groups: this.#chosen, text: this.#shown });
    this.#chosen = groups;
    this.dispatchEvent(new Event("regroup"));
  }
}

/** A split button; its accessible name starts with its visible text, then says which parts. */
function button(text, detail, onClick) {
  const element = document.createElement("button");
  element.type = "button";
  element.className = "split-button";
  element.textContent = text;
  element.setAttribute("aria-label", `${text}: ${detail}`);
  element.addEventListener("click", onClick);
  return element;
}

/** One part's box over the pad, placed in fractions of the posted image (CSSOM properties:
 * no style attributes under the CSP). */
function box(part, index, aspect) {
  const element = document.createElement("div");
  element.className = "part-box";
  const named = part.digit !== null && part.digit !== undefined;
  element.dataset.digit = named ? String(part.digit) : "";
  element.dataset.index = String(index);
  const [x0, y0, x1, y1] = part.box;
  const width = Math.round(EXPORT_SIDE * aspect);
  element.style.setProperty("--x0", String(x0 / width));
  element.style.setProperty("--x1", String(x1 / width));
  element.style.setProperty("--y0", String(y0 / EXPORT_SIDE));
  element.style.setProperty("--y1", String(y1 / EXPORT_SIDE));
  const label = document.createElement("span");
  label.className = "part-label";
  label.textContent = named ? String(part.digit) : "?";
  element.append(label);
  return element;
}
