// Upload progress for htmx forms that hold a <progress> element (e.g. the bank import).
// A static file, not inline script, so the Content-Security-Policy can stay "script-src 'self'".
document.addEventListener("htmx:xhr:progress", (event) => {
  const form = event.target.closest ? event.target.closest("form") : null;
  const bar = form ? form.querySelector("progress") : null;
  if (bar && event.detail.lengthComputable) {
    bar.max = event.detail.total;
    bar.value = event.detail.loaded;
  }
});
