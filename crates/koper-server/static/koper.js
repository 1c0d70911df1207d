// The little JavaScript koper's pages use; every page works without it.
"use strict";

// Copy buttons: <button data-copy="ID"> copies the text of #ID.
document.querySelectorAll("[data-copy]").forEach(function (button) {
  button.hidden = false;
  button.addEventListener("click", function () {
    var text = document.getElementById(button.dataset.copy).textContent;
    navigator.clipboard.writeText(text).then(function () {
      button.textContent = "Copied";
    });
  });
});

// Upload forms: show the progress of the upload, then go where the server
// sends us (the build page) or show its error page.
document.querySelectorAll("form[data-upload]").forEach(function (form) {
  form.addEventListener("submit", function (event) {
    event.preventDefault();
    var progress = form.querySelector("progress");
    var status = form.querySelector("[data-upload-status]");
    var button = form.querySelector("button[type=submit]");
    progress.hidden = false;
    button.disabled = true;
    var request = new XMLHttpRequest();
    request.open("POST", form.action);
    request.upload.addEventListener("progress", function (e) {
      if (e.lengthComputable) {
        progress.max = e.total;
        progress.value = e.loaded;
        status.textContent = Math.floor((100 * e.loaded) / e.total) + "% uploaded";
      }
    });
    request.upload.addEventListener("load", function () {
      status.textContent = "Uploaded; the server checks the package…";
    });
    request.addEventListener("load", function () {
      if (request.status < 400 && request.responseURL) {
        window.location.assign(request.responseURL);
      } else {
        document.open();
        document.write(request.responseText);
        document.close();
      }
    });
    request.addEventListener("error", function () {
      status.textContent = "The upload failed: the connection was lost.";
      button.disabled = false;
    });
    request.send(new FormData(form));
  });
});

// Live logs: <pre data-log-url="..." data-offset="N"> keeps fetching what
// the build writes; once every log is complete the page reloads to show the
// final states.
var liveLogs = document.querySelectorAll("pre[data-log-url]");
function follow(pre) {
  var offset = Number(pre.dataset.offset || 0);
  fetch(pre.dataset.logUrl + "?offset=" + offset)
    .then(function (response) {
      var complete = response.headers.get("koper-log-complete") === "true";
      return response.text().then(function (text) { return [text, complete]; });
    })
    .then(function (result) {
      var text = result[0], complete = result[1];
      if (text.length > 0) {
        var atBottom = pre.scrollTop + pre.clientHeight >= pre.scrollHeight - 8;
        pre.append(text);
        pre.dataset.offset = String(offset + new TextEncoder().encode(text).length);
        if (atBottom) { pre.scrollTop = pre.scrollHeight; }
      }
      if (complete) {
        pre.dataset.complete = "true";
        var open = Array.prototype.some.call(liveLogs, function (p) { return p.dataset.complete !== "true"; });
        if (!open) { window.location.reload(); }
      } else {
        setTimeout(function () { follow(pre); }, text.length > 0 ? 500 : 2000);
      }
    })
    .catch(function () { setTimeout(function () { follow(pre); }, 5000); });
}
liveLogs.forEach(function (pre) {
  pre.scrollTop = pre.scrollHeight;
  follow(pre);
});
