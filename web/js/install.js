// The page's side of the service worker (sw.js): register it, tell the user when a new version
// is ready, and, once the page has loaded and is idle, ask the worker to cache what recognition
// without a network needs (onnxruntime-web and the model), so that the first paint never waits
// for those bytes.

/** How long after load the offline runtime is fetched, at the latest (when the page never idles). */
const IDLE_TIMEOUT_MS = 5000;

/**
 * Register the worker if the browser allows one here (HTTPS or localhost).
 * `banner` is a hidden element holding a button: shown when an update is waiting.
 */
export async function installServiceWorker(banner) {
  if (!("serviceWorker" in navigator)) return;
  let registration;
  try {
    registration = await navigator.serviceWorker.register("sw.js");
  } catch {
    return; // not a secure context, or the worker failed: the page works online as before
  }
  if (!registration) return; // some embedders (and test harnesses) block workers this way
  watchForUpdates(registration, banner);
  whenIdle(() => cacheOffline(registration));
  // Every visit while online also brings the model up to date with the server's.
  window.addEventListener("online", () => cacheOffline(registration));
}

function cacheOffline(registration) {
  if (navigator.connection && navigator.connection.saveData) return; // the user asked for less data
  const worker = registration.active;
  if (worker) worker.postMessage("cache-offline");
  else navigator.serviceWorker.ready.then((ready) => ready.active.postMessage("cache-offline"));
}

/** A new version installs in the background; it takes over when the user says so (or when
 * every window of the app is closed), so a page never runs half old and half new code. */
function watchForUpdates(registration, banner) {
  const offer = (worker) => {
    banner.hidden = false;
    banner.querySelector("button").onclick = () => worker.postMessage("activate-update");
  };
  if (registration.waiting && navigator.serviceWorker.controller) offer(registration.waiting);
  registration.addEventListener("updatefound", () => {
    const worker = registration.installing;
    worker?.addEventListener("statechange", () => {
      // "installed" with a controller in charge means an update, not the first install.
      if (worker.state === "installed" && navigator.serviceWorker.controller) offer(worker);
    });
  });
  let reloading = false;
  navigator.serviceWorker.addEventListener("controllerchange", () => {
    if (banner.hidden || reloading) return; // the first install claiming the page: nothing to reload
    reloading = true;
    window.location.reload();
  });
}

function whenIdle(callback) {
  const run = () =>
    "requestIdleCallback" in window
      ? requestIdleCallback(callback, { timeout: IDLE_TIMEOUT_MS })
      : setTimeout(callback, 1000);
  if (document.readyState === "complete") run();
  else window.addEventListener("load", run, { once: true });
}
