/* The live demo of chapter 5 (markup: book/_ext/live_demo.py; graphs: python -m cvae_lib export-web).
   The reader draws the given quadrants of a 28 x 28 digit; the page runs the exported graph with
   onnxruntime-web (WebAssembly) on that input x and on noise rows eps, and shows the baseline's guess
   and the completions sigmoid(generation(mu + sigma * eps, x)). Nothing is fetched before "Start".
   The noise is drawn here from a seeded generator, so a seed gives the same completions again. */
(function () {
  "use strict";
  var SIZE = 28, HALF = 14, PIXELS = SIZE * SIZE, WALK = 9, WALK_RANGE = 3, FIRST_DIGIT = 2;
  var MISSING = [157, 180, 208]; // the figures' muted blue for hidden pixels (cvae_lib.plots)

  var root = document.querySelector(".live-demo[data-base]");
  if (!root) return;
  var $ = function (selector) { return root.querySelector(selector); };
  var status = $(".live-demo-status"), timing = $(".live-demo-timing"), announced = false;
  var base = root.dataset.base;
  var directions = JSON.parse(root.dataset.directions);

  function say(template, values) {
    status.textContent = template.replace(/\{(\w+)\}/g, function (_, key) { return values[key]; });
  }

  // -- the input: 784 grey levels in [0, 1] and which of them are given -------------------------
  var drawing = new Float32Array(PIXELS);
  var quadrants = Number(root.querySelector("input[name=live-demo-quadrants]:checked").value);
  var erasing = false;
  var cursor = { x: 7, y: 21 };

  function isGiven(row, col, q) { // cvae_lib.data.input_mask: 1 bottom left, 2 left half, 3 all but bottom right
    if (row >= HALF && col < HALF) return true;
    if (q >= 2 && col < HALF) return true;
    return q === 3 && row < HALF;
  }

  function modelInput(q) { // -1 on the hidden pixels, as the models were trained
    var x = new Float32Array(PIXELS);
    for (var i = 0; i < PIXELS; i++) x[i] = isGiven(Math.floor(i / SIZE), i % SIZE, q) ? drawing[i] : -1;
    return x;
  }

  function stamp(cx, cy) { // a soft pen about three pixels wide, like MNIST's strokes
    $(".live-demo-digit").value = "";
    for (var row = Math.floor(cy - 2); row <= cy + 2; row++) {
      for (var col = Math.floor(cx - 2); col <= cx + 2; col++) {
        if (row < 0 || col < 0 || row >= SIZE || col >= SIZE || !isGiven(row, col, quadrants)) continue;
        var d = Math.hypot(col + 0.5 - cx, row + 0.5 - cy), i = row * SIZE + col;
        if (erasing) { if (d < 1.6) drawing[i] = 0; }
        else drawing[i] = Math.max(drawing[i], Math.min(1, Math.max(0, 1.6 - d)));
      }
    }
  }

  // -- pictures: grey levels on white (0 white, 1 black), hidden pixels blue -------------------------
  function paint(canvas, pixels, given) {
    var context = canvas.getContext("2d"), image = context.createImageData(SIZE, SIZE);
    for (var i = 0; i < PIXELS; i++) {
      var value = given && given[i] >= 0 ? given[i] : pixels ? pixels[i] : -1;
      var rgb = value < 0 ? MISSING : [255 * (1 - value), 255 * (1 - value), 255 * (1 - value)];
      image.data.set([rgb[0], rgb[1], rgb[2], 255], 4 * i);
    }
    if (canvas.width === SIZE) { context.putImageData(image, 0, 0); return; }
    var small = document.createElement("canvas");
    small.width = small.height = SIZE;
    small.getContext("2d").putImageData(image, 0, 0);
    context.imageSmoothingEnabled = false;
    context.drawImage(small, 0, 0, canvas.width, canvas.height);
  }

  var pad = $(".live-demo-pad");
  function showPad() {
    var x = modelInput(quadrants);
    paint(pad, x, null);
    var context = pad.getContext("2d"), cell = pad.width / SIZE;
    context.strokeStyle = "rgba(214, 39, 40, 0.6)"; // the figures' quadrant lines
    context.beginPath();
    context.moveTo(HALF * cell, 0); context.lineTo(HALF * cell, pad.height);
    context.moveTo(0, HALF * cell); context.lineTo(pad.width, HALF * cell);
    context.stroke();
    if (document.activeElement === pad) { // the keyboard's pen: what it covers, seen on white, ink and blue
      var left = (cursor.x - 1) * cell, top = (cursor.y - 1) * cell;
      context.lineWidth = 4;
      context.strokeStyle = "#ffffff";
      context.strokeRect(left, top, 3 * cell, 3 * cell);
      context.lineWidth = 2;
      context.strokeStyle = erasing ? "#b00020" : "#0b3d91";
      context.strokeRect(left, top, 3 * cell, 3 * cell);
      context.lineWidth = 1;
    }
  }

  function cells(container, count, label) {
    while (container.children.length > count) container.removeChild(container.lastChild);
    while (container.children.length < count) {
      var canvas = document.createElement("canvas");
      canvas.width = canvas.height = SIZE;
      canvas.setAttribute("aria-hidden", "true");
      container.appendChild(canvas);
    }
    if (label) container.setAttribute("aria-label", label);
    return container.children;
  }

  // -- the noise: a seeded generator (mulberry32) and Box-Muller ------------------------------------
  function normalNoise(seed, count) {
    var state = seed >>> 0, out = new Float32Array(count);
    function uniform() {
      state = (state + 0x6D2B79F5) >>> 0;
      var t = state;
      t = Math.imul(t ^ (t >>> 15), t | 1);
      t ^= t + Math.imul(t ^ (t >>> 7), t | 61);
      return ((t ^ (t >>> 14)) >>> 0) / 4294967296;
    }
    for (var i = 0; i < count; i += 2) {
      var u = 1 - uniform(), v = uniform(), r = Math.sqrt(-2 * Math.log(u));
      out[i] = r * Math.cos(2 * Math.PI * v);
      if (i + 1 < count) out[i + 1] = r * Math.sin(2 * Math.PI * v);
    }
    return out;
  }

  // -- the models ---------------------------------------------------------------------------------
  var manifest = null, sessions = {}, running = null, again = false, ready = null;
  // what the page computed last, for a reader's console and the book's tests (tests/test_browser.py)
  var api = { last: null, runs: 0, pending: function () { return running !== null; } };
  window.cvaeLiveDemo = api;

  function loadScript(src) {
    return new Promise(function (resolve, reject) {
      var script = document.createElement("script");
      script.src = src; script.onload = resolve;
      script.onerror = function () { reject(new Error("cannot load " + src)); };
      document.head.appendChild(script);
    });
  }

  function session(q) {
    if (!sessions[q]) {
      say(Object.keys(sessions).length ? root.dataset.msgLoadingModel : root.dataset.msgLoading, { q: q });
      announced = false;
      sessions[q] = ort.InferenceSession.create(base + manifest.settings[q].graph,
        { executionProviders: ["wasm"], graphOptimizationLevel: "all" });
    }
    return sessions[q];
  }

  function seedValue() { // a whole number in [0, 999999], shown as it is used
    var box = $(".live-demo-seed"), seed = Math.min(999999, Math.max(0, Math.floor(Number(box.value) || 0)));
    if (box.value !== String(seed)) box.value = seed;
    return seed;
  }

  function settings() {
    return {
      count: Number($(".live-demo-count").value),
      seed: seedValue(),
      temperature: Number($(".live-demo-temperature").value),
      direction: Number($(".live-demo-direction").value)
    };
  }

  function noiseRows(z, chosen) { // the grid's rows, then the walk: row 1 with one coordinate moved
    var count = chosen.count, base = normalNoise(chosen.seed, count * z), noise = new Float32Array((count + WALK) * z);
    for (var i = 0; i < count * z; i++) noise[i] = chosen.temperature * base[i];
    for (var step = 0; step < WALK; step++) {
      var row = noise.subarray((count + step) * z, (count + step + 1) * z);
      row.set(noise.subarray(0, z));
      row[chosen.direction] = -WALK_RANGE + 2 * WALK_RANGE * step / (WALK - 1);
    }
    return noise;
  }

  async function complete() {
    if (running) { again = true; return running; }
    running = (async function () {
      do {
        again = false;
        var q = quadrants, chosen = settings(), z = manifest.settings[q].z_dim;
        var x = modelInput(q), noise = noiseRows(z, chosen), model = await session(q);
        var started = performance.now();
        var out = await model.run({
          inputs: new ort.Tensor("float32", x, [1, PIXELS]),
          noise: new ort.Tensor("float32", noise, [chosen.count + WALK, z])
        });
        var ms = performance.now() - started, samples = out.samples.data, guess = out.guess.data;
        show(x, guess, samples, chosen);
        api.runs += 1;
        api.last = { quadrants: q, settings: chosen, inputs: Array.from(x), noise: Array.from(noise),
                     guess: Array.from(guess), samples: Array.from(samples), milliseconds: ms };
        timing.textContent = root.dataset.msgTiming.replace("{n}", chosen.count).replace("{ms}", ms.toFixed(0));
        if (!announced) { say(root.dataset.msgReady, {}); announced = true; }
      } while (again);
    })();
    try { await running; } finally { running = null; }
  }

  function show(x, guess, samples, chosen) {
    var given = x;
    paint(cells($(".live-demo-guess"), 1)[0], guess, given);
    var grid = cells($(".live-demo-grid"), chosen.count, root.dataset.msgGrid.replace("{n}", chosen.count));
    for (var k = 0; k < chosen.count; k++) paint(grid[k], samples.subarray(k * PIXELS, (k + 1) * PIXELS), given);
    var walk = cells($(".live-demo-walk"), WALK, root.dataset.msgWalk.replace("{dimension}", chosen.direction));
    for (var s = 0; s < WALK; s++) {
      var row = chosen.count + s;
      paint(walk[s], samples.subarray(row * PIXELS, (row + 1) * PIXELS), given);
    }
  }

  function fail(error) {
    say(root.dataset.msgFailed, { error: error && error.message ? error.message : String(error) });
  }

  function update() { showPad(); if (manifest) complete().catch(fail); }

  function directionOptions() {
    var select = $(".live-demo-direction"), previous = select.selectedIndex;
    select.innerHTML = "";
    directions[quadrants].forEach(function (direction, rank) {
      var option = document.createElement("option");
      option.value = direction.dimension;
      option.textContent = root.dataset.directionLabel.replace("{rank}", rank + 1).replace("{dimension}", direction.dimension);
      select.appendChild(option);
    });
    select.selectedIndex = Math.max(0, previous);
  }

  async function start() {
    if (typeof WebAssembly !== "object") { say(root.dataset.msgNoWasm, {}); return; }
    say(root.dataset.msgLoading, { q: quadrants });
    $(".live-demo-start").hidden = true;
    $(".live-demo-body").hidden = false;
    root.querySelector("input[name=live-demo-quadrants]:checked").focus(); // where the button was
    showPad();
    await loadScript(base + "ort/ort.wasm.min.js");
    ort.env.wasm.wasmPaths = new URL(base + "ort/", document.baseURI).href;
    ort.env.wasm.numThreads = 1; // a static site is not cross-origin isolated: no shared memory for threads
    var response = await fetch(base + "manifest.json");
    if (!response.ok) throw new Error("manifest.json: HTTP " + response.status);
    manifest = await response.json();
    fillWithTestDigit(FIRST_DIGIT); // something to complete at once; the reader draws over it or clears it
    await complete();
  }

  // -- controls -----------------------------------------------------------------------------------
  $(".live-demo-start").addEventListener("click", function () { ready = start().catch(fail); api.ready = ready; });

  root.querySelectorAll("input[name=live-demo-quadrants]").forEach(function (radio) {
    radio.addEventListener("change", function () { quadrants = Number(radio.value); directionOptions(); update(); });
  });
  function setMode(erase) {
    erasing = erase;
    $(".live-demo-draw").setAttribute("aria-pressed", String(!erase));
    $(".live-demo-erase").setAttribute("aria-pressed", String(erase));
    showPad();
  }
  $(".live-demo-draw").addEventListener("click", function () { setMode(false); });
  $(".live-demo-erase").addEventListener("click", function () { setMode(true); });
  $(".live-demo-clear").addEventListener("click", function () {
    drawing.fill(0); $(".live-demo-digit").value = ""; update();
  });
  function fillWithTestDigit(label) {
    var hex = manifest.test_digits[label].pixels_hex;
    for (var i = 0; i < PIXELS; i++) drawing[i] = parseInt(hex.substr(2 * i, 2), 16) / 255;
    $(".live-demo-digit").value = String(label);
  }
  $(".live-demo-digit").addEventListener("change", function (event) {
    if (!manifest || event.target.value === "") return;
    fillWithTestDigit(Number(event.target.value));
    update();
  });
  $(".live-demo-count").addEventListener("change", update);
  $(".live-demo-direction").addEventListener("change", update);
  $(".live-demo-seed").addEventListener("change", update);
  $(".live-demo-resample").addEventListener("click", function () {
    $(".live-demo-seed").value = (seedValue() + 1) % 1000000;
    update();
  });
  $(".live-demo-temperature").addEventListener("input", function (event) {
    $(".live-demo-temperature-value").textContent = Number(event.target.value).toFixed(1);
    update();
  });
  directionOptions();

  // drawing with a mouse, a finger or a pen
  var last = null;
  function position(event) {
    var box = pad.getBoundingClientRect();
    return { x: (event.clientX - box.left) / box.width * SIZE, y: (event.clientY - box.top) / box.height * SIZE };
  }
  function strokeTo(point) {
    var from = last || point, steps = Math.max(1, Math.ceil(4 * Math.hypot(point.x - from.x, point.y - from.y)));
    for (var s = 1; s <= steps; s++) stamp(from.x + (point.x - from.x) * s / steps, from.y + (point.y - from.y) * s / steps);
    last = point;
  }
  pad.addEventListener("pointerdown", function (event) {
    pad.setPointerCapture(event.pointerId);
    last = null; strokeTo(position(event)); update();
    event.preventDefault();
  });
  pad.addEventListener("pointermove", function (event) {
    if (last === null) return;
    strokeTo(position(event)); update();
  });
  ["pointerup", "pointercancel"].forEach(function (type) {
    pad.addEventListener(type, function () { last = null; });
  });

  // drawing with the keyboard
  pad.addEventListener("keydown", function (event) {
    var moves = { ArrowLeft: [-1, 0], ArrowRight: [1, 0], ArrowUp: [0, -1], ArrowDown: [0, 1] };
    var centre = function () { return { x: cursor.x + 0.5, y: cursor.y + 0.5 }; };
    if (moves[event.key]) {
      cursor.x = Math.min(SIZE - 1, Math.max(0, cursor.x + moves[event.key][0]));
      cursor.y = Math.min(SIZE - 1, Math.max(0, cursor.y + moves[event.key][1]));
      if (event.shiftKey) stamp(centre().x, centre().y);
    } else if (event.key === " " || event.key === "Enter") {
      stamp(centre().x, centre().y);
    } else if (event.key === "Delete" || event.key === "Backspace") {
      var was = erasing; erasing = true; stamp(centre().x, centre().y); erasing = was;
    } else {
      return;
    }
    event.preventDefault();
    update();
  });
  pad.addEventListener("focus", showPad);
  pad.addEventListener("blur", showPad);
})();
