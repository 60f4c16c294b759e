// Swagger UI over this server's OpenAPI document, started from a file of this origin: the page's
// Content-Security-Policy runs no inline script. Its validator badge would come from another
// host, and a key typed into "Authorize" is kept by no storage.
SwaggerUIBundle({
  url: "/openapi.json",
  dom_id: "#swagger-ui",
  layout: "BaseLayout",
  deepLinking: true,
  showExtensions: true,
  showCommonExtensions: true,
  validatorUrl: null,
  persistAuthorization: false,
  presets: [SwaggerUIBundle.presets.apis, SwaggerUIBundle.SwaggerUIStandalonePreset],
});
