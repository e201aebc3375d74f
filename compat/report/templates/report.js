(function () {
  "use strict";
  var detail = document.getElementById("detail");
  function cellFor(key) {
    var cells = document.querySelectorAll("td.cell");
    for (var i = 0; i < cells.length; i++) {
      if (cells[i].getAttribute("data-key") === key) { return cells[i]; }
    }
    return null;
  }
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
    if (!ev.target.closest) { return; }
    var link = ev.target.closest("a.cell-link");
    if (link) {  // a cell named in the gate, the flips or a failure: open it in the grid
      var target = cellFor(link.getAttribute("data-key"));
      if (target) {
        ev.preventDefault();
        show(target);
        target.scrollIntoView({block: "nearest"});
      }
      return;
    }
    var td = ev.target.closest("td.cell");
    if (td) { show(td); }
  });
  document.addEventListener("keydown", function (ev) {
    if ((ev.key === "Enter" || ev.key === " ") && ev.target.matches && ev.target.matches("td.cell")) {
      ev.preventDefault(); show(ev.target);
    }
  });
  if (location.hash.length > 1) {
    var first = cellFor(decodeURIComponent(location.hash.slice(1)));
    if (first) { show(first); }
  }
  document.documentElement.setAttribute("data-ready", "1");
  if (window.performance && performance.mark) { performance.mark("compat-ready"); }
})();
