// The e-pass's service worker: network first, the cache when there is no network. A page
// the console answers (valid, or cancelled) replaces the copy kept; one it no longer knows
// (404: expired) is forgotten, so an expired pass is not shown from the cache.
"use strict";
const CACHE = "epass-v1";

self.addEventListener("install", () => self.skipWaiting());
self.addEventListener("activate", (event) => event.waitUntil(self.clients.claim()));

self.addEventListener("fetch", (event) => {
  const url = new URL(event.request.url);
  const page = /^\/e\/[A-Za-z0-9_-]+$/.test(url.pathname);
  if (event.request.method !== "GET" || url.origin !== self.location.origin || !page) return;
  event.respondWith(
    (async () => {
      const cache = await caches.open(CACHE);
      try {
        const response = await fetch(event.request);
        if (response.status === 200) await cache.put(url.pathname, response.clone());
        else if (response.status === 404) await cache.delete(url.pathname);
        return response;
      } catch (error) {
        const kept = await cache.match(url.pathname);
        if (kept) return kept;
        throw error;
      }
    })(),
  );
});
