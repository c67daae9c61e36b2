// The API reference: Swagger UI (from npm, copied here by build.mjs) over the document the
// gateway merges from every function, at the API named in ../config.js (the same origin when
// empty). "Authorize" takes an access token from POST /auth/login.
(function () {
  var config = window.STOREFRONT_CONFIG || {};
  var api = (config.apiBaseUrl || '').replace(/\/$/, '');
  window.SwaggerUIBundle({
    url: api + '/openapi.json',
    dom_id: '#docs',
    deepLinking: true,
    tryItOutEnabled: false,
    persistAuthorization: false,
  });
})();
