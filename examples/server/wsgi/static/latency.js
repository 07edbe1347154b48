// The engine.io-client browser bundle defines the global function `eio(uri, options)`, which
// returns a new Socket. It connects over HTTP long-polling, then upgrades to WebSocket.
(function () {
  'use strict';

  var HISTORY = 10;
  var samples = [];
  var count = 0;
  var show = function (id, text) { document.getElementById(id).textContent = text; };
  var socket = eio(window.location.origin);

  var sendPing = function () {
    if (socket.readyState === 'open') {
      socket.send(String(performance.now()));
    }
  };

  socket.on('open', function () {
    show('status', 'connected');
    show('transport', socket.transport.name);
    sendPing();
  });

  socket.on('upgrade', function (transport) {
    show('transport', transport.name);
  });

  socket.on('message', function (data) {
    var rtt = performance.now() - Number(data);
    samples.push(rtt);
    if (samples.length > HISTORY) {
      samples.shift();
    }
    var sum = samples.reduce(function (a, b) { return a + b; }, 0);
    show('latency', rtt.toFixed(1) + ' ms');
    show('average', (sum / samples.length).toFixed(1) + ' ms');
    show('count', String(++count));
    show('transport', socket.transport.name);
  });

  socket.on('close', function (reason) {
    show('status', 'disconnected (' + reason + ')');
    show('transport', '-');
  });

  window.setInterval(sendPing, 1000);
})();
