"""Organizations: the one tenant model of every domain. Users belong to organizations as owner,
admin or member; API keys act for a user within one organization; every domain row is owned by
exactly one organization, and every function callable by end users checks the caller
(``leadledger.org_scope``). Issue 10; docs/decisions.md D45-D49."""
