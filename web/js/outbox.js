// The feedback outbox: POST /feedback now if the server answers, else keep the feedback in
// IndexedDB and send it when the network returns. Each item gets an idempotency key when it is
// queued and keeps it on every retry (header `Idempotency-Key`), so the server stores it once
// even if an answer is lost on the way back and the item is sent again.

import { ServerError } from "./client.js";

const DB_NAME = "number-visualizer";
const STORE = "outbox";
const RETRY_MIN_MS = 2000;
const RETRY_MAX_MS = 60000;

let retryDelay = RETRY_MIN_MS;
let retryTimer = null;
let flushing = null;
const inFlight = new Map(); // key -> the promise of its POST, while it is being sent

/**
 * Send one piece of feedback, or queue it if the server cannot be reached.
 * Resolves to {status: "sent", id} (the server's id) or {status: "queued"};
 * rejects with a ServerError if the server refuses it (a 4xx: retrying would not help).
 */
export async function queueFeedback(payload) {
  const item = { key: newKey(), payload, queuedAt: Date.now() };
  // Without IndexedDB (some private modes) it is still sent now, just not kept if that fails.
  await store((s) => s.put(item)).catch(() => {});
  const outcome = await send(item);
  if (outcome.status !== "offline") {
    changed();
    if (outcome.status === "refused") throw outcome.error;
    flushOutbox(); // the server answers: send anything older too
    return { status: "sent", id: outcome.id };
  }
  changed();
  scheduleRetry();
  return { status: "queued" };
}

/** How many pieces of feedback wait to be sent. */
export async function pendingCount() {
  try {
    return await store((s) => s.count(), "readonly");
  } catch {
    return 0;
  }
}

/**
 * Send everything queued, oldest first, one at a time; stop at the first network failure.
 * Concurrent calls share one run, so an item is never in flight twice from this page.
 */
export function flushOutbox() {
  flushing ??= drain().finally(() => {
    flushing = null;
  });
  return flushing;
}

async function drain() {
  let items;
  try {
    items = await store((s) => s.getAll(), "readonly");
  } catch {
    return;
  }
  items.sort((a, b) => a.queuedAt - b.queuedAt);
  for (const item of items) {
    const queued = await store((s) => s.get(item.key), "readonly").catch(() => undefined);
    // Sent meanwhile, or queueFeedback is sending it right now.
    if (queued === undefined || inFlight.has(item.key)) continue;
    const outcome = await send(item);
    if (outcome.status === "offline") {
      scheduleRetry();
      return;
    }
    changed();
  }
  retryDelay = RETRY_MIN_MS;
}

/** POST one item (or join the POST already under way for it); once the server has answered
 * for good, take it out of the queue. */
function send(item) {
  if (!inFlight.has(item.key)) {
    const sending = post(item)
      .then(async (outcome) => {
        if (outcome.status !== "offline") await store((s) => s.delete(item.key)).catch(() => {});
        return outcome;
      })
      .finally(() => inFlight.delete(item.key));
    inFlight.set(item.key, sending);
  }
  return inFlight.get(item.key);
}

/** One POST. "offline" covers no network, timeouts, 429 and 5xx: worth retrying later. */
async function post(item) {
  let response;
  try {
    response = await fetch("feedback", {
      method: "POST",
      headers: {
        "Content-Type": "application/json",
        Accept: "application/json",
        "Idempotency-Key": item.key,
      },
      body: JSON.stringify(item.payload),
      cache: "no-store",
    });
  } catch {
    return { status: "offline" };
  }
  let body = null;
  try {
    body = await response.json();
  } catch {
    // not JSON: the status decides
  }
  if (response.ok) return { status: "sent", id: body && body.id };
  const error = new ServerError(
    body && body.error ? body.error : `the server answered ${response.status}`,
    response.status,
  );
  return error.isClientError ? { status: "refused", error } : { status: "offline" };
}

function scheduleRetry() {
  if (retryTimer !== null) return;
  retryTimer = setTimeout(() => {
    retryTimer = null;
    flushOutbox();
  }, retryDelay);
  retryDelay = Math.min(retryDelay * 2, RETRY_MAX_MS);
}

/** Tell the page (e.g. a "2 corrections waiting" line) that the queue changed. */
function changed() {
  pendingCount().then((pending) => {
    window.dispatchEvent(new CustomEvent("outbox-change", { detail: { pending } }));
  });
}

/** A random 128-bit key; crypto.randomUUID needs a secure context, getRandomValues does not. */
function newKey() {
  const bytes = crypto.getRandomValues(new Uint8Array(16));
  return Array.from(bytes, (b) => b.toString(16).padStart(2, "0")).join("");
}

let database = null;

function openDatabase() {
  database ??= new Promise((resolve, reject) => {
    const request = indexedDB.open(DB_NAME, 1);
    request.onupgradeneeded = () => request.result.createObjectStore(STORE, { keyPath: "key" });
    request.onsuccess = () => resolve(request.result);
    request.onerror = () => reject(request.error);
  }).catch((error) => {
    database = null;
    throw error;
  });
  return database;
}

/** Run one request on the outbox store and resolve with its result once the transaction commits. */
async function store(operation, mode = "readwrite") {
  const db = await openDatabase();
  return new Promise((resolve, reject) => {
    const transaction = db.transaction(STORE, mode);
    const request = operation(transaction.objectStore(STORE));
    transaction.oncomplete = () => resolve(request.result);
    transaction.onerror = () => reject(transaction.error);
    transaction.onabort = () => reject(transaction.error);
  });
}

window.addEventListener("online", () => flushOutbox());
flushOutbox(); // whatever an earlier visit left behind
