// Draws the weekly NPS trend from the JSON the page embeds (#trend-data).
(function () {
  var canvas = document.getElementById("trend-chart");
  var source = document.getElementById("trend-data");
  if (!canvas || !source || !window.Chart) return;
  var data = JSON.parse(source.textContent);
  var palette = ["#2454d6", "#1a8f4c", "#c8362d", "#b98900", "#7b3fb8", "#0f8a9d", "#d2691e", "#556"];
  var datasets = [{
    label: data.label || "All touchpoints", data: data.overall, borderColor: "#1d2433", borderWidth: 3,
    backgroundColor: "#1d2433", tension: 0.25, spanGaps: false
  }];
  (data.series || []).forEach(function (s, i) {
    datasets.push({
      label: s.name, data: s.data, borderColor: palette[i % palette.length],
      backgroundColor: palette[i % palette.length], borderWidth: 1.5, tension: 0.25, spanGaps: false
    });
  });
  var chart = new Chart(canvas, {
    type: "line",
    data: { labels: data.labels, datasets: datasets },
    options: {
      responsive: true, maintainAspectRatio: false, animation: false,
      interaction: { mode: "index", intersect: false },
      scales: { y: { suggestedMin: -100, suggestedMax: 100, title: { display: true, text: "NPS" } } },
      plugins: { legend: { position: "bottom", labels: { boxWidth: 12 } } }
    }
  });
  canvas.dataset.drawn = "true";
  canvas.dataset.points = String(data.overall.filter(function (v) { return v !== null; }).length);
  window.cxTrendChart = chart;
})();
