// Swagger UI over the gateway's own document. "Try it out" calls the API on this origin;
// "Authorize" takes an access token from POST /auth/login (kept in this page only).
window.addEventListener("load", () => {
  window.SwaggerUIBundle({
    url: "/openapi.json",
    dom_id: "#api",
    deepLinking: true,
    docExpansion: "none",
    tryItOutEnabled: false,
    persistAuthorization: false,
  });
});
