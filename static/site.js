// Every page: small behaviours that work with the Content-Security-Policy (no inline scripts).

// A form marked data-confirm asks before it is sent (removing an upload loses its analysis and
// the decisions about it; withdrawing a draft; a new code for families). Without scripts, the
// form is sent as it is.
document.querySelectorAll("form[data-confirm]").forEach(function (form) {
  form.addEventListener("submit", function (event) {
    if (!window.confirm(form.dataset.confirm)) event.preventDefault();
  });
});

// On a phone, tables are stacked rows and their header row is hidden (site.css): each cell is
// given its column's heading, shown above its value.
document.querySelectorAll("table").forEach(function (table) {
  var rows = Array.prototype.slice.call(table.rows);
  var header = rows.find(function (row) {
    return row.cells.length > 1 && Array.prototype.every.call(row.cells, function (cell) { return cell.tagName === "TH"; });
  });
  if (!header) return;
  var names = Array.prototype.map.call(header.cells, function (cell) { return cell.textContent.trim(); });
  rows.forEach(function (row) {
    if (row === header || row.cells.length !== names.length) return;
    Array.prototype.forEach.call(row.cells, function (cell, index) {
      if (cell.tagName === "TD" && names[index] && !cell.dataset.label) cell.dataset.label = names[index];
    });
  });
});
