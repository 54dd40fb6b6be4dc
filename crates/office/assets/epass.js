// The e-pass page's only script: keeps the pass on the phone for when there is no network.
// It registers a service worker for the e-pass pages and stores this page in its cache at
// once, so a reload, a killed tab or a phone without signal still shows the code. Without
// the script (or a browser without service workers) the page works as before, online.
"use strict";
(() => {
  if (!("serviceWorker" in navigator) || !("caches" in window)) return;
  navigator.serviceWorker.register("/e/sw.js", { scope: "/e/" }).catch(() => {});
  caches
    .open("epass-v1")
    .then((cache) => cache.add(location.pathname))
    .then(() => document.body.setAttribute("data-offline", "ready"))
    .catch(() => {});
})();
