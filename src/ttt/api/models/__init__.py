"""Pydantic response and request models: the API contract (exported as OpenAPI, from which
the dashboard's TypeScript types are generated)."""
