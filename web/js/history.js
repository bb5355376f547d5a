// The session's answers, kept in this browser (localStorage) until the user clears them:
// one row per drawing, with a thumbnail, the answer, how sure, which model and when. Shown
// as a list with delete buttons, and downloadable as CSV or JSON. Nothing here is sent
// anywhere; feedback is a separate, explicit act.

import { answerText, percent } from "./view.js";

const KEY = "nv.history.v1";

/** Rows kept at most; the oldest go first. Thumbnails are about 1-2 kB each. */
export const HISTORY_LIMIT = 200;

/** How long "Delete all" can be undone. */
const UNDO_MS = 10000;

/** Columns of the CSV download, in order (the JSON download has the same fields). */
export const CSV_COLUMNS = [
  "time",
  "mode",
  "answer",
  "digit",
  "number",
  "reason",
  "confidence",
  "model_version",
  "request_id",
  "source",
  "feedback",
  "thumbnail",
];

/** One history row from an answer of the server. */
export function entryFor(id, mode, result, thumbnail, time = new Date()) {
  const number = Array.isArray(result.digits);
  return {
    id,
    time: time.toISOString(),
    mode,
    answer: answerText(result),
    digit: number ? null : (result.digit ?? null),
    number: number ? (result.number ?? null) : null,
    reason: result.reason ?? null,
    confidence: Number(result.confidence ?? 0),
    model_version: result.model_version ?? null,
    request_id: result.request_id ?? null,
    source: result.source ?? "server",
    feedback: null,
    thumbnail,
  };
}

/** The rows as CSV (RFC 4180: quoted where needed, CRLF line ends); `feedback` is the label
 * the user gave, if any. A cell that starts like a formula gets a leading ' (as OWASP
 * advises, and as the server's feedback export does), so that a spreadsheet shows it as text
 * instead of running it: rows can be edited in localStorage before they are downloaded. */
export function toCsv(entries) {
  const cell = (value) => {
    const raw = value === null || value === undefined ? "" : String(value);
    const text = /^[=+\-@\t\r]/.test(raw) ? `'${raw}` : raw;
    return /[",\r\n]/.test(text) ? `"${text.replaceAll('"', '""')}"` : text;
  };
  const value = (entry, column) => (column === "feedback" ? entry.feedback?.label : entry[column]);
  const rows = entries.map((entry) => CSV_COLUMNS.map((column) => cell(value(entry, column))).join(","));
  return [CSV_COLUMNS.join(","), ...rows].join("\r\n") + "\r\n";
}

/** The rows as a JSON document (without the internal ids). */
export function toJson(entries) {
  const rows = entries.map((entry) => Object.fromEntries(CSV_COLUMNS.map((c) => [c, entry[c] ?? null])));
  return JSON.stringify({ exported: new Date().toISOString(), entries: rows }, null, 2);
}

/** The stored rows, newest first. Dispatches "change" whenever they change. */
export class History extends EventTarget {
  #entries = [];

  constructor() {
    super();
    try {
      const stored = JSON.parse(localStorage.getItem(KEY) ?? "[]");
      if (Array.isArray(stored)) this.#entries = stored.filter((e) => e && typeof e.id === "string");
    } catch {
      // unreadable or blocked storage: start empty
    }
  }

  get entries() {
    return [...this.#entries];
  }

  /** Add the row, or replace the row of the same drawing (its answer changed). */
  record(entry) {
    const previous = this.#entries.find((e) => e.id === entry.id);
    const kept = this.#entries.filter((e) => e.id !== entry.id);
    // Feedback given on the drawing stays with it while the answer is refined.
    this.#entries = [{ ...entry, feedback: previous?.feedback ?? entry.feedback }, ...kept].slice(0, HISTORY_LIMIT);
    this.#save();
  }

  /** Note on a row that the user confirmed or corrected it. */
  note(id, feedback) {
    const entry = this.#entries.find((e) => e.id === id);
    if (!entry) return;
    entry.feedback = feedback;
    this.#save();
  }

  remove(id) {
    this.#entries = this.#entries.filter((e) => e.id !== id);
    this.#save();
  }

  /** Delete every row; return the rows deleted, for restore(). */
  clear() {
    const deleted = this.#entries;
    this.#entries = [];
    this.#save();
    return deleted;
  }

  /** Put deleted rows back, behind any recorded since. */
  restore(rows) {
    const ids = new Set(this.#entries.map((e) => e.id));
    this.#entries = [...this.#entries, ...rows.filter((e) => !ids.has(e.id))].slice(0, HISTORY_LIMIT);
    this.#save();
  }

  /** Write to storage; when it is full, drop the oldest rows until it fits. */
  #save() {
    for (;;) {
      try {
        if (this.#entries.length) localStorage.setItem(KEY, JSON.stringify(this.#entries));
        else localStorage.removeItem(KEY);
        break;
      } catch {
        if (this.#entries.length <= 1) break; // storage blocked: keep the rows for this visit only
        this.#entries = this.#entries.slice(0, Math.floor(this.#entries.length / 2));
      }
    }
    this.dispatchEvent(new Event("change"));
  }
}

/** The history panel: the list, delete one, delete all (with undo), download CSV and JSON. */
export class HistoryView {
  #history;
  #list;
  #empty;
  #count;
  #undo;
  #deleted = [];
  #undoTimer = 0;

  constructor(root, history) {
    this.#history = history;
    this.#list = root.querySelector("#history-list");
    this.#empty = root.querySelector("#history-empty");
    this.#count = root.querySelector("#history-count");
    this.#undo = root.querySelector("#history-undo");
    root.querySelector("#history-clear").addEventListener("click", () => this.#clear());
    this.#undo.querySelector("button").addEventListener("click", () => {
      history.restore(this.#deleted);
      this.#endUndo();
      root.querySelector("h2").focus();
    });
    root.querySelector("#history-csv").addEventListener("click", () =>
      download(toCsv(history.entries), "text/csv", "csv"),
    );
    root.querySelector("#history-json").addEventListener("click", () =>
      download(toJson(history.entries), "application/json", "json"),
    );
    this.#list.addEventListener("click", (e) => {
      const button = e.target instanceof Element ? e.target.closest("button[data-remove]") : null;
      if (button) this.#remove(button);
    });
    history.addEventListener("change", () => this.render());
    this.render();
  }

  /** Delete every row at once, and offer to bring them back for UNDO_MS. */
  #clear() {
    this.#deleted = this.#history.clear();
    const count = this.#deleted.length;
    this.#undo.querySelector("span").textContent = `Deleted ${count === 1 ? "1 drawing" : `${count} drawings`}.`;
    this.#undo.hidden = false;
    this.#undo.querySelector("button").focus(); // "Delete all" is disabled now
    clearTimeout(this.#undoTimer);
    this.#undoTimer = setTimeout(() => this.#endUndo(), UNDO_MS);
  }

  #endUndo() {
    clearTimeout(this.#undoTimer);
    this.#deleted = [];
    this.#undo.hidden = true;
  }

  render() {
    const entries = this.#history.entries;
    // The model's version is said once for a run of rows it answered, not on every row.
    this.#list.replaceChildren(
      ...entries.map((entry, i) => row(entry, entries[i + 1]?.model_version !== entry.model_version)),
    );
    this.#empty.hidden = entries.length > 0;
    this.#count.textContent = entries.length === 1 ? "1 drawing" : `${entries.length} drawings`;
    for (const button of this.#list.closest("section").querySelectorAll(".history-actions button")) {
      button.disabled = entries.length === 0;
    }
  }

  /** Delete a row; keep keyboard focus in the list (the next row's button, or the heading). */
  #remove(button) {
    const item = button.closest("li");
    const next = item.nextElementSibling ?? item.previousElementSibling;
    const nextId = next?.dataset.id;
    this.#history.remove(button.dataset.remove);
    const target = nextId && this.#list.querySelector(`li[data-id="${CSS.escape(nextId)}"] button`);
    (target || this.#list.closest("section").querySelector("h2")).focus();
  }
}

/** One row; `newModel`: its model differs from the older row's below (or it is the oldest). */
function row(entry, newModel) {
  const item = document.createElement("li");
  item.className = "history-item";
  item.dataset.id = entry.id;
  const image = document.createElement("img");
  image.className = "history-thumb";
  image.src = entry.thumbnail || "";
  image.alt = "";
  const answer = document.createElement("span");
  answer.className = "history-answer";
  answer.textContent = entry.answer;
  const details = document.createElement("span");
  details.className = "history-details";
  const when = new Date(entry.time).toLocaleString([], { dateStyle: "medium", timeStyle: "short" });
  const named = entry.digit !== null || entry.number !== null;
  details.textContent = [
    named ? `${percent(entry.confidence)} sure` : null,
    when,
    newModel ? `model ${entry.model_version ?? "unknown"}` : null,
    entry.source === "device" ? "on this device" : null,
    entry.feedback ? (entry.feedback.label === entry.answer ? "confirmed" : `was ${entry.feedback.label}`) : null,
  ]
    .filter(Boolean)
    .join(" · ");
  const remove = document.createElement("button");
  remove.type = "button";
  remove.className = "history-remove";
  remove.dataset.remove = entry.id;
  remove.textContent = "Delete";
  remove.setAttribute("aria-label", `Delete ${entry.answer} from ${when}`);
  item.append(image, answer, details, remove);
  return item;
}

/** Save text as a file: a blob: URL on a temporary link (allowed by the CSP, no server). */
function download(text, type, extension) {
  const url = URL.createObjectURL(new Blob([text], { type }));
  const link = document.createElement("a");
  link.href = url;
  const stamp = new Date().toISOString().slice(0, 19).replaceAll(":", "-");
  link.download = `number-visualizer-history-${stamp}.${extension}`;
  document.body.append(link);
  link.click();
  link.remove();
  setTimeout(() => URL.revokeObjectURL(url), 1000);
}
