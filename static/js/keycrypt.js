/* CrewBuilder keycrypt: encrypt a provider key in the browser before it is submitted.
 *
 * The page embeds the server's RSA-OAEP-256 public key as a JWK (<script id="keycrypt-jwk">).
 * On submit, every <input data-keycrypt> in a form is replaced by
 *   cbenc1.<kid>.<RSA-OAEP(aesKey)>.<iv>.<AES-256-GCM(key, aad="crewbuilder/transport/v1|kid=<kid>")>
 * (base64url parts). Hybrid encryption, so long keys fit. Without JavaScript (or WebCrypto)
 * the form posts the key as typed, over HTTPS, and the server accepts either.
 */
(function (root) {
  "use strict";
  var PREFIX = "cbenc1.";

  function b64url(bytes) {
    var bin = "";
    var view = new Uint8Array(bytes);
    for (var i = 0; i < view.length; i++) bin += String.fromCharCode(view[i]);
    return btoa(bin).replace(/\+/g, "-").replace(/\//g, "_").replace(/=+$/, "");
  }

  async function encryptKey(value, jwk, subtle) {
    subtle = subtle || root.crypto.subtle;
    var publicKey = await subtle.importKey(
      "jwk", { kty: jwk.kty, n: jwk.n, e: jwk.e, alg: "RSA-OAEP-256", ext: true },
      { name: "RSA-OAEP", hash: "SHA-256" }, false, ["encrypt"]
    );
    var aesKey = await subtle.generateKey({ name: "AES-GCM", length: 256 }, true, ["encrypt"]);
    var iv = root.crypto.getRandomValues(new Uint8Array(12));
    var enc = new TextEncoder();
    var ciphertext = await subtle.encrypt(
      { name: "AES-GCM", iv: iv, additionalData: enc.encode("crewbuilder/transport/v1|kid=" + jwk.kid) },
      aesKey, enc.encode(value)
    );
    var rawAes = await subtle.exportKey("raw", aesKey);
    var wrapped = await subtle.encrypt({ name: "RSA-OAEP" }, publicKey, rawAes);
    return PREFIX + [jwk.kid, b64url(wrapped), b64url(iv), b64url(ciphertext)].join(".");
  }

  function install(doc) {
    var holder = doc.getElementById("keycrypt-jwk");
    if (!holder || !(root.crypto && root.crypto.subtle)) return; // plain post still works
    var jwk = JSON.parse(holder.textContent);
    doc.addEventListener("submit", function (event) {
      var form = event.target;
      var fields = form.querySelectorAll("input[data-keycrypt]");
      if (!fields.length || form.dataset.keycryptDone === "1") return;
      var pending = [];
      fields.forEach(function (field) {
        if (field.value && field.value.indexOf(PREFIX) !== 0) pending.push(field);
      });
      if (!pending.length) return;
      event.preventDefault();
      Promise.all(pending.map(function (field) {
        return encryptKey(field.value.trim(), jwk).then(function (sealed) {
          // Swap the visible field for a hidden one so the typed key is not resubmitted.
          var hidden = doc.createElement("input");
          hidden.type = "hidden";
          hidden.name = field.name;
          hidden.value = sealed;
          field.removeAttribute("name");
          field.value = "";
          form.appendChild(hidden);
        });
      })).then(function () {
        form.dataset.keycryptDone = "1";
        form.submit();
      }, function () {
        form.submit(); // encryption unavailable: fall back to the plain (TLS) post
      });
    }, true);
  }

  root.CrewBuilderKeycrypt = { encryptKey: encryptKey, PREFIX: PREFIX };
  if (typeof document !== "undefined") {
    if (document.readyState === "loading") {
      document.addEventListener("DOMContentLoaded", function () { install(document); });
    } else {
      install(document);
    }
  }
  if (typeof module !== "undefined" && module.exports) module.exports = root.CrewBuilderKeycrypt;
})(typeof window !== "undefined" ? window : globalThis);
