"""The README's ledger schema section, generated from the tables (a test keeps them equal)."""

from __future__ import annotations

from costreport.sources.ledger.lifecycle import LIFECYCLE_SCHEMA
from costreport.sources.ledger.schema import READABLE_VERSIONS, SCHEMA_VERSION, TABLE_COLUMNS


def schema_markdown() -> str:
    """Every table's columns (name, type, unit, meaning) as Markdown."""
    readable = ", ".join(str(v) for v in READABLE_VERSIONS)
    lines = [
        f"Ledger schema, version {SCHEMA_VERSION} (`SCHEMA_VERSION`, in every marker and file; "
        f"a reader reads versions {readable}, filling columns added since with nulls, and "
        "refuses any other):",
        "",
    ]
    for name, columns in TABLE_COLUMNS.items():
        lines += [
            f"**{name}**",
            "",
            "| column | type | unit | meaning |",
            "| --- | --- | --- | --- |",
        ]
        lines += [f"| `{c}` | {t} | {u} | {m} |" for c, t, u, m in columns]
        lines.append("")
    lines += [
        "**lifecycle records** (`_lifecycle/cluster=<id>/date=YYYY-MM-DD/hHH.parquet`, one file "
        "per hour, kept `--ledger-hourly-days`)",
        "",
        "| column | type | unit | meaning |",
        "| --- | --- | --- | --- |",
    ]
    for field in LIFECYCLE_SCHEMA:
        meta = {k.decode(): v.decode() for k, v in (field.metadata or {}).items()}
        unit, meaning = meta.get("unit", ""), meta.get("meaning", "")
        lines.append(f"| `{field.name}` | {field.type} | {unit} | {meaning} |")
    return "\n".join(lines) + "\n"


if __name__ == "__main__":
    print(schema_markdown(), end="")
