// The floor board refreshes itself every 10 seconds: it fetches the board's
// HTML fragment from the same origin (the session cookie goes along) and
// replaces the board. No inline script; nothing but the board changes.
(function () {
  'use strict';
  var INTERVAL_MS = 10000;
  function refresh() {
    fetch('/floor?fragment=1', { credentials: 'same-origin', cache: 'no-store' })
      .then(function (res) { return res.ok ? res.text() : null; })
      .then(function (html) {
        if (!html) { return; }
        var board = document.getElementById('floor-board');
        var holder = document.createElement('div');
        holder.innerHTML = html;
        var next = holder.querySelector('#floor-board');
        if (board && next) { board.replaceWith(next); }
      })
      .catch(function () { /* offline for a moment: try again next time */ });
  }
  setInterval(refresh, INTERVAL_MS);
})();
