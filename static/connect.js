// CalendarConnect.open(url): the consent flow of a connect session in a popup (no build step).
//
//   <script src="https://CONNECT-HOST/static/connect.js"></script>
//   CalendarConnect.open(session.url).then(
//     function (result) { /* {calendar_id, state, status} */ },
//     function (error) { /* error.code: a failure code, "popup_blocked" or "popup_closed" */ });
//
// The result page posts its outcome only to the origin of the session's redirect_url (one of the
// project's allowed origins), so call this from a page of that origin. Without a popup (blocked), fall
// back to the redirect flow: location.assign(url).
(function (global) {
  "use strict";

  var MESSAGE_TYPE = "calendar-connect:result";

  function failure(code, message) {
    var error = new Error(message || "Calendar connection failed: " + code);
    error.name = "CalendarConnectError";
    error.code = code;
    return error;
  }

  function open(url, options) {
    options = options || {};
    return new Promise(function (resolve, reject) {
      var serviceOrigin = new URL(url, global.location.href).origin;
      var width = options.width || 520;
      var height = options.height || 680;
      var left = Math.max(0, (global.screenX || 0) + ((global.outerWidth || width) - width) / 2);
      var top = Math.max(0, (global.screenY || 0) + ((global.outerHeight || height) - height) / 2);
      var features = "popup=yes,width=" + width + ",height=" + height + ",left=" + left + ",top=" + top;
      var popup = global.open(url, options.name || "calendar-connect", features);
      if (!popup) {
        reject(failure("popup_blocked", "The browser blocked the popup; open the link instead."));
        return;
      }
      var timer = null;
      function finish() {
        global.removeEventListener("message", onMessage);
        global.clearInterval(timer);
      }
      function onMessage(event) {
        var data = event.data;
        // Only the popup's own result page, from the service's origin, is believed.
        if (event.origin !== serviceOrigin || event.source !== popup) return;
        if (!data || typeof data !== "object" || data.type !== MESSAGE_TYPE) return;
        finish();
        if (data.code || data.status !== "completed") {
          reject(failure(data.code || "connect_failed"));
        } else {
          resolve({ calendar_id: data.calendar_id, state: data.state, status: data.status });
        }
      }
      global.addEventListener("message", onMessage);
      timer = global.setInterval(function () {
        if (popup.closed) {
          global.clearInterval(timer);
          // A result posted just before the popup closed is still on its way: let it win.
          global.setTimeout(function () {
            finish();
            reject(failure("popup_closed", "The popup was closed before the calendar was connected."));
          }, 500);
        }
      }, 400);
    });
  }

  global.CalendarConnect = { open: open };
})(window);
