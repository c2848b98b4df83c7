// rightsbot web chat: a small enhancement, never a requirement. Without it the form posts and
// the whole conversation comes back as a page. With it, the same form is sent with fetch and
// the new replies are added to the conversation (an aria-live log) without a reload; the tab
// keeps the conversation in sessionStorage, so a reload puts it back.
// No framework, no third-party code, no tracking. Nothing leaves the tab but the form itself.
(function () {
  'use strict';

  // sessionStorage keys: one conversation per session (named by the page's token).
  var PREFIX = 'rightsbot:';

  function forgetTab() {
    try {
      for (var i = window.sessionStorage.length - 1; i >= 0; i--) {
        var key = window.sessionStorage.key(i);
        if (key && key.indexOf(PREFIX) === 0) {
          window.sessionStorage.removeItem(key);
        }
      }
    } catch (e) {
      // Storage turned off: there is nothing kept to forget.
    }
  }

  // "Leave this page quickly": forget what this tab kept, tell the server to forget the page
  // it may have left in a cookie (without waiting), and replace this page in the history, so
  // Back does not return here.
  var exits = document.querySelectorAll('a[data-exit]');
  Array.prototype.forEach.call(exits, function (link) {
    link.addEventListener('click', function (event) {
      event.preventDefault();
      forgetTab();
      try {
        if (navigator.sendBeacon) {
          navigator.sendBeacon(link.getAttribute('href'));
        }
      } catch (e) {
        // Leaving matters more than tidying up.
      }
      window.location.replace(link.getAttribute('data-exit') || link.href);
    });
  });

  // Printing a topic shows its folded sections too.
  window.addEventListener('beforeprint', function () {
    Array.prototype.forEach.call(document.querySelectorAll('details'), function (d) {
      d.open = true;
    });
  });

  // The bar with "Get help now" stays at the top of the screen. Its height (more in a crisis,
  // when the banner shows, and on a narrow screen) is given to the stylesheet, so a reply
  // scrolled to always starts below it.
  var bar = document.getElementById('bar');
  function barHeight() {
    return bar ? bar.getBoundingClientRect().height : 0;
  }
  function fitBar() {
    document.documentElement.style.setProperty('--bar', Math.ceil(barHeight()) + 'px');
  }
  fitBar();
  window.addEventListener('resize', fitBar);

  // Brings a reply's first line (its heading) into view just below the bar.
  function reveal(reply) {
    var first = reply.querySelector('h2') || reply.querySelector('p') || reply;
    var margin = 12;
    var top = first.getBoundingClientRect().top + window.pageYOffset - barHeight() - margin;
    window.scrollTo(0, Math.max(0, top));
    // Whatever the layout did meanwhile, the first line must not sit under the bar.
    var overlap = (bar ? bar.getBoundingClientRect().bottom : 0) + margin -
      first.getBoundingClientRect().top;
    if (overlap > 0) {
      window.scrollBy(0, -overlap);
    }
  }

  var form = document.getElementById('chat');
  var log = document.getElementById('log');
  if (!form || !log) {
    return;
  }
  var notice = document.getElementById('notice');
  var message = document.getElementById('message');

  function field(name) {
    return form.querySelector('input[name="' + name + '"]');
  }

  function storageKey() {
    return PREFIX + field('csrf').value;
  }

  function save() {
    try {
      window.sessionStorage.setItem(storageKey(), JSON.stringify({
        html: log.innerHTML,
        log: field('log').value
      }));
    } catch (e) {
      // Storage full or turned off: a reload then shows the menu, as without the script.
    }
  }

  // A plain return visit (a reload, or coming back from another page) shows only the menu:
  // put back the conversation this tab kept for this session, if any.
  function restore() {
    if (log.getAttribute('data-restore') !== '1') {
      return false;
    }
    var kept = null;
    try {
      kept = JSON.parse(window.sessionStorage.getItem(storageKey()) || 'null');
    } catch (e) {
      kept = null;
    }
    if (!kept || typeof kept.html !== 'string' || typeof kept.log !== 'string') {
      return false;
    }
    // The HTML was built and escaped by the server, and kept by this tab only.
    log.innerHTML = kept.html;
    field('log').value = kept.log;
    return true;
  }

  var restored = restore();
  save();
  var latest = document.getElementById('latest');
  if (latest && (restored || window.location.hash === '#latest')) {
    reveal(latest);
  }

  if (!window.fetch || !window.FormData || !window.URLSearchParams) {
    return;
  }
  var busy = false;

  function show(reply, pressed) {
    if (reply.csrf) {
      field('csrf').value = reply.csrf;
    }
    if (typeof reply.log === 'string') {
      field('log').value = reply.log;
    }
    document.body.classList.toggle('crisis', !!reply.crisis);
    fitBar();
    notice.textContent = reply.notice || '';
    if (reply.reset) {
      // Forgotten means forgotten: not even the link this page was opened from comes back.
      var campaign = field('campaign');
      if (campaign) {
        campaign.value = '';
      }
      forgetTab();
      while (log.firstChild) {
        log.removeChild(log.firstChild);
      }
    }
    if (reply.html) {
      // Older replies lose their buttons, as in the page without the script.
      Array.prototype.forEach.call(log.querySelectorAll('.actions'), function (el) {
        el.parentNode.removeChild(el);
      });
      var old = document.getElementById('latest');
      if (old) {
        old.removeAttribute('id');
        old.removeAttribute('tabindex');
      }
      // The HTML is built and escaped by the server, from the same code as the full page.
      log.insertAdjacentHTML('beforeend', reply.html);
      var newest = document.getElementById('latest');
      if (newest) {
        if (pressed) {
          // A button was pressed and has gone: move focus to the new reply so the next Tab
          // reaches its buttons.
          newest.focus({ preventScroll: true });
        }
        reveal(newest);
      }
    }
    save();
  }

  form.addEventListener('submit', function (event) {
    var submitter = event.submitter || null;
    var data;
    try {
      data = submitter ? new FormData(form, submitter) : new FormData(form);
    } catch (e) {
      return; // An older browser: let the form post as it would without the script.
    }
    event.preventDefault();
    if (busy) {
      return;
    }
    busy = true;
    form.setAttribute('aria-busy', 'true');
    var pressed = !!(submitter && submitter.name !== 'send');
    fetch('/chat', {
      method: 'POST',
      body: new URLSearchParams(data),
      headers: { 'Accept': 'application/json' },
      credentials: 'same-origin'
    })
      .then(function (response) {
        return response.json();
      })
      .then(function (reply) {
        show(reply, pressed);
        if (!pressed && reply.html) {
          message.value = '';
        }
      })
      .catch(function () {
        notice.textContent = form.getAttribute('data-problem') || '';
      })
      .then(function () {
        busy = false;
        form.removeAttribute('aria-busy');
      });
  });
})();
