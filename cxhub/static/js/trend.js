// Draws the weekly NPS trend from the JSON the page embeds (#trend-data).
(function () {
  var canvas = document.getElementById("trend-chart");
  var source = document.getElementById("trend-data");
  if (!canvas || !source || !window.Chart) return;
  var data = JSON.parse(source.textContent);
  var palette = ["#2454d6", "#1a8f4c", "#c8362d", "#b98900", "#7b3fb8", "#0f8a9d", "#d2691e", "#556"];
  var minSample = data.min_sample || 30;
  // A week of fewer than min_sample answers is drawn hollow, its tooltip says so.
  function line(label, values, counts, color, width) {
    function few(i) { return (counts || [])[i] < minSample; }
    return {
      label: label, data: values, counts: counts, borderColor: color, backgroundColor: color,
      borderWidth: width, tension: 0.25, spanGaps: false,
      pointBackgroundColor: function (ctx) { return few(ctx.dataIndex) ? "#fff" : color; },
      pointBorderColor: color, pointBorderWidth: 1.5,
      pointRadius: function (ctx) { return few(ctx.dataIndex) ? 3 : 3.5; }
    };
  }
  var datasets = [line(data.label || "All touchpoints", data.overall, data.responses, "#1d2433", 3)];
  (data.series || []).forEach(function (s, i) {
    datasets.push(line(s.name, s.data, s.responses, palette[i % palette.length], 1.5));
  });
  var chart = new Chart(canvas, {
    type: "line",
    data: { labels: data.labels, datasets: datasets },
    options: {
      responsive: true, maintainAspectRatio: false, animation: false,
      interaction: { mode: "index", intersect: false },
      scales: { y: { suggestedMin: -100, suggestedMax: 100, title: { display: true, text: "NPS" } } },
      plugins: {
        legend: { position: "bottom", labels: { boxWidth: 12 } },
        tooltip: { callbacks: { label: function (item) {
          var n = (item.dataset.counts || [])[item.dataIndex];
          var text = item.dataset.label + ": " + (item.raw > 0 ? "+" : "") + item.raw;
          return n < minSample ? text + " (few answers, n = " + n + ")" : text;
        } } }
      }
    }
  });
  canvas.dataset.drawn = "true";
  canvas.dataset.points = String(data.overall.filter(function (v) { return v !== null; }).length);
  window.cxTrendChart = chart;
})();
