// Talking to the server: POST /predict and GET /health/ready (see the HTTP contract).
// URLs are relative, so the page also works behind a path prefix.

/** The server answered, but not with a prediction. `status` says how it failed. */
export class ServerError extends Error {
  constructor(message, status) {
    super(message);
    this.name = "ServerError";
    this.status = status;
  }

  /** 4xx (except timeouts and rate limits) means the request itself was wrong: retrying won't help. */
  get isClientError() {
    return this.status >= 400 && this.status < 500 && this.status !== 408 && this.status !== 429;
  }
}

/**
 * Send a PNG of the drawing; resolve to the contract's result, with the 28x28 input included.
 * With `fields` (say {mode: "number", strokes: [...]}) the PNG goes as JSON with them.
 */
export async function predict(png, signal, fields = null) {
  if (fields === null) {
    return post("predict?include_input=true", "image/png", png, signal);
  }
  const body = JSON.stringify({ image: await dataUrl(png), include_input: true, ...fields });
  return post("predict", "application/json", body, signal);
}

/** Several PNGs in one batch request; resolve to their results, in order. */
export async function predictMany(pngs, signal) {
  const images = await Promise.all(pngs.map(dataUrl));
  const body = JSON.stringify({ images, include_input: true });
  const answer = await post("predict", "application/json", body, signal);
  if (!Array.isArray(answer.predictions)) throw new ServerError("the server sent no predictions", 502);
  return answer.predictions.map((result) => ({ request_id: answer.request_id, ...result }));
}

async function post(url, type, body, signal) {
  const response = await fetch(url, {
    method: "POST",
    headers: { "Content-Type": type, Accept: "application/json" },
    body,
    signal,
    cache: "no-store",
  });
  let answer = null;
  try {
    answer = await response.json();
  } catch {
    // Not JSON (a proxy's error page, say): the status is all we know.
  }
  if (!response.ok || answer === null) {
    const reason = answer && answer.error ? answer.error : `the server answered ${response.status}`;
    throw new ServerError(reason, response.status);
  }
  // The id that also appears in the server's log line for this request, when it says one.
  answer.request_id ??= response.headers.get("x-request-id") ?? undefined;
  return answer;
}

/** A Blob as a data: URL (base64), as the JSON API and thumbnails take it. */
export function dataUrl(blob) {
  return new Promise((resolve, reject) => {
    const reader = new FileReader();
    reader.onload = () => resolve(reader.result);
    reader.onerror = () => reject(reader.error);
    reader.readAsDataURL(blob);
  });
}

/** True when the server says it can answer predictions (model loaded and warmed up). */
export async function isReady() {
  try {
    const response = await fetch("health/ready", { cache: "no-store" });
    return response.ok;
  } catch {
    return false;
  }
}

/** Model details for the footer, or null if the server does not say. */
export async function health() {
  try {
    const response = await fetch("health", { cache: "no-store" });
    return response.ok ? await response.json() : null;
  } catch {
    return null;
  }
}
