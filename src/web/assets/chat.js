// rightsbot web chat: a small enhancement, never a requirement. Without it the form posts and
// the whole conversation comes back as a page. With it, the same form is sent with fetch and
// the new replies are added to the conversation (an aria-live log) without a reload.
// No framework, no third-party code, no storage, no tracking.
(function () {
  'use strict';

  // "Leave this page quickly": replace this page in the history, so Back does not return here.
  var exits = document.querySelectorAll('a[data-exit]');
  Array.prototype.forEach.call(exits, function (link) {
    link.addEventListener('click', function (event) {
      event.preventDefault();
      window.location.replace(link.href);
    });
  });

  var form = document.getElementById('chat');
  var log = document.getElementById('log');
  if (!form || !log || !window.fetch || !window.FormData || !window.URLSearchParams) {
    return;
  }
  var notice = document.getElementById('notice');
  var message = document.getElementById('message');
  var busy = false;

  function field(name) {
    return form.querySelector('input[name="' + name + '"]');
  }

  function show(reply, pressed) {
    if (reply.csrf) {
      field('csrf').value = reply.csrf;
    }
    if (typeof reply.log === 'string') {
      field('log').value = reply.log;
    }
    document.body.classList.toggle('crisis', !!reply.crisis);
    notice.textContent = reply.notice || '';
    if (!reply.html) {
      return;
    }
    if (reply.reset) {
      while (log.firstChild) {
        log.removeChild(log.firstChild);
      }
    }
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
    var latest = document.getElementById('latest');
    if (pressed && latest) {
      // A button was pressed and has gone: move focus to the new reply so the next Tab
      // reaches its buttons.
      latest.focus();
    } else if (latest && latest.scrollIntoView) {
      latest.scrollIntoView({ block: 'start' });
    }
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
        if (!pressed && !reply.notice) {
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
