/* The ShopVerse demo shop: one small script for every page (body[data-page] says which), the
 * catalogue in catalogue.json, the basket in localStorage. Every page reports to the tracker
 * (/tracker.js, loaded by the page's <script> tag): page views, lists, items, basket changes,
 * checkout and the purchase. No framework, no build step, no external assets. */
(function () {
  'use strict';
  var CART = 'shopverse_demo_cart', LAST_ORDER = 'shopverse_demo_last_order';
  var sv = window.shopverse, main = document.getElementById('main');
  var catalogue, byId = {}, categories = {};

  function esc(s) { return String(s).replace(/[&<>"']/g, function (c) { return '&#' + c.charCodeAt(0) + ';'; }); }
  function money(x) { return '£' + x.toFixed(2); }
  function round2(x) { return Math.round(x * 100) / 100; }
  function param(name) { return new URLSearchParams(location.search).get(name); }

  // A placeholder picture per product: its category's colour, a shape, its initials. Inline SVG.
  function picture(p, size) {
    var c = categories[p.category].colour, initials = p.name.split(/\s+/).slice(0, 2).map(function (w) { return w[0]; }).join('');
    var shapes = {
      circle: '<circle cx="100" cy="90" r="48" fill="#fff" fill-opacity=".85"/>',
      square: '<rect x="55" y="45" width="90" height="90" rx="12" fill="#fff" fill-opacity=".85"/>',
      triangle: '<path d="M100 38 L152 132 L48 132 Z" fill="#fff" fill-opacity=".85"/>',
      diamond: '<path d="M100 36 L154 90 L100 144 L46 90 Z" fill="#fff" fill-opacity=".85"/>',
      ring: '<circle cx="100" cy="90" r="46" fill="none" stroke="#fff" stroke-opacity=".85" stroke-width="18"/>'
    };
    return '<svg class="pic" viewBox="0 0 200 180" width="' + size + '" role="img" aria-label="' + esc(p.name) + '">' +
      '<defs><linearGradient id="g' + p.id + size + '" x1="0" y1="0" x2="1" y2="1"><stop offset="0" stop-color="' + c + '"/>' +
      '<stop offset="1" stop-color="' + c + '" stop-opacity=".55"/></linearGradient></defs>' +
      '<rect width="200" height="180" fill="url(#g' + p.id + size + ')"/>' + shapes[p.shape] +
      '<text x="100" y="100" text-anchor="middle" font-family="Georgia, serif" font-size="30" fill="#1d2433" fill-opacity=".72">' + esc(initials) + '</text></svg>';
  }

  function cart() { try { return JSON.parse(localStorage.getItem(CART) || '[]'); } catch (e) { return []; } }
  function saveCart(lines) { localStorage.setItem(CART, JSON.stringify(lines)); count(); }
  function cartLines() {
    return cart().filter(function (l) { return byId[l.id]; }).map(function (l) {
      var p = byId[l.id];
      return {item_id: p.id, item_name: p.name, item_category: categories[p.category].name, price: p.price, quantity: l.qty};
    });
  }
  function cartTotal(lines) { return round2(lines.reduce(function (s, l) { return s + l.price * l.quantity; }, 0)); }
  function count() {
    document.getElementById('cart-count').textContent = cart().reduce(function (s, l) { return s + l.qty; }, 0);
  }
  function setQty(id, qty) {
    var lines = cart(), line = lines.filter(function (l) { return l.id === id; })[0];
    var before = line ? line.qty : 0, p = byId[id];
    if (qty > 0 && line) line.qty = qty;
    else if (qty > 0) lines.push({id: id, qty: qty});
    else lines = lines.filter(function (l) { return l.id !== id; });
    saveCart(lines);
    if (qty > before) sv.addToCart(item(p), qty - before);
    if (qty < before) sv.removeFromCart(item(p), before - qty);
  }
  function item(p) { return {item_id: p.id, item_name: p.name, item_category: categories[p.category].name, price: p.price}; }

  function card(p) {
    return '<a class="card" href="product.html?id=' + p.id + '" data-product="' + p.id + '">' + picture(p, 200) +
      '<span class="name">' + esc(p.name) + '</span><span class="price">' + money(p.price) + '</span></a>';
  }
  function grid(list) { return '<div class="grid">' + list.map(card).join('') + '</div>'; }

  var pages = {
    index: function () {
      var featured = catalogue.categories.map(function (c) {
        return catalogue.products.filter(function (p) { return p.category === c.slug; })[0];
      });
      main.innerHTML = '<section class="hero"><h1>Good things for the home</h1><p>Thirty well-made pieces in six departments, ' +
        'delivered anywhere in the UK.</p></section><h2>Departments</h2><div class="departments">' +
        catalogue.categories.map(function (c) {
          return '<a class="department" style="--c:' + c.colour + '" href="category.html?c=' + c.slug + '">' + esc(c.name) + '</a>';
        }).join('') + '</div><h2>Featured</h2>' + grid(featured);
      sv.pageView();
      sv.viewItemList('Featured', featured.map(item));
    },
    category: function () {
      var c = categories[param('c')];
      if (!c) return notFound();
      var list = catalogue.products.filter(function (p) { return p.category === c.slug; });
      document.title = c.name + ' · ShopVerse';
      main.innerHTML = '<p class="crumbs"><a href="index.html">Home</a> › ' + esc(c.name) + '</p><h1>' + esc(c.name) + '</h1>' + grid(list);
      sv.pageView();
      sv.viewItemList(c.name, list.map(item));
    },
    product: function () {
      var p = byId[param('id')];
      if (!p) return notFound();
      var c = categories[p.category];
      document.title = p.name + ' · ShopVerse';
      main.innerHTML = '<p class="crumbs"><a href="index.html">Home</a> › <a href="category.html?c=' + c.slug + '">' + esc(c.name) +
        '</a> › ' + esc(p.name) + '</p><div class="product">' + picture(p, 420) + '<div><h1>' + esc(p.name) + '</h1>' +
        '<p class="price big">' + money(p.price) + '</p><p>' + esc(p.description) + '</p>' +
        '<label>Quantity <input id="qty" type="number" min="1" max="20" value="1"></label> ' +
        '<button id="add" class="primary">Add to basket</button><p id="added" class="note" hidden>Added to your basket.</p></div></div>';
      sv.pageView();
      sv.viewItem(item(p));
      document.getElementById('add').onclick = function () {
        var n = Math.max(1, parseInt(document.getElementById('qty').value, 10) || 1);
        var line = cart().filter(function (l) { return l.id === p.id; })[0];
        setQty(p.id, (line ? line.qty : 0) + n);
        document.getElementById('added').hidden = false;
      };
    },
    cart: function () {
      function render() {
        var lines = cartLines();
        main.innerHTML = '<h1>Your basket</h1>' + (lines.length ? '<table class="basket-table"><tr><th></th><th>Item</th><th>Price</th>' +
          '<th>Quantity</th><th>Total</th><th></th></tr>' + lines.map(function (l) {
            return '<tr data-line="' + l.item_id + '"><td>' + picture(byId[l.item_id], 64) + '</td><td><a href="product.html?id=' + l.item_id + '">' +
              esc(l.item_name) + '</a></td><td>' + money(l.price) + '</td><td><input class="qty" type="number" min="0" max="20" value="' +
              l.quantity + '" aria-label="Quantity"></td><td>' + money(round2(l.price * l.quantity)) +
              '</td><td><button class="remove">Remove</button></td></tr>';
          }).join('') + '</table><p class="total">Total <strong id="total">' + money(cartTotal(lines)) + '</strong></p>' +
          '<p class="actions"><a href="index.html">Continue shopping</a> <a id="checkout" class="button primary" href="checkout.html">Checkout</a></p>'
          : '<p>Your basket is empty. <a href="index.html">Start shopping</a>.</p>');
        [].forEach.call(main.querySelectorAll('tr[data-line]'), function (row) {
          var id = row.getAttribute('data-line');
          row.querySelector('.remove').onclick = function () { setQty(id, 0); render(); };
          row.querySelector('.qty').onchange = function () { setQty(id, Math.max(0, parseInt(this.value, 10) || 0)); render(); };
        });
        return lines;
      }
      var lines = render();
      sv.pageView();
      sv.viewCart(lines);
    },
    checkout: function () {
      var lines = cartLines();
      if (!lines.length) { location.replace('cart.html'); return; }
      var total = cartTotal(lines);
      main.innerHTML = '<h1>Checkout</h1><div class="checkout"><form id="order"><label>Full name <input name="name" required value="Alex Shopper"></label>' +
        '<label>Email <input name="email" type="email" required value="alex@example.com"></label>' +
        '<label>Address <input name="address" required value="1 High Street, York"></label>' +
        '<label>Card number <input name="card" required value="4242 4242 4242 4242"></label>' +
        '<button id="place-order" class="primary" type="submit">Pay ' + money(total) + '</button></form><div class="summary"><h2>Order summary</h2>' +
        lines.map(function (l) { return '<p>' + l.quantity + ' × ' + esc(l.item_name) + '<span>' + money(round2(l.price * l.quantity)) + '</span></p>'; }).join('') +
        '<p class="total">Total <strong>' + money(total) + '</strong></p></div></div>';
      sv.pageView();
      sv.beginCheckout(lines, total);
      document.getElementById('order').onsubmit = function (e) {
        e.preventDefault();
        var id = 'SV' + Date.now().toString(36).toUpperCase() + Math.random().toString(36).slice(2, 6).toUpperCase();
        sv.purchase({transaction_id: id, items: lines, value: total, currency: catalogue.currency});
        localStorage.setItem(LAST_ORDER, JSON.stringify({id: id, lines: lines, total: total}));
        saveCart([]);
        location.href = 'thanks.html?order=' + encodeURIComponent(id);
      };
    },
    thanks: function () {
      var order = {};
      try { order = JSON.parse(localStorage.getItem(LAST_ORDER) || '{}'); } catch (e) { order = {}; }
      main.innerHTML = '<section class="hero thanks"><h1>Thank you!</h1><p>Your order <strong id="order-id">' + esc(param('order') || '') +
        '</strong> is confirmed' + (order.total !== undefined ? ': ' + money(order.total) : '') + '.</p>' +
        '<p><a class="button primary" href="index.html">Back to the shop</a></p></section>';
      sv.pageView();
    }
  };

  function notFound() { main.innerHTML = '<h1>Not found</h1><p><a href="index.html">Back to the shop</a></p>'; sv.pageView(); }

  fetch('catalogue.json').then(function (r) { return r.json(); }).then(function (data) {
    catalogue = data;
    data.categories.forEach(function (c) { categories[c.slug] = c; });
    data.products.forEach(function (p) { byId[p.id] = p; });
    document.getElementById('nav').innerHTML = data.categories.map(function (c) {
      return '<a href="category.html?c=' + c.slug + '">' + esc(c.name) + '</a>';
    }).join('');
    count();
    pages[document.body.getAttribute('data-page')]();
    document.body.setAttribute('data-ready', 'true');
  });
})();
