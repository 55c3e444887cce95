"""The columnar backend: the plan compiled to SQL (sqlglot expression trees), run by DuckDB
in-process over the input files, or rendered for Spark SQL."""
