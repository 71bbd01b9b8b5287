// Submits the OAuth form_post response at once (OAuth 2.0 Form Post Response Mode). The
// page works without it: the Continue button submits the same form.
document.getElementById("form-post")?.submit();
