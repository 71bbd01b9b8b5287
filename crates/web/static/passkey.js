// Passkeys: the browser half of the WebAuthn ceremonies. A form with data-passkey
// ("register", "authenticate" or "signin") starts a ceremony at data-start, runs
// navigator.credentials.create/get, and posts the answer to data-finish; the server
// answers with where to go next, or a message to show. On the sign-in page a passkey is
// also offered in the username field's autofill (conditional UI). Same-origin fetches
// carry Origin and Sec-Fetch-Site, which the CSRF layer checks.
(function () {
  'use strict';
  if (!window.PublicKeyCredential || !navigator.credentials) {
    return;
  }

  function toBytes(b64url) {
    var b64 = b64url.replace(/-/g, '+').replace(/_/g, '/');
    while (b64.length % 4) {
      b64 += '=';
    }
    var bin = atob(b64);
    var out = new Uint8Array(bin.length);
    for (var i = 0; i < bin.length; i++) {
      out[i] = bin.charCodeAt(i);
    }
    return out.buffer;
  }

  function toB64url(buffer) {
    var bytes = new Uint8Array(buffer);
    var bin = '';
    for (var i = 0; i < bytes.length; i++) {
      bin += String.fromCharCode(bytes[i]);
    }
    return btoa(bin).replace(/\+/g, '-').replace(/\//g, '_').replace(/=+$/, '');
  }

  function creationOptions(options) {
    var pk = options.publicKey;
    pk.challenge = toBytes(pk.challenge);
    pk.user.id = toBytes(pk.user.id);
    (pk.excludeCredentials || []).forEach(function (c) { c.id = toBytes(c.id); });
    return { publicKey: pk };
  }

  function requestOptions(options) {
    var pk = options.publicKey;
    pk.challenge = toBytes(pk.challenge);
    (pk.allowCredentials || []).forEach(function (c) { c.id = toBytes(c.id); });
    return { publicKey: pk };
  }

  function registration(cred) {
    return {
      id: cred.id,
      rawId: toB64url(cred.rawId),
      type: cred.type,
      response: {
        attestationObject: toB64url(cred.response.attestationObject),
        clientDataJSON: toB64url(cred.response.clientDataJSON),
        transports: cred.response.getTransports ? cred.response.getTransports() : undefined
      },
      extensions: cred.getClientExtensionResults ? cred.getClientExtensionResults() : {}
    };
  }

  function assertion(cred) {
    var r = cred.response;
    return {
      id: cred.id,
      rawId: toB64url(cred.rawId),
      type: cred.type,
      response: {
        authenticatorData: toB64url(r.authenticatorData),
        clientDataJSON: toB64url(r.clientDataJSON),
        signature: toB64url(r.signature),
        userHandle: r.userHandle ? toB64url(r.userHandle) : null
      },
      extensions: cred.getClientExtensionResults ? cred.getClientExtensionResults() : {}
    };
  }

  function post(url, body) {
    return fetch(url, {
      method: 'POST',
      credentials: 'same-origin',
      headers: { 'Content-Type': 'application/json', 'Accept': 'application/json' },
      body: JSON.stringify(body)
    }).then(function (res) {
      return res.json().catch(function () { return {}; }).then(function (json) {
        if (!res.ok) {
          throw new Error(json.error || 'Something went wrong. Try again.');
        }
        return json;
      });
    });
  }

  function showError(form, message) {
    var box = form.querySelector('[data-passkey-error]');
    if (box) {
      box.textContent = message;
      box.hidden = false;
    }
  }

  // The conditional (autofill) request on the sign-in page, aborted before a button's.
  var pending = null;

  function run(form, conditional) {
    var kind = form.getAttribute('data-passkey');
    var nameInput = form.querySelector('input[name="passkey-name"]');
    var next = form.getAttribute('data-next') || '';
    var token;
    return post(form.getAttribute('data-start'), {}).then(function (started) {
      token = started.token;
      if (kind === 'register') {
        return navigator.credentials.create(creationOptions(started.options)).then(registration);
      }
      var opts = requestOptions(started.options);
      if (conditional) {
        pending = new AbortController();
        opts.mediation = 'conditional';
        opts.signal = pending.signal;
      }
      return navigator.credentials.get(opts).then(assertion);
    }).then(function (credential) {
      return post(form.getAttribute('data-finish'), {
        token: token,
        credential: credential,
        name: nameInput ? nameInput.value : '',
        next: next
      });
    }).then(function (done) {
      window.location.assign(done.redirect || '/');
    });
  }

  function failure(form) {
    return function (e) {
      if (e && e.name === 'AbortError') {
        return;
      }
      var message = e && e.name === 'NotAllowedError'
        ? 'The passkey was not used (cancelled, timed out, or not verified). Try again.'
        : (e && e.message) || 'The passkey could not be used.';
      showError(form, message);
    };
  }

  document.querySelectorAll('form[data-passkey]').forEach(function (form) {
    form.hidden = false;
    form.addEventListener('submit', function (event) {
      event.preventDefault();
      if (pending) {
        pending.abort();
        pending = null;
      }
      run(form, false).catch(failure(form));
    });
  });

  // Conditional UI: offer passkeys in the username field's autofill.
  var signin = document.querySelector('form[data-passkey="signin"]');
  var field = document.querySelector('input[autocomplete~="webauthn"]');
  if (signin && field && PublicKeyCredential.isConditionalMediationAvailable) {
    PublicKeyCredential.isConditionalMediationAvailable().then(function (ok) {
      if (ok) {
        run(signin, true).catch(failure(signin));
      }
    });
  }
})();
