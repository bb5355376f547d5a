// The server first, this device when the server cannot be reached: one rule for digit and
// number mode. The model on the device (offline.js) is imported only when it is needed, so
// it costs nothing while the server answers.

import { ServerError } from "./client.js";

/**
 * Resolve to `server()`; when that fails because the server cannot be reached (not because it
 * refused the drawing, and not because a newer request cancelled this one), resolve to
 * `device(offline)` instead, `offline` being the offline.js module. If the device cannot
 * answer either (no model stored yet), the server's failure is what the caller hears.
 */
export async function serverOrDevice(server, device, signal) {
  try {
    // The browser knows it has no network: no need to wait for a request to fail.
    if (navigator.onLine === false) throw new TypeError("the browser is offline");
    return await server();
  } catch (error) {
    if (error.name === "AbortError" || (error instanceof ServerError && error.isClientError)) throw error;
    try {
      const answer = await device(await import("./offline.js"));
      signal.throwIfAborted();
      return answer;
    } catch (offlineError) {
      if (offlineError.name === "AbortError") throw offlineError;
      throw error;
    }
  }
}
