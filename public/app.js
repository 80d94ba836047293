/* Crypto price pipeline dashboard.
 * Data: /api/latest (initial fill + 10 s poll for cache health), /api/events (SSE ticks, candles, status),
 * /ready (the status bar: each dependency's state), /api/candles/:symbol?fill=true&indicators=true (chart history with
 * its indicator values, requested through htmx when it is loaded, plain fetch otherwise).
 * Everything from the server is inserted with textContent / setAttribute: never as HTML. */
;(function () {
  "use strict"

  var INTERVALS = { "1m": 60, "5m": 300, "15m": 900, "1h": 3600, "1d": 86400 }
  var RANGES = { "2h": 7200, "12h": 43200, "3d": 259200, "30d": 2592000 }
  var WARMUP = 50 // candles fetched before the range, so live SMA 50 / Bollinger values have their whole window
  var MAX_LIMIT = 5000 // the API's own cap
  var POLL_MS = 10000
  var STALE_AFTER_MS = 120000
  var SYMBOL_RE = /^[A-Z0-9]{1,15}$/
  var SOURCE_LABELS = { simulator: "simulated", coingecko: "CoinGecko", replay: "replay" }
  var UP = "#26a69a"
  var DOWN = "#ef5350"
  var FILLED = "#5b6575"

  // price pane series (uPlot data columns): 0 x, 1 open, 2 high, 3 low, 4 close, then the overlays
  var OVERLAYS = [
    { key: "sma20", label: "SMA 20", color: "#f0b90b", cols: ["sma20"] },
    { key: "sma50", label: "SMA 50", color: "#42a5f5", cols: ["sma50"] },
    { key: "ema12", label: "EMA 12", color: "#ce93d8", cols: ["ema12"] },
    { key: "ema26", label: "EMA 26", color: "#ff8a65", cols: ["ema26"] },
    { key: "bb", label: "BB 20/2", color: "#8fa3bf", cols: ["bbUpper", "bbLower"] }
  ]
  var IND_COLS = ["sma20", "sma50", "ema12", "ema26", "bbUpper", "bbLower", "rsi14"]
  var PRICE_COL = { sma20: 5, sma50: 6, ema12: 7, ema26: 8, bbUpper: 9, bbLower: 10 }

  var state = {
    symbol: null,
    interval: "1m",
    range: "2h",
    rows: new Map(), // symbol -> { tr, cells, tick }
    order: [],
    candles: null, // see emptySeries()
    pendingUrl: null, // the candles request whose answer we wait for
    es: null,
    esRetryMs: 1000,
    everOpened: false,
    charts: null, // { price, volume, rsi } uPlot instances
    syncing: false,
    zoomed: false,
    overlays: { sma20: true, sma50: true, ema12: true, ema26: true, bb: true },
    axisSize: 60,
    pendingCandles: [],
    candleRetry: null,
    snapshotSettled: 0, // when the first /api/latest answered (or failed)
    snapshotOk: false,
    lastSourceAt: 0
  }

  var $ = function (id) {
    return document.getElementById(id)
  }
  var els = {}
  var has = function (o, k) {
    return Object.prototype.hasOwnProperty.call(o, k)
  }

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
    return Math.min(12, Math.max(4, 3 - Math.floor(Math.log10(a))))
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

  function fmtBucket(sec, interval) {
    var date = new Date(sec * 1000)
    return interval === "1d"
      ? date.toLocaleDateString()
      : date.toLocaleString([], {
          month: "short",
          day: "numeric",
          hour: "2-digit",
          minute: "2-digit",
          hourCycle: "h23"
        })
  }

  function sourceLabel(src) {
    return has(SOURCE_LABELS, src) ? SOURCE_LABELS[src] : "unknown"
  }

  // ---------- validation of data from the server ----------

  function isNum(v) {
    return typeof v === "number" && isFinite(v)
  }
  function numOrNull(v) {
    return isNum(v) ? v : null
  }

  function asTick(t) {
    if (!t || typeof t !== "object") return null
    if (typeof t.symbol !== "string" || !SYMBOL_RE.test(t.symbol)) return null
    if (!isNum(t.price) || !isNum(t.eventTime)) return null
    return t
  }

  function asCandle(c) {
    if (!c || typeof c !== "object") return null
    if (typeof c.symbol !== "string" || !SYMBOL_RE.test(c.symbol)) return null
    if (!has(INTERVALS, c.interval)) return null
    if (!isNum(c.bucketStart) || !isNum(c.open) || !isNum(c.high) || !isNum(c.low) || !isNum(c.close)) return null
    return c
  }

  // one candle's indicator values from the API ({sma20, sma50, ema12, ema26, rsi14, bollinger}) as flat columns
  function asIndicators(v) {
    var out = { sma20: null, sma50: null, ema12: null, ema26: null, bbUpper: null, bbLower: null, rsi14: null }
    if (!v || typeof v !== "object") return out
    out.sma20 = numOrNull(v.sma20)
    out.sma50 = numOrNull(v.sma50)
    out.ema12 = numOrNull(v.ema12)
    out.ema26 = numOrNull(v.ema26)
    out.rsi14 = numOrNull(v.rsi14)
    if (v.bollinger && typeof v.bollinger === "object") {
      out.bbUpper = numOrNull(v.bollinger.upper)
      out.bbLower = numOrNull(v.bollinger.lower)
    }
    return out
  }

  function parseJson(text) {
    try {
      return JSON.parse(text)
    } catch (e) {
      return null
    }
  }

  // ---------- status bar: stream, dependencies, source ----------

  function setStatus(live) {
    var st = live ? "live" : "reconnecting"
    if (els.status.textContent !== st) els.status.textContent = st
    els.statusPill.setAttribute("data-state", st)
  }

  function setSource(src) {
    var label = sourceLabel(src)
    els.source.textContent = label
    els.source.setAttribute("data-source", has(SOURCE_LABELS, src) ? src : "unknown")
    els.attribution.hidden = src !== "coingecko"
    els.simulatedNote.hidden = src !== "simulator"
    els.replayNote.hidden = src !== "replay"
  }

  function setBanner(down) {
    els.banner.hidden = !down
  }

  var DEP_NAMES = { database: "Database", cache: "Cache", bus: "Bus" }

  // /ready: {status: ready|degraded|unavailable, dependencies: {database, cache, bus?: {kind, state, error?}}}
  function applyReady(body) {
    var deps =
      body && typeof body === "object" && body.dependencies && typeof body.dependencies === "object"
        ? body.dependencies
        : null
    var overall = body && typeof body.status === "string" ? body.status : "unknown"
    els.deps.setAttribute("data-status", /^(ready|degraded|unavailable)$/.test(overall) ? overall : "unknown")
    var items = els.deps.querySelectorAll(".dep[data-dep]")
    for (var i = 0; i < items.length; i++) {
      var item = items[i]
      var name = item.getAttribute("data-dep")
      var d = deps && has(deps, name) ? deps[name] : null
      var st = !deps ? "unknown" : !d ? "absent" : d.state === "up" ? "up" : d.state === "down" ? "down" : "unknown"
      item.setAttribute("data-state", st)
      item.hidden = st === "absent"
      var kind = d && typeof d.kind === "string" ? " (" + d.kind + ")" : ""
      var err = d && typeof d.error === "string" ? ": " + d.error : ""
      item.title = DEP_NAMES[name] + kind + ": " + (st === "absent" ? "not used" : st) + err
    }
  }

  var readyTimer = null
  function pollReady() {
    clearTimeout(readyTimer)
    fetch("/ready", { cache: "no-store", headers: { Accept: "application/json" } })
      .then(function (res) {
        return res.text()
      })
      .then(function (text) {
        applyReady(parseJson(text))
      })
      .catch(function () {
        applyReady(null)
      })
      .then(function () {
        readyTimer = setTimeout(pollReady, POLL_MS)
      })
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
        if (!other || !isNum(other.marketCap) || other.marketCap < marketCap) {
          at = i
          break
        }
      }
    }
    if (at < state.order.length) els.tbody.insertBefore(tr, state.rows.get(state.order[at]).tr)
    else els.tbody.appendChild(tr)

    var row = {
      tr: tr,
      cells: { coin: coin, price: price, change: change, volume: volume, src: srcTag, age: age },
      tick: null
    }
    state.rows.set(symbol, row)
    state.order.splice(at, 0, symbol)
    addSymbolOption(symbol)
    return row
  }

  // the symbol picker lists every symbol of the table, alphabetically
  function addSymbolOption(symbol) {
    var opts = els.symbolPicker.options
    for (var i = 0; i < opts.length; i++) if (opts[i].value === symbol) return
    var opt = document.createElement("option")
    opt.value = symbol
    opt.textContent = symbol
    var before = null
    for (var j = 1; j < opts.length; j++)
      if (opts[j].value > symbol) {
        before = opts[j]
        break
      }
    els.symbolPicker.insertBefore(opt, before)
    if (symbol === state.symbol) els.symbolPicker.value = symbol
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
    c.price.title =
      "Event time " + fmtTime(t.eventTime) + (isNum(t.ingestTime) ? "\nIngested " + fmtTime(t.ingestTime) : "")

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
    state.rows.forEach(function (row) {
      updateAge(row, now)
    })
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
        return res.text().then(function (text) {
          return { status: res.status, body: parseJson(text) }
        })
      })
      .then(function (r) {
        if (r.status === 503) {
          setBanner(true)
          return
        }
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
      .catch(function () {
        /* network error: the SSE indicator already says reconnecting */
      })
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
        // we may have missed updates while away: refresh the snapshot, the chart and the dependencies
        pollLatest()
        loadCandles()
        pollReady()
      }
      state.everOpened = true
    })

    es.addEventListener("error", function () {
      setStatus(false)
      if (es.readyState === EventSource.CLOSED) {
        // the browser gave up (e.g. a non-SSE answer such as a 503 at the connection cap): retry with backoff
        es.close()
        var wait = state.esRetryMs
        state.esRetryMs = Math.min(state.esRetryMs * 2, 30000)
        setTimeout(function () {
          if (state.es === es) connect()
        }, wait)
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
      if (typeof s.source === "string") {
        state.lastSourceAt = Date.now()
        setSource(s.source)
      }
      if (state.everOpened) pollReady()
    })
  }

  // ---------- selection: symbol, interval, range ----------

  function intervalSec() {
    return INTERVALS[state.interval]
  }

  // From the start of the range (aligned to the interval) minus WARMUP candles, filled, with indicator values.
  function candlesUrl() {
    var iv = intervalSec()
    var rangeSec = RANGES[state.range]
    var from = (Math.floor((Date.now() / 1000 - rangeSec) / iv) - WARMUP) * iv
    var limit = Math.min(MAX_LIMIT, Math.ceil(rangeSec / iv) + WARMUP + 2)
    return (
      "/api/candles/" +
      encodeURIComponent(state.symbol) +
      "?interval=" +
      encodeURIComponent(state.interval) +
      "&from=" +
      from * 1000 +
      "&limit=" +
      limit +
      "&fill=true&indicators=true"
    )
  }

  function pressOnly(container, attr, value) {
    var buttons = container.querySelectorAll("button[" + attr + "]")
    for (var i = 0; i < buttons.length; i++) {
      buttons[i].setAttribute("aria-pressed", buttons[i].getAttribute(attr) === value ? "true" : "false")
    }
  }

  function syncSelectionUi() {
    state.rows.forEach(function (row, sym) {
      row.tr.setAttribute("aria-selected", sym === state.symbol ? "true" : "false")
    })
    pressOnly(els.intervals, "data-interval", state.interval)
    pressOnly(els.ranges, "data-range", state.range)
    if (state.symbol) els.symbolPicker.value = state.symbol
    els.chartTitle.textContent = state.symbol ? state.symbol + " · " + state.interval : "Chart"
    els.chartTitle.setAttribute("data-symbol", state.symbol || "")
    els.chartTitle.setAttribute("data-interval", state.interval)
    if (state.symbol) {
      var params = new URLSearchParams(location.search)
      params.set("symbol", state.symbol)
      params.set("interval", state.interval)
      params.set("range", state.range)
      history.replaceState(null, "", "?" + params.toString())
    }
  }

  // A picker's choice (data-pick="symbol" | "interval" | "range"); true when the selection changed.
  function applyPick(elt) {
    var pick = elt.getAttribute("data-pick")
    var changed = false
    if (pick === "symbol") {
      var sym = elt.value
      if (SYMBOL_RE.test(sym) && sym !== state.symbol) {
        state.symbol = sym
        changed = true
      }
    } else if (pick === "interval") {
      var iv = elt.getAttribute("data-interval")
      if (has(INTERVALS, iv) && iv !== state.interval) {
        state.interval = iv
        changed = true
      }
    } else if (pick === "range") {
      var r = elt.getAttribute("data-range")
      if (has(RANGES, r) && r !== state.range) {
        state.range = r
        changed = true
      }
    }
    if (changed) {
      state.pendingCandles = []
      syncSelectionUi()
      updateChartPrice()
    }
    return changed
  }

  function selectSymbol(symbol) {
    if (!symbol) return
    state.symbol = symbol
    state.pendingCandles = []
    syncSelectionUi()
    updateChartPrice()
    loadCandles()
  }

  function showLoading() {
    var cur = state.candles
    if (!cur || cur.symbol !== state.symbol || cur.interval !== state.interval || cur.range !== state.range) {
      setChartState("loading", "Loading " + state.symbol + " · " + state.interval + " · " + state.range + "…")
    }
  }

  // Programmatic loads (row clicks, reconnects, retries) go through htmx too; its htmx:configRequest handler below
  // points every candles request at the current selection.
  function loadCandles() {
    clearTimeout(state.candleRetry)
    if (!state.symbol) return
    if (window.htmx) {
      var p = window.htmx.ajax("GET", "/api/candles", { source: els.chartFrame, swap: "none" })
      if (p && p.catch)
        p.catch(function () {
          /* reported through htmx:afterRequest */
        })
    } else {
      var url = candlesUrl()
      state.pendingUrl = url
      showLoading()
      fetch(url, { headers: { Accept: "application/json" } })
        .then(function (res) {
          return res.text().then(function (text) {
            onCandlesResponse(url, res.status, text)
          })
        })
        .catch(function () {
          onCandlesResponse(url, 0, "")
        })
    }
  }

  function onCandlesResponse(url, status, text) {
    if (url !== state.pendingUrl) return // the answer to an older request
    var body = parseJson(text)
    if (status !== 200 || !body || !Array.isArray(body.candles)) {
      setChartState(
        "error",
        status === 503
          ? "History temporarily unavailable — retrying"
          : "Could not load candles" + (status ? " (HTTP " + status + ")" : "")
      )
      if (status === 503 || status === 0) {
        clearTimeout(state.candleRetry)
        state.candleRetry = setTimeout(loadCandles, 5000)
      }
      return
    }
    if (body.symbol !== state.symbol || body.interval !== state.interval) return // a stale answer
    var cur = emptySeries(state.symbol, state.interval, state.range)
    var inds = Array.isArray(body.indicators) && body.indicators.length === body.candles.length ? body.indicators : null
    var last = -Infinity
    body.candles.forEach(function (raw, i) {
      var c = asCandle(raw)
      if (!c || c.symbol !== cur.symbol || c.interval !== cur.interval || c.bucketStart <= last) return
      last = c.bucketStart
      pushCandle(cur, c, asIndicators(inds ? inds[i] : null))
    })
    state.pendingCandles.forEach(function (c) {
      if (c.symbol === cur.symbol && c.interval === cur.interval) mergeCandle(cur, c)
    })
    state.pendingCandles = []
    state.candles = cur
    renderChart(true)
  }

  // ---------- the series: candles, indicator values, live updates ----------

  function emptySeries(symbol, interval, range) {
    var cur = {
      symbol: symbol,
      interval: interval,
      range: range,
      x: [],
      o: [],
      h: [],
      l: [],
      c: [],
      v: [],
      n: [],
      live: [],
      ind: {}
    }
    IND_COLS.forEach(function (k) {
      cur.ind[k] = []
    })
    return cur
  }

  // x in seconds; n: tick count (0 = a filled bucket); live: values computed here from SSE updates, not read from Postgres
  function pushCandle(cur, c, ind) {
    cur.x.push(c.bucketStart / 1000)
    cur.o.push(c.open)
    cur.h.push(c.high)
    cur.l.push(c.low)
    cur.c.push(c.close)
    cur.v.push(isNum(c.volume) ? c.volume : 0)
    cur.n.push(isNum(c.tickCount) ? c.tickCount : 0)
    cur.live.push(false)
    IND_COLS.forEach(function (k) {
      cur.ind[k].push(ind ? ind[k] : null)
    })
  }

  function dropOldest(cur) {
    ;["x", "o", "h", "l", "c", "v", "n", "live"].forEach(function (k) {
      cur[k].shift()
    })
    IND_COLS.forEach(function (k) {
      cur.ind[k].shift()
    })
  }

  function setCandle(cur, i, c) {
    cur.o[i] = c.open
    cur.h[i] = c.high
    cur.l[i] = c.low
    cur.c[i] = c.close
    cur.v[i] = isNum(c.volume) ? c.volume : 0
    cur.n[i] = isNum(c.tickCount) ? c.tickCount : 0
  }

  // Replace the candle with the same bucket, or append a newer one (filling the buckets in between as the API does).
  // False when nothing changed.
  function mergeCandle(cur, c) {
    var x = c.bucketStart / 1000
    var n = cur.x.length
    var i = n - 1
    while (i >= 0 && cur.x[i] > x) i--
    if (i >= 0 && cur.x[i] === x) {
      var tc = isNum(c.tickCount) ? c.tickCount : 0
      if (tc < cur.n[i]) return false // an older state of this candle than the one we show
      setCandle(cur, i, c)
      liveIndicators(cur, i)
      return true
    }
    if (i !== n - 1) return false // older than the window we hold
    var iv = INTERVALS[cur.interval]
    if (n > 0) {
      var gap = Math.round((x - cur.x[n - 1]) / iv) - 1
      for (var g = 1; g <= gap && g <= 500; g++) {
        var prev = cur.x.length - 1
        var close = cur.c[prev]
        pushCandle(
          cur,
          {
            bucketStart: (cur.x[prev] + iv) * 1000,
            open: close,
            high: close,
            low: close,
            close: close,
            volume: 0,
            tickCount: 0
          },
          null
        )
        IND_COLS.forEach(function (k) {
          cur.ind[k][prev + 1] = cur.ind[k][prev]
        })
      }
    }
    pushCandle(cur, c, null)
    liveIndicators(cur, cur.x.length - 1)
    while (cur.x.length > MAX_LIMIT) dropOldest(cur)
    return true
  }

  function applyCandle(c) {
    var cur = state.candles
    if (!cur || c.symbol !== cur.symbol || c.interval !== cur.interval || cur.range !== state.range) {
      // the history for the new selection is on its way: keep its live updates for when it lands
      if (c.symbol === state.symbol && c.interval === state.interval && state.pendingCandles.length < 1000)
        state.pendingCandles.push(c)
      return
    }
    if (mergeCandle(cur, c)) renderChart(false)
  }

  // -- provisional indicator values of a candle that moved live (SSE), as the processor computes them: over real
  // candles only (a filled bucket is no candle to it), SMA 20/50 and Bollinger 20/2 over the last closes, EMA 12/26
  // from the previous candle's value, Wilder's RSI 14 over the closes we hold. Where we hold too few closes, the
  // previous candle's value is kept.

  function mean(a) {
    var s = 0
    for (var i = 0; i < a.length; i++) s += a[i]
    return s / a.length
  }

  function liveIndicators(cur, i) {
    var closes = []
    var prev = -1
    for (var k = 0; k < i; k++) {
      if (cur.n[k] > 0) {
        closes.push(cur.c[k])
        prev = k
      }
    }
    closes.push(cur.c[i])
    var ind = cur.ind
    var carry = function (col) {
      return prev >= 0 ? ind[col][prev] : null
    }
    var sma = function (p, col) {
      return closes.length >= p ? mean(closes.slice(-p)) : carry(col)
    }
    var ema = function (p, col) {
      var before = carry(col)
      if (before !== null) return (2 / (p + 1)) * cur.c[i] + (1 - 2 / (p + 1)) * before
      if (closes.length < p) return null
      var e = mean(closes.slice(0, p))
      for (var j = p; j < closes.length; j++) e = (2 / (p + 1)) * closes[j] + (1 - 2 / (p + 1)) * e
      return e
    }
    ind.sma20[i] = sma(20, "sma20")
    ind.sma50[i] = sma(50, "sma50")
    ind.ema12[i] = ema(12, "ema12")
    ind.ema26[i] = ema(26, "ema26")
    if (closes.length >= 20) {
      var w = closes.slice(-20)
      var m = mean(w)
      var sd = Math.sqrt(
        mean(
          w.map(function (x) {
            return (x - m) * (x - m)
          })
        )
      )
      ind.bbUpper[i] = m + 2 * sd
      ind.bbLower[i] = m - 2 * sd
    } else {
      ind.bbUpper[i] = carry("bbUpper")
      ind.bbLower[i] = carry("bbLower")
    }
    ind.rsi14[i] = closes.length >= 15 ? rsi(closes, 14) : carry("rsi14")
    cur.live[i] = true
  }

  function rsi(closes, p) {
    var gain = 0,
      loss = 0
    for (var k = 1; k <= p; k++) {
      var ch = closes[k] - closes[k - 1]
      if (ch > 0) gain += ch
      else loss -= ch
    }
    gain /= p
    loss /= p
    for (var j = p + 1; j < closes.length; j++) {
      var d = closes[j] - closes[j - 1]
      gain = (gain * (p - 1) + Math.max(d, 0)) / p
      loss = (loss * (p - 1) + Math.max(-d, 0)) / p
    }
    return loss === 0 ? (gain === 0 ? 50 : 100) : 100 - 100 / (1 + gain / loss)
  }

  // ---------- chart: three synced uPlot panes (price + overlays, volume, RSI) ----------

  // #chart's data-state: loading | ready | empty | error; its data-symbol / data-interval / data-range name what it shows
  function setChartState(st, text) {
    els.chart.setAttribute("data-state", st)
    els.volume.setAttribute("data-state", st)
    els.rsi.setAttribute("data-state", st)
    els.chartFrame.classList.toggle("loading", st === "loading")
    els.chartMessage.textContent = text || ""
    els.chartMessage.hidden = !text
  }

  function updateChartPrice() {
    var row = state.symbol && state.rows.get(state.symbol)
    if (!row || !row.tick) {
      els.chartPrice.textContent = ""
      return
    }
    els.chartPrice.textContent = fmtPrice(row.tick.price)
    els.chartPrice.classList.remove("up", "down")
    if (isNum(row.tick.change24h) && changeDir(row.tick.change24h) !== "flat")
      els.chartPrice.classList.add(changeDir(row.tick.change24h))
  }

  function paneSize(el) {
    return { width: Math.max(200, el.clientWidth), height: Math.max(60, el.clientHeight) }
  }

  // uPlot data per pane, sharing the x column
  function priceData(cur) {
    return [
      cur.x,
      cur.o,
      cur.h,
      cur.l,
      cur.c,
      cur.ind.sma20,
      cur.ind.sma50,
      cur.ind.ema12,
      cur.ind.ema26,
      cur.ind.bbUpper,
      cur.ind.bbLower
    ]
  }
  function volumeData(cur) {
    return [cur.x, cur.v]
  }
  function rsiData(cur) {
    return [cur.x, cur.ind.rsi14]
  }

  // The x range when not zoomed: the chosen range (warm-up candles before it stay off screen, reachable by panning),
  // never less than MIN_SLOTS intervals, ending just after the newest candle, so a fresh start with a few candles
  // still looks like a chart.
  var MIN_SLOTS = 60
  function xWindow() {
    var cur = state.candles
    var iv = cur ? INTERVALS[cur.interval] : 60
    var xs = cur ? cur.x : []
    var n = xs.length
    var max = n ? xs[n - 1] + iv * 1.5 : Date.now() / 1000
    var rangeStart = Date.now() / 1000 - RANGES[cur ? cur.range : state.range]
    var first = n ? Math.max(xs[0], Math.floor(rangeStart / iv) * iv) : max
    var min = Math.min(first - iv * 0.75, max - iv * MIN_SLOTS)
    return [min, max]
  }

  // the whole span the user may pan over: every candle held
  function xBounds() {
    var cur = state.candles
    var iv = cur ? INTERVALS[cur.interval] : 60
    var w = xWindow()
    if (!cur || !cur.x.length) return w
    return [Math.min(w[0], cur.x[0] - iv), w[1]]
  }

  function axisPriceValues(u, splits, axisIdx, space, incr) {
    // as many decimals as the tick step needs: 104,000 for BTC, 0.00002150 for SHIB
    var d = isNum(incr) && incr > 0 ? Math.min(12, Math.max(0, Math.ceil(-Math.log10(incr) - 1e-9))) : 2
    var f = nf(d, d)
    return splits.map(function (v) {
      return v == null ? "" : f.format(v)
    })
  }

  // every pane gets the same right-axis width, so their plot areas line up
  function computeAxisSize(cur) {
    var hi = 0
    for (var i = 0; i < cur.h.length; i++) if (cur.h[i] > hi) hi = cur.h[i]
    return Math.max(44, Math.ceil(fmtPrice(hi || 1).length * 6.6) + 18)
  }

  function drawCandles(u) {
    var cur = state.candles
    if (!cur || !cur.x.length) return
    var xs = cur.x
    var ctx = u.ctx
    var bb = u.bbox
    var pxr = window.devicePixelRatio || 1
    var ivSec = INTERVALS[cur.interval]
    var slot = Math.abs(u.valToPos(ivSec, "x", true) - u.valToPos(0, "x", true))
    var bodyW = Math.max(1 * pxr, Math.min(24 * pxr, Math.floor(slot * 0.7)))
    var wickW = Math.max(1, Math.round(pxr))
    var xMin = u.scales.x.min
    var xMax = u.scales.x.max

    ctx.save()
    ctx.beginPath()
    ctx.rect(bb.left, bb.top, bb.width, bb.height)
    ctx.clip()

    for (var i = 0; i < xs.length; i++) {
      if (xs[i] < xMin - ivSec || xs[i] > xMax + ivSec) continue
      var o = cur.o[i],
        h = cur.h[i],
        l = cur.l[i],
        c = cur.c[i]
      var cx = Math.round(u.valToPos(xs[i], "x", true))
      if (cur.n[i] === 0) {
        // a filled bucket (no trade): a flat grey dash at the carried close
        var yF = Math.round(u.valToPos(c, "y", true))
        ctx.fillStyle = FILLED
        ctx.fillRect(Math.round(cx - bodyW / 2), yF, Math.round(bodyW), wickW)
        continue
      }
      var up = c >= o
      var yO = u.valToPos(o, "y", true)
      var yC = u.valToPos(c, "y", true)
      var yH = u.valToPos(h, "y", true)
      var yL = u.valToPos(l, "y", true)
      ctx.fillStyle = up ? UP : DOWN
      ctx.fillRect(cx - wickW / 2, Math.min(yH, yL), wickW, Math.max(1, Math.abs(yL - yH)))
      var top = Math.min(yO, yC)
      var hgt = Math.max(wickW, Math.abs(yC - yO))
      ctx.fillRect(Math.round(cx - bodyW / 2), Math.round(top), Math.round(bodyW), Math.round(hgt))
    }
    ctx.restore()
  }

  function drawVolume(u) {
    var cur = state.candles
    if (!cur || !cur.x.length) return
    var ctx = u.ctx
    var bb = u.bbox
    var pxr = window.devicePixelRatio || 1
    var ivSec = INTERVALS[cur.interval]
    var slot = Math.abs(u.valToPos(ivSec, "x", true) - u.valToPos(0, "x", true))
    var bodyW = Math.max(1 * pxr, Math.min(24 * pxr, Math.floor(slot * 0.7)))
    var base = u.valToPos(0, "y", true)
    ctx.save()
    ctx.beginPath()
    ctx.rect(bb.left, bb.top, bb.width, bb.height)
    ctx.clip()
    for (var i = 0; i < cur.x.length; i++) {
      var v = cur.v[i]
      if (!(v > 0) || cur.x[i] < u.scales.x.min - ivSec || cur.x[i] > u.scales.x.max + ivSec) continue
      var cx = Math.round(u.valToPos(cur.x[i], "x", true))
      var vy = u.valToPos(v, "y", true)
      ctx.fillStyle = cur.c[i] >= cur.o[i] ? "rgba(38,166,154,0.55)" : "rgba(239,83,80,0.55)"
      ctx.fillRect(Math.round(cx - bodyW / 2), vy, Math.round(bodyW), Math.max(1, base - vy))
    }
    ctx.restore()
  }

  // RSI guides: the 30–70 band and its edges
  function drawRsiGuides(u) {
    var ctx = u.ctx
    var bb = u.bbox
    var y70 = u.valToPos(70, "y", true)
    var y30 = u.valToPos(30, "y", true)
    ctx.save()
    ctx.fillStyle = "rgba(179,157,219,0.07)"
    ctx.fillRect(bb.left, y70, bb.width, y30 - y70)
    ctx.strokeStyle = "rgba(179,157,219,0.35)"
    ctx.lineWidth = 1
    ctx.setLineDash([4, 4])
    ctx.beginPath()
    ctx.moveTo(bb.left, Math.round(y70) + 0.5)
    ctx.lineTo(bb.left + bb.width, Math.round(y70) + 0.5)
    ctx.moveTo(bb.left, Math.round(y30) + 0.5)
    ctx.lineTo(bb.left + bb.width, Math.round(y30) + 0.5)
    ctx.stroke()
    ctx.restore()
  }

  // -- the OHLC readout line above the chart (the hovered candle, else the newest)

  function span(cls, label, value) {
    var s = document.createElement("span")
    if (cls) s.className = cls
    if (label) s.appendChild(document.createTextNode(label + " "))
    var b = document.createElement("b")
    b.textContent = value
    s.appendChild(b)
    return s
  }

  function readout(idx) {
    var cur = state.candles
    els.ohlc.textContent = ""
    if (!cur || !cur.x.length) return
    var i = idx == null || idx < 0 || idx >= cur.x.length ? cur.x.length - 1 : idx
    var o = cur.o[i],
      c = cur.c[i]
    var dir = c >= o ? "up" : "down"
    var t = document.createElement("span")
    t.className = "time"
    t.textContent = fmtBucket(cur.x[i], cur.interval)
    els.ohlc.appendChild(t)
    els.ohlc.appendChild(span(dir, "O", fmtPrice(o)))
    els.ohlc.appendChild(span(dir, "H", fmtPrice(cur.h[i])))
    els.ohlc.appendChild(span(dir, "L", fmtPrice(cur.l[i])))
    els.ohlc.appendChild(span(dir, "C", fmtPrice(c)))
    var ch = span(null, "", fmtChange(o ? ((c - o) / o) * 100 : 0))
    ch.firstChild.className = dir
    els.ohlc.appendChild(ch)
    if (cur.v[i] > 0) els.ohlc.appendChild(span(null, "V", fmtCompact(cur.v[i])))
  }

  // -- the tooltip: OHLC, volume and every indicator of the hovered candle

  function tooltipRow(label, value, cls) {
    var row = document.createElement("div")
    row.className = "tt-row" + (cls ? " " + cls : "")
    var k = document.createElement("span")
    k.textContent = label
    var v = document.createElement("b")
    v.textContent = value
    row.appendChild(k)
    row.appendChild(v)
    return row
  }

  function updateTooltip(u) {
    var cur = state.candles
    var i = u.cursor.idx
    var left = u.cursor.left
    if (!cur || i == null || i < 0 || i >= cur.x.length || left == null || left < 0) {
      els.tooltip.hidden = true
      els.tooltip.removeAttribute("data-idx")
      return
    }
    var tt = els.tooltip
    tt.textContent = ""
    var head = document.createElement("div")
    head.className = "tt-time"
    head.textContent = fmtBucket(cur.x[i], cur.interval) + (cur.n[i] === 0 ? " · no trades" : "")
    tt.appendChild(head)
    var dir = cur.c[i] >= cur.o[i] ? "up" : "down"
    tt.appendChild(tooltipRow("Open", fmtPrice(cur.o[i]), dir))
    tt.appendChild(tooltipRow("High", fmtPrice(cur.h[i]), dir))
    tt.appendChild(tooltipRow("Low", fmtPrice(cur.l[i]), dir))
    tt.appendChild(tooltipRow("Close", fmtPrice(cur.c[i]), dir))
    tt.appendChild(tooltipRow("Change", fmtChange(cur.o[i] ? ((cur.c[i] - cur.o[i]) / cur.o[i]) * 100 : 0), dir))
    tt.appendChild(tooltipRow("Volume", fmtCompact(cur.v[i])))
    var ind = cur.ind
    var f = function (v) {
      return v == null ? "—" : fmtPrice(v)
    }
    tt.appendChild(tooltipRow("SMA 20", f(ind.sma20[i]), "ind sma20"))
    tt.appendChild(tooltipRow("SMA 50", f(ind.sma50[i]), "ind sma50"))
    tt.appendChild(tooltipRow("EMA 12", f(ind.ema12[i]), "ind ema12"))
    tt.appendChild(tooltipRow("EMA 26", f(ind.ema26[i]), "ind ema26"))
    tt.appendChild(
      tooltipRow("BB 20/2", ind.bbUpper[i] == null ? "—" : f(ind.bbLower[i]) + " – " + f(ind.bbUpper[i]), "ind bb")
    )
    tt.appendChild(tooltipRow("RSI 14", ind.rsi14[i] == null ? "—" : nf(1, 1).format(ind.rsi14[i]), "ind rsi"))
    if (cur.live[i]) {
      var note = document.createElement("div")
      note.className = "tt-note"
      note.textContent = "indicators provisional (live)"
      tt.appendChild(note)
    }
    tt.setAttribute("data-idx", String(i))
    tt.hidden = false
    // in the top corner of the price pane away from the cursor, so it never hides the candle it describes
    var frame = els.chartFrame.getBoundingClientRect()
    var over = u.over.getBoundingClientRect()
    var overLeft = over.left - frame.left
    var w = tt.offsetWidth
    var pos = left > over.width / 2 ? overLeft + 8 : overLeft + over.width - w - 8
    tt.style.left = Math.round(Math.max(4, pos)) + "px"
    tt.style.top = Math.round(over.top - frame.top + 8) + "px"
  }

  // -- zoom and pan, kept identical on the three panes

  function eachChart(fn) {
    if (!state.charts) return
    fn(state.charts.price)
    fn(state.charts.volume)
    fn(state.charts.rsi)
  }

  function setView(min, max, zoomed) {
    state.zoomed = zoomed
    els.chart.setAttribute("data-zoomed", zoomed ? "true" : "false")
    state.syncing = true
    try {
      eachChart(function (u) {
        u.setScale("x", { min: min, max: max })
      })
    } finally {
      state.syncing = false
    }
  }

  function resetView() {
    var w = xWindow()
    setView(w[0], w[1], false)
  }

  // factor < 1 zooms in; anchor: the x value that stays put (default: the middle)
  function zoomBy(factor, anchor) {
    if (!state.charts || !state.candles || !state.candles.x.length) return
    var sc = state.charts.price.scales.x
    var min = sc.min,
      max = sc.max
    var spanNow = max - min
    var bounds = xBounds()
    var iv = INTERVALS[state.candles.interval]
    var next = Math.max(iv * 8, spanNow * factor)
    if (next >= bounds[1] - bounds[0]) {
      resetView()
      return
    }
    var a = anchor == null ? min + spanNow / 2 : anchor
    var nmin = a - (a - min) * (next / spanNow)
    var nmax = nmin + next
    if (nmin < bounds[0]) {
      nmax += bounds[0] - nmin
      nmin = bounds[0]
    }
    if (nmax > bounds[1]) {
      nmin -= nmax - bounds[1]
      nmax = bounds[1]
    }
    setView(nmin, nmax, true)
  }

  function panBy(fraction) {
    if (!state.charts || !state.candles || !state.candles.x.length) return
    var sc = state.charts.price.scales.x
    var spanNow = sc.max - sc.min
    var bounds = xBounds()
    var nmin = Math.min(Math.max(sc.min + spanNow * fraction, bounds[0]), bounds[1] - spanNow)
    setView(nmin, nmin + spanNow, true)
  }

  function onWheel(u, ev) {
    if (!state.candles || !state.candles.x.length) return
    ev.preventDefault()
    if (ev.shiftKey || Math.abs(ev.deltaX) > Math.abs(ev.deltaY)) {
      panBy((ev.shiftKey ? ev.deltaY : ev.deltaX) > 0 ? 0.1 : -0.1)
      return
    }
    var rect = u.over.getBoundingClientRect()
    var anchor = u.posToVal(ev.clientX - rect.left, "x")
    zoomBy(ev.deltaY > 0 ? 1.2 : 1 / 1.2, anchor)
  }

  function baseOpts(el, extra) {
    var size = paneSize(el)
    var axis = {
      stroke: "#7d8898",
      font: "11px system-ui, sans-serif",
      grid: { stroke: "rgba(255,255,255,0.06)", width: 1 },
      ticks: { stroke: "rgba(255,255,255,0.12)", width: 1, size: 4 }
    }
    var opts = {
      width: size.width,
      height: size.height,
      legend: { show: false },
      cursor: {
        points: { show: false },
        drag: { x: true, y: false },
        // cursor only: zoom and pan are spread by setView (a synced drag would zoom twice)
        sync: {
          key: "candles",
          scales: ["x", null],
          filters: {
            pub: function (type) {
              return type === "mousemove" || type === "mouseleave" || type === "mouseenter"
            }
          }
        }
      },
      scales: {
        x: {
          time: true,
          range: function (u, min, max) {
            // uPlot auto-ranges x to the data; ours is the chosen range. Any other min/max is a zoom: keep it.
            var xs = state.candles ? state.candles.x : []
            var n = xs.length
            if (min == null || max == null || !n || state.syncing)
              return min == null || max == null || !n ? xWindow() : [min, max]
            if (!state.zoomed) return xWindow()
            return [min, max]
          }
        }
      },
      axes: [
        Object.assign({}, axis, { space: 70 }),
        Object.assign({}, axis, {
          scale: "y",
          side: 1,
          size: function () {
            return state.axisSize
          }
        })
      ],
      hooks: {
        setSelect: [
          function (u) {
            if (u.select.width > 0) {
              var min = u.posToVal(u.select.left, "x")
              var max = u.posToVal(u.select.left + u.select.width, "x")
              u.setSelect({ left: 0, width: 0, top: 0, height: 0 }, false)
              setView(min, max, true)
            }
          }
        ],
        init: [
          function (u) {
            u.over.addEventListener("dblclick", function () {
              resetView()
            })
            u.over.addEventListener(
              "wheel",
              function (ev) {
                onWheel(u, ev)
              },
              { passive: false }
            )
          }
        ]
      }
    }
    // the drag selects; setSelect above applies it to every pane
    opts.cursor.drag.setScale = false
    return extra(opts, axis)
  }

  // one line of time labels: 13:05, or the date where a new day starts (and for daily candles)
  function timeValues(u, splits, axisIdx, space, incr) {
    var prevDay = null
    return splits.map(function (s) {
      if (s == null) return ""
      var d = new Date(s * 1000)
      var day = d.toDateString()
      var dateLabel = d.toLocaleDateString([], { month: "short", day: "numeric" })
      var label =
        incr >= 86400 || (prevDay !== null && day !== prevDay)
          ? dateLabel
          : d.toLocaleTimeString([], { hour: "2-digit", minute: "2-digit", hourCycle: "h23" })
      prevDay = day
      return label
    })
  }

  // the x axis is labelled under the last pane only; the upper panes keep its grid
  function quietXAxis(axis) {
    return Object.assign({}, axis, {
      space: 70,
      size: 4,
      values: function (u, splits) {
        return splits.map(function () {
          return ""
        })
      },
      ticks: { show: false }
    })
  }

  function makeCharts(cur) {
    var U = window.uPlot
    var hidden = {
      paths: function () {
        return null
      },
      points: { show: false }
    }
    var line = function (label, color, dash) {
      return {
        label: label,
        scale: "y",
        stroke: color,
        width: 1.25,
        dash: dash,
        points: { show: false },
        spanGaps: false
      }
    }
    var price = new U(
      baseOpts(els.chart, function (opts, axis) {
        opts.scales.y = {
          auto: true,
          range: function (u, min, max) {
            if (min == null || max == null) return [0, 1]
            var s = max - min || Math.abs(max) * 0.01 || 1
            return [min - s * 0.06, max + s * 0.06]
          }
        }
        opts.axes[0] = quietXAxis(axis)
        opts.axes[1].values = axisPriceValues
        opts.series = [
          {},
          Object.assign({ label: "Open", scale: "y" }, hidden),
          Object.assign({ label: "High", scale: "y" }, hidden),
          Object.assign({ label: "Low", scale: "y" }, hidden),
          Object.assign({ label: "Close", scale: "y" }, hidden),
          line("SMA 20", OVERLAYS[0].color),
          line("SMA 50", OVERLAYS[1].color),
          line("EMA 12", OVERLAYS[2].color, [5, 3]),
          line("EMA 26", OVERLAYS[3].color, [5, 3]),
          line("BB upper", OVERLAYS[4].color, [2, 3]),
          line("BB lower", OVERLAYS[4].color, [2, 3])
        ]
        opts.bands = [{ series: [PRICE_COL.bbUpper, PRICE_COL.bbLower], fill: "rgba(143,163,191,0.09)" }]
        opts.hooks.draw = [drawCandles]
        opts.hooks.setCursor = [
          function (u) {
            readout(u.cursor.idx)
            updateTooltip(u)
          }
        ]
        opts.hooks.setData = [
          function () {
            readout(null)
          }
        ]
        return opts
      }),
      priceData(cur),
      els.chart
    )

    var volume = new U(
      baseOpts(els.volume, function (opts, axis) {
        opts.scales.y = {
          auto: true,
          range: function (u, min, max) {
            return [0, Math.max(1e-12, (max || 0) * 1.1)]
          }
        }
        opts.axes[0] = quietXAxis(axis)
        opts.axes[1].values = function (u, splits) {
          return splits.map(function (v) {
            return v == null ? "" : fmtCompact(v)
          })
        }
        opts.axes[1].space = 24
        opts.series = [{}, Object.assign({ label: "Volume", scale: "y" }, hidden)]
        opts.hooks.draw = [drawVolume]
        return opts
      }),
      volumeData(cur),
      els.volume
    )

    var rsiChart = new U(
      baseOpts(els.rsi, function (opts, axis) {
        opts.axes[0] = Object.assign({}, axis, { space: 70, size: 26, values: timeValues })
        opts.scales.y = {
          auto: false,
          range: function () {
            return [0, 100]
          }
        }
        opts.axes[1].splits = function () {
          return [30, 50, 70]
        }
        opts.axes[1].values = function (u, splits) {
          return splits.map(String)
        }
        opts.series = [
          {},
          { label: "RSI 14", scale: "y", stroke: "#b39ddb", width: 1.25, points: { show: false }, spanGaps: false }
        ]
        opts.hooks.drawAxes = [drawRsiGuides]
        return opts
      }),
      rsiData(cur),
      els.rsi
    )

    state.charts = { price: price, volume: volume, rsi: rsiChart }
    applyOverlays()
  }

  function applyOverlays() {
    var shown = []
    OVERLAYS.forEach(function (ov) {
      var on = !!state.overlays[ov.key]
      if (on) shown.push(ov.key)
      var btn = els.overlays.querySelector('button[data-overlay="' + ov.key + '"]')
      if (btn) btn.setAttribute("aria-pressed", on ? "true" : "false")
      if (!state.charts) return
      ov.cols.forEach(function (col) {
        var idx = PRICE_COL[col]
        if (state.charts.price.series[idx].show !== on) state.charts.price.setSeries(idx, { show: on })
      })
    })
    els.chart.setAttribute("data-overlays", shown.join(" "))
  }

  function countNonNull(a) {
    var n = 0
    for (var i = 0; i < a.length; i++) if (a[i] != null) n++
    return n
  }

  function renderChart(fresh) {
    var cur = state.candles
    if (!cur) return
    var n = cur.x.length
    els.chart.setAttribute("data-symbol", cur.symbol)
    els.chart.setAttribute("data-interval", cur.interval)
    els.chart.setAttribute("data-range", cur.range)
    els.chart.setAttribute("data-candles", String(n))
    // the newest candle, as drawn: it moves with every live update
    els.chart.setAttribute("data-last-bucket", n ? String(cur.x[n - 1] * 1000) : "")
    els.chart.setAttribute("data-last-close", n ? String(cur.c[n - 1]) : "")
    els.chart.setAttribute("data-indicator-points", String(countNonNull(cur.ind.sma20)))
    els.volume.setAttribute(
      "data-points",
      String(
        cur.v.filter(function (v) {
          return v > 0
        }).length
      )
    )
    els.rsi.setAttribute("data-points", String(countNonNull(cur.ind.rsi14)))
    if (!window.uPlot) {
      setChartState("error", "Chart library failed to load")
      return
    }
    setChartState(n ? "ready" : "empty", n ? "" : "No candles yet for " + cur.symbol + " · " + cur.interval)
    state.axisSize = computeAxisSize(cur)
    if (fresh) {
      state.zoomed = false
      els.chart.setAttribute("data-zoomed", "false")
    }
    if (!state.charts) {
      makeCharts(cur)
      return
    }
    // a new series starts at the chosen range; live updates keep a zoom as it is
    var keep = state.zoomed ? [state.charts.price.scales.x.min, state.charts.price.scales.x.max] : null
    state.syncing = !!keep
    try {
      state.charts.price.setData(priceData(cur), true)
      state.charts.volume.setData(volumeData(cur), true)
      state.charts.rsi.setData(rsiData(cur), true)
    } finally {
      state.syncing = false
    }
    if (keep) setView(keep[0], keep[1], true)
    if (!state.charts.price.cursor.left || state.charts.price.cursor.left < 0) readout(null)
  }

  function resizeCharts() {
    if (!state.charts) return
    state.charts.price.setSize(paneSize(els.chart))
    state.charts.volume.setSize(paneSize(els.volume))
    state.charts.rsi.setSize(paneSize(els.rsi))
  }

  // ---------- wiring ----------

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

  function onZoomButton(btn) {
    var what = btn.getAttribute("data-zoom")
    if (what === "in") zoomBy(1 / 1.5)
    else if (what === "out") zoomBy(1.5)
    else if (what === "left") panBy(-0.25)
    else if (what === "right") panBy(0.25)
    else if (what === "reset") resetView()
  }

  function init() {
    els.status = $("status")
    els.statusPill = $("status-pill")
    els.deps = $("deps")
    els.source = $("source")
    els.banner = $("cache-banner")
    els.tbody = $("ticker-body")
    els.symbolPicker = $("symbol-picker")
    els.intervals = $("intervals")
    els.ranges = $("ranges")
    els.overlays = $("overlays")
    els.zoom = $("zoom")
    els.chart = $("chart")
    els.volume = $("chart-volume")
    els.rsi = $("chart-rsi")
    els.tooltip = $("chart-tooltip")
    els.chartTitle = $("chart-title")
    els.chartPrice = $("chart-price")
    els.chartMessage = $("chart-message")
    els.chartFrame = $("chart-frame")
    els.ohlc = $("chart-ohlc")
    els.asof = $("asof")
    els.attribution = $("attribution")
    els.simulatedNote = $("simulated-note")
    els.replayNote = $("replay-note")

    var params = new URLSearchParams(location.search)
    if (has(INTERVALS, params.get("interval"))) state.interval = params.get("interval")
    if (has(RANGES, params.get("range"))) state.range = params.get("range")
    syncSelectionUi()
    setStatus(false)
    applyOverlays()

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

    // Pickers without htmx (it failed to load): apply the choice and fetch ourselves. With htmx, its hx-get sends the
    // request and htmx:configRequest below applies the choice.
    var pickFallback = function (ev) {
      if (window.htmx) return
      var elt = ev.target.closest("[data-pick]")
      if (elt && applyPick(elt)) loadCandles()
    }
    els.intervals.addEventListener("click", pickFallback)
    els.ranges.addEventListener("click", pickFallback)
    els.symbolPicker.addEventListener("change", pickFallback)

    // Every candles request, from a picker's hx-get or from loadCandles: apply the picker's choice, then ask for the
    // current selection (symbol in the path, the range as `from`), filled and with indicator values.
    document.body.addEventListener("htmx:configRequest", function (ev) {
      var d = ev.detail
      if (!d || typeof d.path !== "string" || d.path.indexOf("/api/candles") !== 0) return
      if (d.elt && d.elt.hasAttribute && d.elt.hasAttribute("data-pick")) applyPick(d.elt)
      if (!state.symbol) {
        ev.preventDefault()
        return
      }
      clearTimeout(state.candleRetry)
      d.path = candlesUrl()
      state.pendingUrl = d.path
      showLoading()
    })
    // htmx answers for /api/candles (JSON, hx-swap="none"): render them here
    document.body.addEventListener("htmx:afterRequest", function (ev) {
      var d = ev.detail
      var path = d && d.pathInfo && d.pathInfo.requestPath
      if (!path || path.indexOf("/api/candles/") !== 0 || !d.xhr) return
      onCandlesResponse(path, d.xhr.status, d.xhr.responseText)
    })

    els.overlays.addEventListener("click", function (ev) {
      var btn = ev.target.closest("button[data-overlay]")
      if (!btn) return
      var key = btn.getAttribute("data-overlay")
      if (!has(state.overlays, key)) return
      state.overlays[key] = !state.overlays[key]
      applyOverlays()
    })
    els.zoom.addEventListener("click", function (ev) {
      var btn = ev.target.closest("button[data-zoom]")
      if (btn) onZoomButton(btn)
    })
    els.chartFrame.addEventListener("keydown", function (ev) {
      if (ev.target !== els.chartFrame) return
      var k = ev.key
      if (k === "+" || k === "=") zoomBy(1 / 1.5)
      else if (k === "-" || k === "_") zoomBy(1.5)
      else if (k === "ArrowLeft") panBy(-0.25)
      else if (k === "ArrowRight") panBy(0.25)
      else if (k === "0" || k === "Escape" || k === "Home") resetView()
      else return
      ev.preventDefault()
    })
    els.chartFrame.addEventListener("mouseleave", function () {
      els.tooltip.hidden = true
    })

    if (window.ResizeObserver) {
      new ResizeObserver(resizeCharts).observe(els.chart)
    }

    setInterval(function () {
      tickAges()
      maybeSelectDefault()
    }, 1000)
    pollLatest()
    pollReady()
    connect()
  }

  if (document.readyState === "loading") document.addEventListener("DOMContentLoaded", init)
  else init()
})()
