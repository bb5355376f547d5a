// The service worker: the app opens and recognizes digits without a network.
//
// Three caches, each filled only with what it names and served cache-first:
// - the app shell (HTML, CSS, JS, icons, manifest), in a cache named after a hash of those
//   files, so a new deployment is a new cache and the browser sees a new worker;
// - the offline runtime (onnxruntime-web's module and its WebAssembly), fetched in the
//   background after the first visit, never on the first paint;
// - the model, fetched with it and kept only if its sha256 is the one the server announces.
// Nothing else is intercepted: /predict, /feedback, /health and every other API call always
// go to the network, so an answer is never stale.
//
// The server replaces the next line with the shell and runtime file lists and their hashes
// (serving/shell.py); this file as stored is the development copy with empty lists.
self.MANIFEST = { shell: { version: "dev", files: [] }, runtime: { version: "dev", files: [] } };

const PREFIX = "number-visualizer";
const SHELL_CACHE = `${PREFIX}-shell-${self.MANIFEST.shell.version}`;
const RUNTIME_CACHE = `${PREFIX}-runtime-${self.MANIFEST.runtime.version}`;
const MODEL_CACHE = `${PREFIX}-model`;
const MODEL = "model.onnx";
const SHA_HEADER = "X-Model-SHA256";

const scoped = (path) => new URL(path, self.registration.scope).href;
const SHELL_URLS = new Set(self.MANIFEST.shell.files.map(scoped));
const RUNTIME_URLS = new Set(self.MANIFEST.runtime.files.map(scoped));
const MODEL_URL = scoped(MODEL);

self.addEventListener("install", (event) => {
  // Fetched from the network, not the HTTP cache, so the shell is the version just deployed.
  event.waitUntil(
    caches.open(SHELL_CACHE).then((cache) =>
      cache.addAll([...SHELL_URLS].map((url) => new Request(url, { cache: "reload" }))),
    ),
  );
});

self.addEventListener("activate", (event) => {
  const keep = new Set([SHELL_CACHE, RUNTIME_CACHE, MODEL_CACHE]);
  event.waitUntil(
    caches
      .keys()
      .then((names) =>
        Promise.all(names.filter((n) => n.startsWith(PREFIX) && !keep.has(n)).map((n) => caches.delete(n))),
      )
      .then(() => self.clients.claim()),
  );
});

self.addEventListener("message", (event) => {
  if (event.data === "activate-update") self.skipWaiting();
  if (event.data === "cache-offline") event.waitUntil(cacheOffline().catch(() => {}));
});

self.addEventListener("fetch", (event) => {
  const { request } = event;
  if (request.method !== "GET") return;
  const url = new URL(request.url);
  url.hash = "";
  if (request.mode === "navigate") url.search = ""; // ?utm=... is still the page
  const href = url.href;
  if (SHELL_URLS.has(href)) event.respondWith(cacheFirst(SHELL_CACHE, href, request));
  else if (RUNTIME_URLS.has(href)) event.respondWith(cacheFirst(RUNTIME_CACHE, href, request));
  else if (href === MODEL_URL) event.respondWith(cacheFirst(MODEL_CACHE, href, request));
  // Anything else (the API above all) is left to the network.
});

async function cacheFirst(cacheName, href, request) {
  const cached = await (await caches.open(cacheName)).match(href);
  return cached ?? fetch(request);
}

/** Fill the runtime cache and bring the model up to date with what the server announces. */
async function cacheOffline() {
  const runtime = await caches.open(RUNTIME_CACHE);
  for (const url of RUNTIME_URLS) {
    if (!(await runtime.match(url))) await runtime.add(new Request(url, { cache: "reload" }));
  }
  const health = await fetch(scoped("health"), { cache: "no-store" });
  if (!health.ok) return;
  const announced = (await health.json()).model_sha256;
  const models = await caches.open(MODEL_CACHE);
  const cached = await models.match(MODEL_URL);
  if (cached && cached.headers.get(SHA_HEADER) === announced) return;
  const response = await fetch(MODEL_URL, { cache: "no-store" });
  if (!response.ok) return;
  const digest = await sha256(await response.clone().arrayBuffer());
  if (digest !== announced || response.headers.get(SHA_HEADER) !== announced) {
    throw new Error(`the model's sha256 ${digest} is not the announced ${announced}`);
  }
  await models.put(MODEL_URL, response);
}

async function sha256(bytes) {
  const digest = new Uint8Array(await crypto.subtle.digest("SHA-256", bytes));
  return Array.from(digest, (b) => b.toString(16).padStart(2, "0")).join("");
}
