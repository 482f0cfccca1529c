// ESLint for the browser code in static/ (vendored files are not ours to lint).
// Run by `make check`; the versions are pinned in package.json / package-lock.json.
import js from "@eslint/js";
import globals from "globals";

const browser = {
  ...globals.browser,
  // Vendored libraries loaded by <script> tags (static/vendor/).
  Plotly: "readonly",
  htmx: "readonly",
};

export default [
  { ignores: ["static/vendor/**", "node_modules/**"] },
  js.configs.recommended,
  {
    // static/js/: ES modules (the dashboard).
    files: ["static/js/**/*.js"],
    languageOptions: { ecmaVersion: 2022, sourceType: "module", globals: browser },
  },
  {
    // static/*.js: classic scripts.
    files: ["static/*.js"],
    languageOptions: { ecmaVersion: 2022, sourceType: "script", globals: browser },
  },
  {
    rules: {
      "no-unused-vars": ["error", { args: "after-used", argsIgnorePattern: "^_" }],
      eqeqeq: ["error", "always", { null: "ignore" }],
      "no-var": "error",
      "prefer-const": "error",
    },
  },
];
