// Popup mode (see static/connect.js): when the consent flow was opened as a popup, send its outcome to
// the window that opened it and close. The message goes only to the connect session's redirect origin
// (the server puts it in data-target-origin), never to "*": a page of any other origin receives
// nothing. Without an opener (popup blocked, the redirect flow) the page stays as it is.
(function () {
  "use strict";
  var script = document.currentScript;
  var opener = window.opener;
  if (!script || !opener || opener === window) {
    return;
  }
  var data = script.dataset;
  var message = {
    type: "calendar-connect:result",
    status: data.status || null,
    state: data.state || null,
    calendar_id: data.calendarId || null,
    code: data.code || null,
  };
  try {
    opener.postMessage(message, data.targetOrigin);
  } catch (error) {
    return; // an unusable target origin: stay on the page, whose links still work
  }
  window.close();
})();
