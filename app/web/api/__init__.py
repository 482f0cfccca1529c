"""The JSON API: one router module per resource, plus its models, errors and request ids."""
