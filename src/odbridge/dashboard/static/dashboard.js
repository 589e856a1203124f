// odbridge dashboard: draws the charts and submits the selectors. No inline script anywhere:
// the page's Content-Security-Policy allows scripts from this site only.
"use strict";
(function () {
  document.documentElement.classList.add("js");

  function drawCharts() {
    var source = document.getElementById("figures");
    if (!source || !window.Plotly) {
      return;
    }
    var figures = JSON.parse(source.textContent || "{}");
    var config = { displayModeBar: false, responsive: true, displaylogo: false };
    document.querySelectorAll("[data-chart]").forEach(function (element) {
      var figure = figures[element.getAttribute("data-chart")];
      if (!figure) {
        return;
      }
      element.textContent = "";
      window.Plotly.newPlot(element, figure.data, figure.layout, config).then(function () {
        element.setAttribute("data-drawn", "true");
      });
    });
  }

  function autoSubmit() {
    document.querySelectorAll("select[data-autosubmit]").forEach(function (select) {
      select.addEventListener("change", function () {
        if (select.form) {
          select.form.submit();
        }
      });
    });
  }

  document.addEventListener("DOMContentLoaded", function () {
    autoSubmit();
    drawCharts();
  });
})();
