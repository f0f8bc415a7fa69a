/*! ShopVerse tracker, plain JS. Add to every page:
 *   <script src="/tracker.js" data-endpoint="/v1/events" data-key="WRITE_KEY" data-currency="GBP"></script>
 * or call shopverse.init({endpoint, key, currency}) (window.shopverseSettings is merged in). Then
 * pageView(), viewItemList(name, items), viewItem(item), addToCart(item, qty), removeFromCart(item, qty),
 * viewCart(items), beginCheckout(items, value), purchase({transaction_id, items, value, currency}),
 * identify(userId), flush(); item = {item_id, item_name, item_category, price, quantity}.
 * Events queue in localStorage (a reload loses nothing), go out in batches every flushInterval ms or
 * batchSize events; network errors, 5xx, 429 retry with exponential backoff + jitter; other 4xx are
 * final (a 422 stored the valid ones). On page hide/leave: sendBeacon (text/plain, ?key=), unless the
 * collector is failing (then the queue waits for the next page). anonymous_id is first-party
 * (localStorage, else a cookie); a new session_id (+ session_start) after 30 min idle.
 */
(function (w, d) {
  'use strict';
  if (w.shopverse && w.shopverse.version) return;
  var P = 'shopverse_', SESSION_MS = 30 * 60 * 1000, MAX_QUEUE = 1000;
  var cfg = {endpoint: '/v1/events', key: null, currency: 'GBP', flushInterval: 3000, batchSize: 20,
             maxBatch: 50, retryBaseMs: 1000, retryMaxMs: 30000};
  var queue = [], inflight = [], timer = null, failures = 0, started = false, tag = d.currentScript;

  function store() { try { var s = w.localStorage, k = P + 't'; s.setItem(k, k); s.removeItem(k); return s; } catch (e) { return null; } }
  var ls = store();
  function get(name) {
    if (ls) return ls.getItem(P + name);
    var m = d.cookie.match(new RegExp('(?:^|; )' + P + name + '=([^;]*)'));
    return m ? decodeURIComponent(m[1]) : null;
  }
  function set(name, value) {
    if (ls) try { ls.setItem(P + name, value); } catch (e) { /* storage full: the queue stays in memory */ }
    // a cookie travels with every request: ids only
    else if (name !== 'queue') d.cookie = P + name + '=' + encodeURIComponent(value) + '; path=/; max-age=63072000; SameSite=Lax';
  }
  try { queue = JSON.parse(get('queue') || '[]'); } catch (e) { queue = []; }  // what earlier pages left unsent

  function uuid() {
    var c = w.crypto;
    if (c && c.randomUUID) return c.randomUUID();
    return 'xxxxxxxx-xxxx-4xxx-yxxx-xxxxxxxxxxxx'.replace(/[xy]/g, function (x) {
      var r = c && c.getRandomValues ? c.getRandomValues(new Uint8Array(1))[0] & 15 : Math.random() * 16 | 0;
      return (x === 'x' ? r : r & 3 | 8).toString(16);
    });
  }

  // ISO-8601 in the browser's local time with its offset: 2026-12-04T19:05:00.123+01:00
  function isoLocal(t) {
    function p(n, k) { return String(n).padStart(k || 2, '0'); }
    var off = -t.getTimezoneOffset();
    return t.getFullYear() + '-' + p(t.getMonth() + 1) + '-' + p(t.getDate()) + 'T' + p(t.getHours()) + ':' + p(t.getMinutes()) + ':' +
      p(t.getSeconds()) + '.' + p(t.getMilliseconds(), 3) + (off < 0 ? '-' : '+') + p(Math.floor(Math.abs(off) / 60)) + ':' + p(Math.abs(off) % 60);
  }

  function anonymousId() {
    var id = get('aid');
    if (!id) { id = uuid(); set('aid', id); }
    return id;
  }

  // The session of this event: a new one (and its session_start) after 30 minutes of silence.
  function session(now) {
    var s = null;
    try { s = JSON.parse(get('session') || 'null'); } catch (e) { s = null; }
    var fresh = !s || !s.id || now - s.last > SESSION_MS;
    if (fresh) s = {id: uuid(), last: now};
    s.last = now;
    set('session', JSON.stringify(s));
    return {id: s.id, fresh: fresh};
  }

  function persist() { set('queue', JSON.stringify(inflight.concat(queue))); }

  function build(name, fields) {
    var now = new Date(), s = session(now.getTime()), uid = get('uid');
    var base = {event_id: uuid(), event_name: name, event_time: isoLocal(now), anonymous_id: anonymousId(),
                session_id: s.id, user_id: uid || null, page: w.location.pathname + w.location.search,
                referrer: d.referrer || null, device: /iPad|Tablet/i.test(navigator.userAgent) ? 'tablet' : /Mobi|Android|iPhone/i.test(navigator.userAgent) ? 'mobile' : 'desktop'};
    var q = new URLSearchParams(w.location.search), k;
    ['source', 'medium', 'campaign'].forEach(function (c) { if (q.get('utm_' + c)) base['utm_' + c] = q.get('utm_' + c); });
    for (k in fields) if (fields[k] !== undefined) base[k] = fields[k];
    return {ev: base, fresh: s.fresh};
  }

  function track(name, fields) {
    var b = build(name, fields || {});
    if (b.fresh && name !== 'session_start') {
      var start = build('session_start', {}).ev;
      start.event_time = b.ev.event_time;
      queue.push(start);
    }
    queue.push(b.ev);
    if (queue.length > MAX_QUEUE) queue.splice(0, queue.length - MAX_QUEUE);
    persist();
    if (queue.length >= cfg.batchSize && !failures) flush(); else schedule(cfg.flushInterval);  // no rush past a backoff
    return b.ev.event_id;
  }

  function url() { return cfg.endpoint + (cfg.key ? (cfg.endpoint.indexOf('?') < 0 ? '?' : '&') + 'key=' + encodeURIComponent(cfg.key) : ''); }

  function schedule(ms) { if (!timer) timer = setTimeout(function () { timer = null; flush(); }, ms); }

  function backoff(retryAfter) {
    failures++;
    var cap = Math.min(cfg.retryMaxMs, cfg.retryBaseMs * Math.pow(2, failures - 1));
    var ms = cap / 2 + Math.random() * cap / 2;  // "equal jitter": spread the retries of many browsers
    if (retryAfter) ms = Math.max(ms, retryAfter * 1000);
    clearTimeout(timer); timer = null;
    schedule(ms);
  }

  function flush() {
    if (inflight.length || !queue.length || !started) return;
    clearTimeout(timer); timer = null;
    inflight = queue.splice(0, cfg.maxBatch);
    var batch = inflight;
    function done(sent) {
      if (inflight !== batch) {  // handed over on page hide; the page lived on and the send failed
        if (!sent) { queue = batch.concat(queue); persist(); }
        return;
      }
      inflight = [];
      if (!sent) queue = batch.concat(queue);
      persist();
    }
    fetch(url(), {method: 'POST', body: JSON.stringify(batch), keepalive: true, headers: {'Content-Type': 'application/json'}})
      .then(function (r) {
        if (r.status < 300) { failures = 0; done(true); if (queue.length) schedule(0); return; }
        if (r.status === 429 || r.status >= 500) { done(false); backoff(parseInt(r.headers.get('Retry-After'), 10)); return; }
        // any other 4xx is final: resending the same events cannot succeed (422 stored the valid ones)
        failures = 0; done(true);
        r.text().then(function (t) { console.warn('[shopverse] rejected', r.status, t); });
        if (queue.length) schedule(0);
      }, function () { done(false); backoff(0); });
  }

  // Page hidden or left: hand the queue to sendBeacon, which outlives the page. Not while the
  // collector is failing: a beacon's delivery is never confirmed, so the queue waits in storage.
  function beacon() {
    if (!started || failures || !navigator.sendBeacon) { persist(); return; }
    var rest = [], chunk;
    inflight = [];  // a fetch in flight has keepalive and finishes on its own; the beacon takes the rest
    while ((chunk = queue.splice(0, cfg.maxBatch)).length) {  // 50 events stay under the 64 KB beacon limit
      if (!navigator.sendBeacon(url(), new Blob([JSON.stringify(chunk)], {type: 'text/plain'}))) rest = rest.concat(chunk);
    }
    queue = rest;
    persist();
  }

  function items(list) { return (list || []).map(function (i) { return item(i); }); }
  function item(it, qty) {
    var o = {item_id: String(it.item_id || it.id), item_name: it.item_name || it.name, item_category: it.item_category || it.category,
             price: Number(it.price)}, q = qty !== undefined ? qty : it.quantity;
    if (q !== undefined) o.quantity = Number(q);
    return o;
  }
  function money(name, l, value, extra) {
    var f = {items: l, value: value !== undefined ? value : total(l), currency: cfg.currency}, k;
    for (k in extra) if (extra[k]) f[k] = extra[k];
    return track(name, f);
  }
  function total(list) { return Math.round(list.reduce(function (s, i) { return s + i.price * (i.quantity || 1); }, 0) * 100) / 100; }

  function init(options) {
    var k, o = {};
    if (tag && tag.dataset) for (k in tag.dataset) o[k] = tag.dataset[k];
    var pre = w.shopverseSettings || {};
    for (k in pre) o[k] = pre[k];
    for (k in options || {}) o[k] = options[k];
    for (k in o) if (k in cfg) cfg[k] = typeof cfg[k] === 'number' ? Number(o[k]) : o[k];
    if (!started) {
      started = true;
      w.addEventListener('pagehide', beacon);
      d.addEventListener('visibilitychange', function () { if (d.visibilityState === 'hidden') beacon(); });
      if (queue.length) flush();
    }
    return api;
  }

  var api = {
    version: '1.0.0',
    init: init,
    track: track,
    flush: flush,
    anonymousId: anonymousId,
    identify: function (userId) { if (userId) set('uid', String(userId)); else if (ls) ls.removeItem(P + 'uid'); },
    pageView: function () { return track('page_view', {page_title: d.title}); },
    viewItemList: function (listName, list) { return track('view_item_list', {item_list_name: listName, items: items(list)}); },
    viewItem: function (it) { return money('view_item', [item(it)]); },
    addToCart: function (it, qty) { return money('add_to_cart', [item(it, qty || 1)]); },
    removeFromCart: function (it, qty) { return money('remove_from_cart', [item(it, qty || 1)]); },
    viewCart: function (list) { return money('view_cart', items(list)); },
    beginCheckout: function (list, value) { return money('begin_checkout', items(list), value); },
    purchase: function (p) { return money('purchase', items(p.items), p.value, {transaction_id: String(p.transaction_id), currency: p.currency}); }
  };
  w.shopverse = api;
  if (tag && tag.dataset && tag.dataset.endpoint) init();
})(window, document);
