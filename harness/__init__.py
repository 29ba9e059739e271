"""Starting what tests and benchmarks run against: parta servers, Redis, PostgreSQL, nginx."""
