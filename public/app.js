/* Crypto price pipeline dashboard.
 * Data: /api/latest (initial fill + 10 s poll for cache health), /api/events (SSE ticks, candles, status),
 * /api/candles/:symbol (chart history, requested through htmx when it is loaded, plain fetch otherwise).
 * Everything from the server is inserted with textContent / setAttribute: never as HTML. */
(function () {
  "use strict"

  var INTERVALS = { "1m": 60, "5m": 300, "15m": 900, "1h": 3600, "1d": 86400 }
  var CANDLE_LIMIT = 200
  var POLL_MS = 10000
  var STALE_AFTER_MS = 120000
  var SYMBOL_RE = /^[A-Z0-9]{1,15}$/
  var SOURCE_LABELS = { simulator: "simulated", coingecko: "CoinGecko", replay: "replay" }
  var UP = "#26a69a"
  var DOWN = "#ef5350"

  var state = {
    symbol: null,
    interval: "1m",
    rows: new Map(), // symbol -> { tr, cells, tick }
    order: [],
    candles: null, // { symbol, interval, data: [xs, o, h, l, c, v] }
    es: null,
    esRetryMs: 1000,
    everOpened: false,
    chart: null,
    zoomed: false,
    pendingCandles: [],
    candleRetry: null,
    snapshotSettled: 0, // when the first /api/latest answered (or failed)
    snapshotOk: false,
    lastSourceAt: 0
  }

  var $ = function (id) { return document.getElementById(id) }
  var els = {}

  // ---------- formatting ----------

  var nfCache = {}
  function nf(min, max) {
    var key = min + ":" + max
    if (!nfCache[key]) {
      nfCache[key] = new Intl.NumberFormat("en-US", { minimumFractionDigits: min, maximumFractionDigits: max })
    }
    return nfCache[key]
  }

  function priceDecimals(p) {
    var a = Math.abs(p)
    if (a >= 1000) return 2
    if (a >= 1) return 4
    if (a === 0) return 2
    // keep four significant digits for small prices (0.3842, 0.00002145)
    return Math.min(12, Math.max(4, 3 - Math.floor(Math.log10(a)) ))
  }

  function fmtPrice(p) {
    if (typeof p !== "number" || !isFinite(p)) return "—"
    var d = priceDecimals(p)
    return nf(d, d).format(p)
  }

  var compact = new Intl.NumberFormat("en-US", { notation: "compact", maximumFractionDigits: 2 })
  function fmtCompact(v) {
    if (typeof v !== "number" || !isFinite(v)) return "—"
    return compact.format(v)
  }

  // the sign (and colour) of a change as shown, i.e. rounded to 2 decimals: −0.004 % reads "0.00%", not "−0.00%"
  function changeDir(c) {
    var r = Math.round(c * 100)
    return r > 0 ? "up" : r < 0 ? "down" : "flat"
  }

  function fmtChange(c) {
    if (typeof c !== "number" || !isFinite(c)) return "—"
    var s = nf(2, 2).format(Math.abs(c)) + "%"
    var dir = changeDir(c)
    if (dir === "up") return "+" + s
    if (dir === "down") return "\u2212" + s
    return s
  }

  function fmtAge(ms) {
    var s = Math.max(0, Math.floor(ms / 1000))
    if (s < 60) return s + " s ago"
    var m = Math.floor(s / 60)
    if (m < 60) return m + " min ago"
    var h = Math.floor(m / 60)
    if (h < 48) return h + " h ago"
    return Math.floor(h / 24) + " d ago"
  }

  function fmtTime(ms) {
    var d = new Date(ms)
    return isNaN(d.getTime()) ? "" : d.toLocaleString()
  }

  function sourceLabel(src) {
    return Object.prototype.hasOwnProperty.call(SOURCE_LABELS, src) ? SOURCE_LABELS[src] : "unknown"
  }

  // ---------- validation of data from the server ----------

  function isNum(v) { return typeof v === "number" && isFinite(v) }

  function asTick(t) {
    if (!t || typeof t !== "object") return null
    if (typeof t.symbol !== "string" || !SYMBOL_RE.test(t.symbol)) return null
    if (!isNum(t.price) || !isNum(t.eventTime)) return null
    return t
  }

  function asCandle(c) {
    if (!c || typeof c !== "object") return null
    if (typeof c.symbol !== "string" || !SYMBOL_RE.test(c.symbol)) return null
    if (!Object.prototype.hasOwnProperty.call(INTERVALS, c.interval)) return null
    if (!isNum(c.bucketStart) || !isNum(c.open) || !isNum(c.high) || !isNum(c.low) || !isNum(c.close)) return null
    return c
  }

  function parseJson(text) {
    try { return JSON.parse(text) } catch (e) { return null }
  }

  // ---------- header: status, source ----------

  function setStatus(live) {
    var st = live ? "live" : "reconnecting"
    if (els.status.textContent !== st) els.status.textContent = st
    els.statusPill.setAttribute("data-state", st)
  }

  function setSource(src) {
    var label = sourceLabel(src)
    els.source.textContent = label
    els.source.setAttribute("data-source", Object.prototype.hasOwnProperty.call(SOURCE_LABELS, src) ? src : "unknown")
    els.attribution.hidden = src !== "coingecko"
    els.simulatedNote.hidden = src !== "simulator"
  }

  function setBanner(down) {
    els.banner.hidden = !down
  }

  // ---------- ticker table ----------

  function td(cls) {
    var cell = document.createElement("td")
    if (cls) cell.className = cls
    return cell
  }

  function createRow(symbol, marketCap) {
    var tr = document.createElement("tr")
    tr.setAttribute("data-symbol", symbol)
    tr.setAttribute("tabindex", "0")
    tr.setAttribute("aria-selected", "false")

    var symCell = td("col-symbol")
    var sym = document.createElement("span")
    sym.className = "sym"
    sym.textContent = symbol
    var coin = document.createElement("span")
    coin.className = "coin"
    symCell.appendChild(sym)
    symCell.appendChild(coin)

    var price = td("num price")
    var change = td("num change")
    var volume = td("num volume col-wide")
    var source = td("col-wide")
    var srcTag = document.createElement("span")
    srcTag.className = "src"
    source.appendChild(srcTag)
    var age = td("num age")

    tr.appendChild(symCell)
    tr.appendChild(price)
    tr.appendChild(change)
    tr.appendChild(volume)
    tr.appendChild(source)
    tr.appendChild(age)

    var empty = els.tbody.querySelector("tr.empty-row")
    if (empty) empty.remove()

    // biggest market cap first (rows without one go last), so the order does not depend on which tick came first
    var at = state.order.length
    if (isNum(marketCap)) {
      for (var i = 0; i < state.order.length; i++) {
        var other = state.rows.get(state.order[i]).tick
        if (!other || !isNum(other.marketCap) || other.marketCap < marketCap) { at = i; break }
      }
    }
    if (at < state.order.length) els.tbody.insertBefore(tr, state.rows.get(state.order[at]).tr)
    else els.tbody.appendChild(tr)

    var row = { tr: tr, cells: { coin: coin, price: price, change: change, volume: volume, src: srcTag, age: age }, tick: null }
    state.rows.set(symbol, row)
    state.order.splice(at, 0, symbol)
    return row
  }

  function flash(el, cls) {
    el.classList.remove("flash-up", "flash-down", "flash-same")
    void el.offsetWidth // restart the animation
    el.classList.add(cls)
  }

  function applyTick(t, animate) {
    var row = state.rows.get(t.symbol) || createRow(t.symbol, t.marketCap)
    var prev = row.tick
    if (prev && t.eventTime < prev.eventTime) return // an older snapshot never overwrites a newer tick
    row.tick = t

    var c = row.cells
    c.coin.textContent = typeof t.coinId === "string" ? t.coinId : ""
    c.price.textContent = fmtPrice(t.price)
    c.price.title = "Event time " + fmtTime(t.eventTime) + (isNum(t.ingestTime) ? "\nIngested " + fmtTime(t.ingestTime) : "")

    c.change.textContent = fmtChange(t.change24h)
    c.change.classList.remove("up", "down", "flat")
    if (isNum(t.change24h)) c.change.classList.add(changeDir(t.change24h))
    else c.change.classList.add("flat")

    c.volume.textContent = fmtCompact(t.volume24h)
    c.src.textContent = sourceLabel(t.source)
    c.src.setAttribute("data-source", typeof t.source === "string" && SOURCE_LABELS[t.source] ? t.source : "unknown")
    updateAge(row, Date.now())

    if (animate && prev) {
      flash(c.price, t.price > prev.price ? "flash-up" : t.price < prev.price ? "flash-down" : "flash-same")
    }

    if (t.symbol === state.symbol) updateChartPrice()
  }

  function updateAge(row, now) {
    if (!row.tick) return
    var age = now - row.tick.eventTime
    var text = fmtAge(age)
    if (row.cells.age.textContent !== text) row.cells.age.textContent = text
    row.tr.classList.toggle("stale", age > STALE_AFTER_MS)
  }

  function tickAges() {
    var now = Date.now()
    state.rows.forEach(function (row) { updateAge(row, now) })
  }

  // The ?symbol= of the address when we have it, else BTC, else the first row: once the snapshot has answered,
  // or, when it could not (cache down), after a few seconds of live ticks.
  function maybeSelectDefault() {
    if (state.symbol || !state.rows.size) return
    var wanted = new URLSearchParams(location.search).get("symbol")
    if (wanted && state.rows.has(wanted)) return selectSymbol(wanted)
    if (!state.snapshotSettled) return
    var waited = Date.now() - state.snapshotSettled
    if (wanted && waited < 3000) return
    if (state.rows.has("BTC")) return selectSymbol("BTC")
    if (state.snapshotOk || waited >= 3000) selectSymbol(state.order[0])
  }

  // ---------- /api/latest: initial fill and cache-health poll ----------

  var latestTimer = null
  function pollLatest() {
    clearTimeout(latestTimer)
    fetch("/api/latest", { cache: "no-store", headers: { Accept: "application/json" } })
      .then(function (res) {
        return res.text().then(function (text) { return { status: res.status, body: parseJson(text) } })
      })
      .then(function (r) {
        if (r.status === 503) { setBanner(true); return }
        if (r.status !== 200 || !r.body || !Array.isArray(r.body.prices)) return
        setBanner(false)
        state.snapshotOk = true
        var newest = null
        r.body.prices.forEach(function (raw) {
          var t = asTick(raw)
          if (!t) return
          applyTick(t, false)
          if (!newest || (t.ingestTime || 0) > (newest.ingestTime || 0)) newest = t
        })
        if (newest && Date.now() - state.lastSourceAt > POLL_MS) setSource(newest.source)
        if (isNum(r.body.asOf)) els.asof.textContent = "Snapshot " + new Date(r.body.asOf).toLocaleTimeString()
      })
      .catch(function () { /* network error: the SSE indicator already says reconnecting */ })
      .then(function () {
        if (!state.snapshotSettled) state.snapshotSettled = Date.now()
        maybeSelectDefault()
        latestTimer = setTimeout(pollLatest, POLL_MS)
      })
  }

  // ---------- SSE ----------

  function connect() {
    if (state.es) state.es.close()
    var es = new EventSource("/api/events")
    state.es = es

    es.addEventListener("open", function () {
      setStatus(true)
      state.esRetryMs = 1000
      if (state.everOpened) {
        // we may have missed updates while away: refresh the snapshot and the chart
        pollLatest()
        loadCandles()
      }
      state.everOpened = true
    })

    es.addEventListener("error", function () {
      setStatus(false)
      if (es.readyState === EventSource.CLOSED) {
        // the browser gave up (e.g. a non-SSE answer): retry ourselves with backoff
        es.close()
        var wait = state.esRetryMs
        state.esRetryMs = Math.min(state.esRetryMs * 2, 30000)
        setTimeout(function () { if (state.es === es) connect() }, wait)
      }
    })

    es.addEventListener("tick", function (ev) {
      var t = asTick(parseJson(ev.data))
      if (!t) return
      applyTick(t, true)
      state.lastSourceAt = Date.now()
      setSource(t.source)
      maybeSelectDefault()
    })

    es.addEventListener("candle", function (ev) {
      var c = asCandle(parseJson(ev.data))
      if (c) applyCandle(c)
    })

    es.addEventListener("status", function (ev) {
      var s = parseJson(ev.data)
      if (!s || typeof s !== "object") return
      if (s.cache === "down") setBanner(true)
      else if (s.cache === "up") pollLatest()
      if (typeof s.source === "string") { state.lastSourceAt = Date.now(); setSource(s.source) }
    })
  }

  // ---------- symbol and interval selection ----------

  function candlesUrl(symbol, interval) {
    return "/api/candles/" + encodeURIComponent(symbol) + "?interval=" + encodeURIComponent(interval) + "&limit=" + CANDLE_LIMIT
  }

  function syncSelectionUi() {
    state.pendingCandles = []
    state.rows.forEach(function (row, sym) { row.tr.setAttribute("aria-selected", sym === state.symbol ? "true" : "false") })
    var buttons = els.intervals.querySelectorAll("button[data-interval]")
    for (var i = 0; i < buttons.length; i++) {
      var b = buttons[i]
      var iv = b.getAttribute("data-interval")
      b.setAttribute("aria-pressed", iv === state.interval ? "true" : "false")
      if (state.symbol) b.setAttribute("hx-get", candlesUrl(state.symbol, iv))
    }
    if (window.htmx && state.symbol) window.htmx.process(els.intervals)
    els.chartTitle.textContent = state.symbol ? state.symbol + " · " + state.interval : "Chart"
    els.chartTitle.setAttribute("data-symbol", state.symbol || "")
    els.chartTitle.setAttribute("data-interval", state.interval)
    if (state.symbol) {
      var params = new URLSearchParams(location.search)
      params.set("symbol", state.symbol)
      params.set("interval", state.interval)
      history.replaceState(null, "", "?" + params.toString())
    }
  }

  function selectSymbol(symbol) {
    if (!symbol) return
    state.symbol = symbol
    syncSelectionUi()
    updateChartPrice()
    loadCandles()
  }

  function activeIntervalButton() {
    return els.intervals.querySelector('button[data-interval="' + state.interval + '"]')
  }

  function loadCandles() {
    clearTimeout(state.candleRetry)
    if (!state.symbol) return
    if (!state.candles || state.candles.symbol !== state.symbol || state.candles.interval !== state.interval) {
      setChartState("loading", "Loading " + state.symbol + " · " + state.interval + "…")
    }
    var url = candlesUrl(state.symbol, state.interval)
    if (window.htmx) {
      // answers are matched to the current selection in onCandlesResponse, so overlapping requests are harmless
      var p = window.htmx.ajax("GET", url, { source: activeIntervalButton(), swap: "none" })
      if (p && p.catch) p.catch(function () { /* reported through htmx:afterRequest */ })
    } else {
      fetch(url, { headers: { Accept: "application/json" } })
        .then(function (res) { return res.text().then(function (text) { onCandlesResponse(url, res.status, text) }) })
        .catch(function () { onCandlesResponse(url, 0, "") })
    }
  }

  function onCandlesResponse(url, status, text) {
    if (!state.symbol || url !== candlesUrl(state.symbol, state.interval)) return // answer to an older selection
    var body = parseJson(text)
    if (status !== 200 || !body || !Array.isArray(body.candles)) {
      setChartState("error", status === 503 ? "History temporarily unavailable — retrying" : "Could not load candles" + (status ? " (HTTP " + status + ")" : ""))
      if (status === 503 || status === 0) {
        clearTimeout(state.candleRetry)
        state.candleRetry = setTimeout(loadCandles, 5000)
      }
      return
    }
    if (body.symbol !== state.symbol || body.interval !== state.interval) return // a stale answer
    var cur = { symbol: state.symbol, interval: state.interval, data: [[], [], [], [], [], []], ticks: [] }
    body.candles
      .map(asCandle)
      .filter(function (c) { return c && c.symbol === cur.symbol && c.interval === cur.interval })
      .sort(function (a, b) { return a.bucketStart - b.bucketStart })
      .forEach(function (c) { pushCandle(cur, c) })
    state.pendingCandles.forEach(function (c) {
      if (c.symbol === cur.symbol && c.interval === cur.interval) mergeCandle(cur, c)
    })
    state.pendingCandles = []
    state.candles = cur
    renderChart(true)
  }

  // data: uPlot columns [x (s), open, high, low, close, volume]; ticks: tick count per candle (to keep updates monotonic)
  function pushCandle(cur, c) {
    var d = cur.data
    d[0].push(c.bucketStart / 1000)
    d[1].push(c.open)
    d[2].push(c.high)
    d[3].push(c.low)
    d[4].push(c.close)
    d[5].push(isNum(c.volume) ? c.volume : 0)
    cur.ticks.push(isNum(c.tickCount) ? c.tickCount : 0)
  }

  // Replace the candle with the same bucket, or append a newer one. False when nothing changed.
  function mergeCandle(cur, c) {
    var d = cur.data
    var x = c.bucketStart / 1000
    var n = d[0].length
    var i = n - 1
    while (i >= 0 && d[0][i] > x) i--
    if (i >= 0 && d[0][i] === x) {
      var tc = isNum(c.tickCount) ? c.tickCount : 0
      if (tc < cur.ticks[i]) return false // an older state of this candle than the one we show
      d[1][i] = c.open; d[2][i] = c.high; d[3][i] = c.low; d[4][i] = c.close
      d[5][i] = isNum(c.volume) ? c.volume : 0
      cur.ticks[i] = tc
      return true
    }
    if (i !== n - 1) return false // older than the window we hold
    pushCandle(cur, c)
    if (d[0].length > CANDLE_LIMIT) {
      d.forEach(function (col) { col.shift() })
      cur.ticks.shift()
    }
    return true
  }

  function applyCandle(c) {
    var cur = state.candles
    if (!cur || c.symbol !== cur.symbol || c.interval !== cur.interval) {
      // the history for the new selection is on its way: keep its live updates for when it lands
      if (c.symbol === state.symbol && c.interval === state.interval && state.pendingCandles.length < 1000) state.pendingCandles.push(c)
      return
    }
    if (mergeCandle(cur, c)) renderChart(false)
  }

  // ---------- chart (uPlot) ----------

  // #chart's data-state: loading | ready | empty | error; its data-symbol / data-interval name the candles it shows
  function setChartState(st, text) {
    els.chart.setAttribute("data-state", st)
    els.chartFrame.classList.toggle("loading", st === "loading")
    els.chartMessage.textContent = text || ""
    els.chartMessage.hidden = !text
  }

  function updateChartPrice() {
    var row = state.symbol && state.rows.get(state.symbol)
    if (!row || !row.tick) { els.chartPrice.textContent = ""; return }
    els.chartPrice.textContent = fmtPrice(row.tick.price)
    els.chartPrice.classList.remove("up", "down")
    if (isNum(row.tick.change24h) && changeDir(row.tick.change24h) !== "flat") els.chartPrice.classList.add(changeDir(row.tick.change24h))
  }

  function chartSize() {
    return { width: Math.max(200, els.chart.clientWidth), height: Math.max(160, els.chart.clientHeight) }
  }

  function drawCandles(u) {
    var d = u.data
    var xs = d[0]
    if (!xs || !xs.length) return
    var ctx = u.ctx
    var bb = u.bbox
    var pxr = window.devicePixelRatio || 1
    var ivSec = INTERVALS[state.candles ? state.candles.interval : "1m"]
    var slot = Math.abs(u.valToPos(ivSec, "x", true) - u.valToPos(0, "x", true))
    var bodyW = Math.max(1 * pxr, Math.min(24 * pxr, Math.floor(slot * 0.7)))
    var wickW = Math.max(1, Math.round(pxr))
    var volBase = u.valToPos(0, "vol", true)
    var xMin = u.scales.x.min
    var xMax = u.scales.x.max

    ctx.save()
    ctx.beginPath()
    ctx.rect(bb.left, bb.top, bb.width, bb.height)
    ctx.clip()

    for (var i = 0; i < xs.length; i++) {
      if (xs[i] < xMin - ivSec || xs[i] > xMax + ivSec) continue
      var o = d[1][i], h = d[2][i], l = d[3][i], c = d[4][i], v = d[5][i]
      var up = c >= o
      var cx = Math.round(u.valToPos(xs[i], "x", true))

      if (v > 0) {
        var vy = u.valToPos(v, "vol", true)
        ctx.fillStyle = up ? "rgba(38,166,154,0.28)" : "rgba(239,83,80,0.28)"
        ctx.fillRect(cx - bodyW / 2, vy, bodyW, Math.max(1, volBase - vy))
      }

      var yO = u.valToPos(o, "y", true)
      var yC = u.valToPos(c, "y", true)
      var yH = u.valToPos(h, "y", true)
      var yL = u.valToPos(l, "y", true)
      var color = up ? UP : DOWN
      ctx.fillStyle = color
      ctx.fillRect(cx - wickW / 2, Math.min(yH, yL), wickW, Math.max(1, Math.abs(yL - yH)))
      var top = Math.min(yO, yC)
      var hgt = Math.max(wickW, Math.abs(yC - yO))
      ctx.fillRect(Math.round(cx - bodyW / 2), Math.round(top), Math.round(bodyW), Math.round(hgt))
    }
    ctx.restore()
  }

  // The x range when not zoomed: every candle we hold, and never less than MIN_SLOTS intervals, ending just after the
  // newest candle, so that a fresh start with one or two candles still looks like a chart (not years of empty axis).
  var MIN_SLOTS = 60
  function xWindow(xs, ivSec) {
    var n = xs.length
    var max = n ? xs[n - 1] + ivSec * 1.5 : Date.now() / 1000
    var min = Math.min(n ? xs[0] - ivSec * 0.75 : max, max - ivSec * MIN_SLOTS)
    return [min, max]
  }

  function axisPriceValues(u, splits, axisIdx, space, incr) {
    // as many decimals as the tick step needs: 104,000 for BTC, 0.00002150 for SHIB
    var d = isNum(incr) && incr > 0 ? Math.min(12, Math.max(0, Math.ceil(-Math.log10(incr) - 1e-9))) : 2
    var f = nf(d, d)
    return splits.map(function (v) { return v == null ? "" : f.format(v) })
  }

  function readout(u) {
    var d = u.data
    var n = d[0].length
    els.ohlc.textContent = ""
    if (!n) return
    var i = u.cursor.idx
    if (i == null || i < 0 || i >= n) i = n - 1
    var o = d[1][i], c = d[4][i]
    var dir = c >= o ? "up" : "down"
    var t = document.createElement("span")
    t.className = "time"
    var iv = state.candles ? state.candles.interval : "1m"
    var date = new Date(d[0][i] * 1000)
    t.textContent = iv === "1d" ? date.toLocaleDateString() : date.toLocaleString([], { month: "short", day: "numeric", hour: "2-digit", minute: "2-digit" })
    els.ohlc.appendChild(t)
    var parts = [["O", fmtPrice(o)], ["H", fmtPrice(d[2][i])], ["L", fmtPrice(d[3][i])], ["C", fmtPrice(c)]]
    parts.forEach(function (p) {
      var s = document.createElement("span")
      s.className = dir
      s.appendChild(document.createTextNode(p[0] + " "))
      var b = document.createElement("b")
      b.textContent = p[1]
      s.appendChild(b)
      els.ohlc.appendChild(s)
    })
    var chg = o ? ((c - o) / o) * 100 : 0
    var ch = document.createElement("span")
    var cb = document.createElement("b")
    cb.className = dir
    cb.textContent = fmtChange(chg)
    ch.appendChild(cb)
    els.ohlc.appendChild(ch)
    if (d[5][i] > 0) {
      var vs = document.createElement("span")
      vs.appendChild(document.createTextNode("V "))
      var vb = document.createElement("b")
      vb.textContent = fmtCompact(d[5][i])
      vs.appendChild(vb)
      els.ohlc.appendChild(vs)
    }
  }

  function makeChart() {
    var size = chartSize()
    var axis = {
      stroke: "#7d8898",
      font: "11px system-ui, sans-serif",
      grid: { stroke: "rgba(255,255,255,0.06)", width: 1 },
      ticks: { stroke: "rgba(255,255,255,0.12)", width: 1, size: 4 }
    }
    var hidden = { paths: function () { return null }, points: { show: false } }
    var opts = {
      width: size.width,
      height: size.height,
      legend: { show: false },
      cursor: { points: { show: false }, drag: { x: true, y: false } },
      scales: {
        x: {
          time: true,
          range: function (u, min, max) {
            var iv = INTERVALS[state.candles ? state.candles.interval : "1m"]
            var xs = u.data[0] || []
            var n = xs.length
            if (min == null || max == null || !n) return xWindow(xs, iv)
            // uPlot auto-ranges x to [first, last] (to first + 1000 days for a single point): use our window instead.
            // Anything else is a zoom (drag) or the zoom kept across a live update: leave it as it is.
            if (min === xs[0] && (max === xs[n - 1] || (n === 1 && max > min))) return xWindow(xs, iv)
            return [min, max]
          }
        },
        y: {
          auto: true,
          range: function (u, min, max) {
            if (min == null || max == null) return [0, 1]
            var span = max - min || Math.abs(max) * 0.01 || 1
            // leave the bottom of the pane to the volume bars when there is volume
            var hasVol = u.data[5] && u.data[5].some(function (v) { return v > 0 })
            return [min - span * (hasVol ? 0.3 : 0.06), max + span * 0.06]
          }
        },
        // volume occupies the bottom fifth
        vol: { range: function (u, min, max) { return [0, Math.max(1e-12, (max || 0) * 5)] } }
      },
      series: [
        {},
        Object.assign({ label: "Open", scale: "y" }, hidden),
        Object.assign({ label: "High", scale: "y" }, hidden),
        Object.assign({ label: "Low", scale: "y" }, hidden),
        Object.assign({ label: "Close", scale: "y" }, hidden),
        Object.assign({ label: "Volume", scale: "vol" }, hidden)
      ],
      axes: [
        Object.assign({}, axis, { space: 70 }),
        Object.assign({}, axis, {
          scale: "y",
          side: 1,
          values: axisPriceValues,
          size: function (u, values) {
            var longest = (values || []).reduce(function (m, s) { return Math.max(m, s ? String(s).length : 0) }, 0)
            return Math.ceil(longest * 6.6) + 18
          }
        })
      ],
      hooks: {
        draw: [drawCandles],
        setCursor: [readout],
        setData: [readout],
        setSelect: [function (u) { if (u.select.width > 0) state.zoomed = true }],
        init: [function (u) { u.over.addEventListener("dblclick", function () { state.zoomed = false }) }]
      }
    }
    return new window.uPlot(opts, state.candles.data, els.chart)
  }

  function renderChart(fresh) {
    if (!state.candles) return
    var n = state.candles.data[0].length
    els.chart.setAttribute("data-symbol", state.candles.symbol)
    els.chart.setAttribute("data-interval", state.candles.interval)
    els.chart.setAttribute("data-candles", String(n))
    if (!window.uPlot) { setChartState("error", "Chart library failed to load"); return }
    setChartState(n ? "ready" : "empty", n ? "" : "No candles yet for " + state.candles.symbol + " · " + state.candles.interval)
    if (!state.chart) {
      state.chart = makeChart()
    } else {
      // reset the zoom on a new series; keep it while live updates flow in
      var x = state.chart.scales.x
      var zoomed = !fresh && state.zoomed
      state.chart.setData(state.candles.data, !zoomed)
      if (zoomed) state.chart.setScale("x", { min: x.min, max: x.max })
    }
    if (fresh) state.zoomed = false
  }

  // ---------- wiring ----------

  function onIntervalClick(btn) {
    var iv = btn.getAttribute("data-interval")
    if (!Object.prototype.hasOwnProperty.call(INTERVALS, iv)) return
    if (iv !== state.interval) {
      state.interval = iv
      syncSelectionUi()
    }
    if (!state.symbol) return
    // htmx has already sent the request from the button's hx-get; without htmx we fetch ourselves
    if (window.htmx && btn.hasAttribute("hx-get")) {
      if (!state.candles || state.candles.interval !== iv || state.candles.symbol !== state.symbol) {
        setChartState("loading", "Loading " + state.symbol + " · " + iv + "…")
      }
    } else {
      loadCandles()
    }
  }

  // on a phone the chart sits below the table: bring it into view when the user picks a row
  function revealChart() {
    var panel = els.chartFrame.closest(".chart-panel")
    if (!panel || !window.matchMedia || !window.matchMedia("(max-width: 1099px)").matches) return
    var r = panel.getBoundingClientRect()
    if (r.top > window.innerHeight * 0.6) {
      var reduce = window.matchMedia("(prefers-reduced-motion: reduce)").matches
      panel.scrollIntoView({ behavior: reduce ? "auto" : "smooth", block: "start" })
    }
  }

  function init() {
    els.status = $("status")
    els.statusPill = $("status-pill")
    els.source = $("source")
    els.banner = $("cache-banner")
    els.tbody = $("ticker-body")
    els.intervals = $("intervals")
    els.chart = $("chart")
    els.chartTitle = $("chart-title")
    els.chartPrice = $("chart-price")
    els.chartMessage = $("chart-message")
    els.chartFrame = els.chart.parentNode
    els.ohlc = $("chart-ohlc")
    els.asof = $("asof")
    els.attribution = $("attribution")
    els.simulatedNote = $("simulated-note")

    var wantedIv = new URLSearchParams(location.search).get("interval")
    if (wantedIv && Object.prototype.hasOwnProperty.call(INTERVALS, wantedIv)) state.interval = wantedIv
    syncSelectionUi()
    setStatus(false)

    els.tbody.addEventListener("click", function (ev) {
      var tr = ev.target.closest("tr[data-symbol]")
      if (!tr) return
      if (tr.getAttribute("data-symbol") !== state.symbol) selectSymbol(tr.getAttribute("data-symbol"))
      revealChart()
    })
    els.tbody.addEventListener("keydown", function (ev) {
      if (ev.key !== "Enter" && ev.key !== " ") return
      var tr = ev.target.closest("tr[data-symbol]")
      if (!tr) return
      ev.preventDefault()
      if (tr.getAttribute("data-symbol") !== state.symbol) selectSymbol(tr.getAttribute("data-symbol"))
    })
    els.intervals.addEventListener("click", function (ev) {
      var btn = ev.target.closest("button[data-interval]")
      if (btn) onIntervalClick(btn)
    })

    // htmx answers for /api/candles (JSON, hx-swap="none"): render them here
    document.body.addEventListener("htmx:afterRequest", function (ev) {
      var d = ev.detail
      var path = d && d.pathInfo && d.pathInfo.requestPath
      if (!path || path.indexOf("/api/candles/") !== 0 || !d.xhr) return
      onCandlesResponse(path, d.xhr.status, d.xhr.responseText)
    })

    if (window.ResizeObserver) {
      new ResizeObserver(function () {
        if (state.chart) state.chart.setSize(chartSize())
      }).observe(els.chart)
    }

    setInterval(function () { tickAges(); maybeSelectDefault() }, 1000)
    pollLatest()
    connect()
  }

  if (document.readyState === "loading") document.addEventListener("DOMContentLoaded", init)
  else init()
})()
