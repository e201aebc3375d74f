(function () {
  "use strict";
  var detail = document.getElementById("detail");
  function show(td) {
    var tpl = document.getElementById("tpl-" + td.getAttribute("data-key"));
    if (!tpl) { return; }
    var selected = document.querySelectorAll("td.cell.selected");
    for (var i = 0; i < selected.length; i++) { selected[i].classList.remove("selected"); }
    td.classList.add("selected");
    detail.replaceChildren(tpl.content.cloneNode(true));
    detail.setAttribute("data-cell-id", td.getAttribute("data-cell-id"));
    detail.setAttribute("data-venue", td.getAttribute("data-venue"));
    detail.scrollTop = 0;
    history.replaceState(null, "", "#" + encodeURIComponent(td.getAttribute("data-key")));
  }
  document.addEventListener("click", function (ev) {
    var td = ev.target.closest ? ev.target.closest("td.cell") : null;
    if (td) { show(td); }
  });
  document.addEventListener("keydown", function (ev) {
    if ((ev.key === "Enter" || ev.key === " ") && ev.target.matches && ev.target.matches("td.cell")) {
      ev.preventDefault(); show(ev.target);
    }
  });
  if (location.hash.length > 1) {
    var key = decodeURIComponent(location.hash.slice(1));
    var cells = document.querySelectorAll("td.cell");
    for (var j = 0; j < cells.length; j++) {
      if (cells[j].getAttribute("data-key") === key) { show(cells[j]); break; }
    }
  }
  document.documentElement.setAttribute("data-ready", "1");
})();
