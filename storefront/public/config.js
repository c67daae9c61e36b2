// Where the API is. Empty: the same origin that serves these files (the local gateway serves
// both). A static host elsewhere (S3/CloudFront, an nginx pod) writes the API's URL here,
// e.g. "https://api.example.com", and the API must allow this site's origin (CORS).
window.STOREFRONT_CONFIG = { apiBaseUrl: '' };
