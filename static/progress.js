// While files are analysed, the draft page asks how far each has gone and updates only those
// lines: the forms on the page (a second upload half filled in, a comment) are never touched.
// Once every file is done, the page reloads to show the results, unless something has been typed
// or chosen, in which case it says so and waits for the person to ask.
(function () {
  var banner = document.getElementById("analysis-done");
  if (!banner) return;
  var address = banner.dataset.progress, every = 3000;

  function typedInto() {
    return Array.prototype.some.call(document.querySelectorAll("form input, form textarea, form select"), function (field) {
      if (field.type === "hidden" || field.type === "submit") return false;
      if (field.type === "file") return field.files && field.files.length > 0;
      if (field.type === "checkbox" || field.type === "radio") return field.checked !== field.defaultChecked;
      if (field.tagName === "SELECT") {
        return Array.prototype.some.call(field.options, function (option) { return option.selected !== option.defaultSelected; });
      }
      return field.value !== field.defaultValue;
    });
  }

  function show(file) {
    var part = document.querySelector('.analysis[data-media="' + file.media + '"]');
    if (!part) return;
    part.querySelector("progress").value = file.percent;
    part.querySelector(".analysis-words").textContent = file.words;
    if (file.analysis === "running") part.querySelector(".analysis-stage").textContent = "finding the faces and reading the words…";
  }

  function ask() {
    fetch(address, {headers: {"Accept": "application/json"}, credentials: "same-origin"})
      .then(function (answer) { if (!answer.ok) throw new Error(answer.status); return answer.json(); })
      .then(function (progress) {
        progress.files.forEach(show);
        if (progress.analysing) return setTimeout(ask, every);
        if (typedInto()) banner.hidden = false;
        else window.location.reload();
      })
      .catch(function () { setTimeout(ask, every * 2); });  // the server restarting: ask again later
  }
  setTimeout(ask, every);
})();
