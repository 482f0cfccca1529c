"""The HTML pages, one module per page; each page has a JSON twin (`.json`).

Pages take their data as arguments and never import app.web.api (shared logic lives in
app.web or the store).
"""
