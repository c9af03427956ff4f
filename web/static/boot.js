// Loads the Go WebAssembly app. The page works as rendered; the app adds behaviour. This is
// the only hand-written JavaScript: everything else is Go (see ./wasm).
"use strict";
(function () {
  const script = document.currentScript;
  const url = script && script.dataset.wasm;
  function fail(text) {
    const el = document.getElementById("status-div");
    if (el) { el.textContent = text; el.classList.add("error"); }
    document.documentElement.dataset.app = "failed";
  }
  if (!url) { fail("The app is not built into this server: its binary was built without make. " +
    "Build it with make build, or install a release archive, the .deb or the image."); return; }
  if (typeof Go !== "function" || typeof WebAssembly !== "object") {
    fail("This browser cannot run the app (no WebAssembly)."); return;
  }
  const go = new Go();
  performance.mark("onertc-wasm-fetch");
  WebAssembly.instantiateStreaming(fetch(url), go.importObject)
    .then(function (result) {
      performance.mark("onertc-wasm-start");
      return go.run(result.instance);
    })
    .then(function () { fail("The app stopped. Reload the page."); })
    .catch(function (err) { fail("The app could not start: " + err); });
})();
