// Drag a box on a photo to mark a face that detection missed; fills the form's pixel fields.
document.querySelectorAll("figure.faces").forEach(function (figure) {
  var form = document.querySelector('form.mark-face[data-media="' + figure.dataset.media + '"]');
  if (!form) return;
  var svg = figure.querySelector("svg"), drawing = figure.querySelector("rect.drawing");
  var box = svg.viewBox.baseVal, start = null;
  svg.style.cursor = "crosshair";
  // A finger drawing a box must not scroll the page instead (the page scrolls from outside the photo).
  svg.style.touchAction = "none";
  function point(event) {
    var rect = svg.getBoundingClientRect();
    return {
      x: Math.round((event.clientX - rect.left) / rect.width * box.width),
      y: Math.round((event.clientY - rect.top) / rect.height * box.height)
    };
  }
  function show(a, b) {
    var left = Math.min(a.x, b.x), top = Math.min(a.y, b.y), right = Math.max(a.x, b.x), bottom = Math.max(a.y, b.y);
    drawing.setAttribute("x", left); drawing.setAttribute("y", top);
    drawing.setAttribute("width", right - left); drawing.setAttribute("height", bottom - top);
    form.elements.top.value = top; form.elements.right.value = right;
    form.elements.bottom.value = bottom; form.elements.left.value = left;
  }
  svg.addEventListener("pointerdown", function (event) { start = point(event); svg.setPointerCapture(event.pointerId); });
  svg.addEventListener("pointermove", function (event) { if (start) show(start, point(event)); });
  svg.addEventListener("pointerup", function (event) { if (start) { show(start, point(event)); start = null; } });
  svg.addEventListener("pointercancel", function () { start = null; });
});
