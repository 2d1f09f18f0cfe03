/* Charts (ECharts) and sortable tables for the console; data comes in data-* attributes. */
(function () {
  "use strict";
  function chart(id, option) {
    var el = document.getElementById(id);
    if (!el || !window.echarts) { return; }
    var c = window.echarts.init(el);
    var settings = option(el);
    settings.animation = false;  /* figures, not a show: drawn at once (and in screenshots) */
    c.setOption(settings);
    window.addEventListener("resize", function () { c.resize(); });
  }
  chart("study-chart", function (el) {
    return {
      grid: { left: 40, right: 10, top: 20, bottom: 30 },
      tooltip: { trigger: "axis", valueFormatter: function (v) { return v === null ? "—" : v + "%"; } },
      xAxis: { type: "category", data: JSON.parse(el.dataset.weeks) },
      yAxis: { type: "value", min: 0, max: 100, axisLabel: { formatter: "{value}%" } },
      series: [{ name: "参与率", type: "line", data: JSON.parse(el.dataset.rates), connectNulls: false }]
    };
  });
  chart("dues-chart", function (el) {
    var yuan = function (fen) { return (fen / 100).toFixed(2); };
    return {
      tooltip: { trigger: "item", valueFormatter: function (v) { return yuan(v) + "元"; } },
      series: [{ type: "pie", radius: ["45%", "70%"], data: [
        { name: "已收", value: Number(el.dataset.collected) },
        { name: "未收", value: Number(el.dataset.owed) }
      ] }]
    };
  });
  chart("committee-chart", function (el) {
    var rows = JSON.parse(el.dataset.rows);
    return {
      grid: { left: 40, right: 10, top: 30, bottom: 60 },
      legend: { top: 0, data: ["学习参与率", "党费收缴率"] },
      tooltip: { trigger: "axis" },
      xAxis: { type: "category", data: rows.map(function (r) { return r.name; }), axisLabel: { rotate: 30 } },
      yAxis: { type: "value", min: 0, max: 100, axisLabel: { formatter: "{value}%" } },
      series: [
        { name: "学习参与率", type: "bar", data: rows.map(function (r) { return r.study; }) },
        { name: "党费收缴率", type: "bar", data: rows.map(function (r) { return r.dues; }) }
      ]
    };
  });
  document.querySelectorAll("table.sortable").forEach(function (table) {
    table.querySelectorAll("th[data-sort]").forEach(function (th, index) {
      var ascending = true;
      th.setAttribute("tabindex", "0");
      function sort() {
        var body = table.tBodies[0];
        var rows = Array.prototype.slice.call(body.rows);
        var numeric = th.dataset.sort === "number";
        rows.sort(function (a, b) {
          var x = a.cells[index].dataset.value, y = b.cells[index].dataset.value;
          var order = numeric ? Number(x) - Number(y) : x.localeCompare(y, "zh-CN");
          return ascending ? order : -order;
        });
        rows.forEach(function (row) { body.appendChild(row); });
        table.querySelectorAll("th").forEach(function (h) { h.removeAttribute("aria-sort"); });
        th.setAttribute("aria-sort", ascending ? "ascending" : "descending");
        ascending = !ascending;
      }
      th.addEventListener("click", sort);
      th.addEventListener("keydown", function (e) { if (e.key === "Enter") { sort(); } });
    });
  });
}());
/* dues */
(function () {
  "use strict";
  // A select marked data-autosubmit (the grid's year) submits its GET form when changed.
  document.querySelectorAll("select[data-autosubmit]").forEach(function (select) {
    select.addEventListener("change", function () { select.form.submit(); });
  });
  // The category form: say what the amount is for the category chosen.
  var category = document.getElementById("set-category");
  var amount = document.getElementById("set-amount");
  if (category && amount) {
    var hints = { in_service: "税后月工资，例如：8000.00", retired: "月离退休费，例如：5000.00",
      farmer: "每月金额，例如：0.50", student: "不需填写", exempt: "不需填写" };
    var update = function () { amount.placeholder = hints[category.value] || ""; };
    category.addEventListener("change", update);
    update();
  }
}());
