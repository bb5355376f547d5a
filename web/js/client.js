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

/** Send a PNG of the drawing; resolve to the contract's result, with the 28x28 input included. */
export async function predict(png, signal) {
  const response = await fetch("predict?include_input=true", {
    method: "POST",
    headers: { "Content-Type": "image/png", Accept: "application/json" },
    body: png,
    signal,
    cache: "no-store",
  });
  let body = null;
  try {
    body = await response.json();
  } catch {
    // Not JSON (a proxy's error page, say): the status is all we know.
  }
  if (!response.ok || body === null) {
    const reason = body && body.error ? body.error : `the server answered ${response.status}`;
    throw new ServerError(reason, response.status);
  }
  return body;
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
